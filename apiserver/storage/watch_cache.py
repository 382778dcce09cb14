"""The per-process watch cache: one tailer reads the committed change log in revision order
and fans each event out to this process's watchers, as upstream's cacher fans one storage
watch out to many (kubernetes/apiserver:pkg/storage/cacher/cacher.go, ``dispatchEvents``).

* The log is the truth.  Wake-ups (a local commit, PostgreSQL NOTIFY from another process, a
  periodic poll) only make the tailer read sooner; a lost wake-up costs latency, never an
  event.
* Events stay as the stored JSON text; each is encoded once per wire form and the same bytes
  go to every watcher (``Event.line``).
* A watcher has a bounded queue.  The tailer never waits for a watcher: one whose queue is
  full is closed (its client resumes from the last resourceVersion it saw), so a slow reader
  can neither grow memory nor delay the others.
* A watcher registers before it replays history, and history is read up to the revision the
  cache had reached at registration, so replay and live events meet with no gap or overlap.

Runs on the server's event loop; database reads happen on one dedicated thread (its own
connection).  May import: apiserver.storage, orjson, the standard library.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from concurrent.futures import ThreadPoolExecutor

import orjson
from django.db import close_old_connections

from apiserver.storage.base import ChangeRecord, Compacted

log = logging.getLogger("apiserver.watch")

BATCH = 1000
POLL_SECONDS = 1.0          # a safety net; local commits and NOTIFY wake the tailer at once
BUFFER_EVENTS = 10_000      # recent events kept in memory for cheap resumes (older: the log)
QUEUE_EVENTS = 1_000        # per watcher; a watcher this far behind is closed


class Event:
    """One committed change, shared by every watcher that receives it."""

    __slots__ = ("rv", "type", "resource", "namespace", "name", "doc", "prev", "_obj",
                 "_prev_obj", "_lines")

    def __init__(self, rec: ChangeRecord):
        self.rv, self.type, self.resource = rec.rv, rec.type, rec.resource
        self.namespace, self.name, self.doc, self.prev = rec.namespace, rec.name, rec.doc, rec.prev
        self._obj = self._prev_obj = None
        self._lines: dict = {}

    @property
    def obj(self) -> dict:
        if self._obj is None:
            self._obj = orjson.loads(self.doc)
        return self._obj

    @property
    def prev_obj(self) -> dict | None:
        if self._prev_obj is None and self.prev is not None:
            self._prev_obj = orjson.loads(self.prev)
        return self._prev_obj

    def line(self, event_type: str) -> bytes:
        """``{"type":…,"object":<stored JSON>}`` + newline, built once per type."""
        out = self._lines.get(event_type)
        if out is None:
            out = self._lines[event_type] = (b'{"type":"' + event_type.encode() + b'","object":'
                                             + self.doc.encode() + b"}\n")
        return out


class Watcher:
    """One client's subscription: a resource, an optional namespace, an optional predicate
    over decoded objects, and the revision after which it wants events."""

    def __init__(self, resource: str, namespace: str | None, after: int, predicate=None,
                 queue_size: int = QUEUE_EVENTS):
        self.resource, self.namespace, self.after = resource, namespace, after
        self.predicate = predicate
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=queue_size)
        self.backlog: list = []          # replayed history, delivered before the queue
        self.closed = False
        self.overflowed = False

    def wants(self, ev: Event) -> bool:
        return ev.resource == self.resource and ev.rv > self.after and (
            self.namespace is None or ev.namespace == self.namespace)

    def translate(self, ev: Event) -> str | None:
        """The event type this watcher sees, with upstream's selector transitions (an object
        leaving the selector is DELETED for it, one entering is ADDED), or None."""
        if self.predicate is None:
            return ev.type
        now = self.predicate(ev.obj)
        if ev.type != "MODIFIED":
            return ev.type if now else None
        before = ev.prev_obj is not None and self.predicate(ev.prev_obj)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None

    def replay(self, ev: Event) -> None:
        """History read at registration: kept apart from the bounded live queue, so a resume
        from far back is not mistaken for a slow reader."""
        if self.wants(ev):
            kind = self.translate(ev)
            if kind is not None:
                self.backlog.append((kind, ev))

    def offer(self, ev: Event) -> None:
        """Called by the tailer only; never blocks."""
        if self.closed or not self.wants(ev):
            return
        kind = self.translate(ev)
        if kind is None:
            return
        try:
            self.queue.put_nowait((kind, ev))
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                # the consumer checks `closed` after each item, so it still stops promptly
                pass


class WatchCache:
    def __init__(self, storage, *, poll_seconds: float | None = None,
                 buffer_events: int = BUFFER_EVENTS):
        self.storage = storage
        self.poll_seconds = poll_seconds if poll_seconds is not None else POLL_SECONDS
        self.buffer: collections.deque[Event] = collections.deque(maxlen=buffer_events)
        self.watchers: dict[str, set[Watcher]] = collections.defaultdict(set)
        self.rv = 0                       # the newest revision the cache has dispatched
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake = asyncio.Event()
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watch-cache")
        self._task: asyncio.Task | None = None
        self._progress = asyncio.Condition()
        self._closing: list[tuple[int, str]] = []   # (revision, resource): close once dispatched

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self.loop = asyncio.get_running_loop()
        self.rv = await self._read(self.storage.current_revision)
        self.storage.listeners.append(self._on_local_commit)
        self._task = asyncio.create_task(self._tail(), name="watch-cache-tailer")

    async def stop(self) -> None:
        if self._on_local_commit in self.storage.listeners:
            self.storage.listeners.remove(self._on_local_commit)
        if self._task is not None:
            self._task.cancel()
        for group in self.watchers.values():
            for w in list(group):
                w.close()

    def close_watchers(self, resource: str, after: int = 0) -> None:
        """End every watch of ``resource`` once the cache has dispatched revision ``after``
        (its serving went away or changed: each client re-lists and sees what is served
        now, as upstream's watches end when a custom resource's storage is torn down).
        Waiting for ``after`` keeps the events committed before the change (the cleanup's
        DELETED events) ahead of the end, whichever process noticed the change first.
        Any thread."""
        def close():
            self._closing.append((after, resource))
            self._close_due()
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(close)

    def _close_due(self, read: tuple = ()) -> None:
        """Close the watchers whose end :meth:`close_watchers` deferred, once the cache has
        dispatched their revision, or has finished a read begun after they asked (``read``:
        what was pending then; a revision with no change-log row is then behind it too).
        On the loop."""
        due = [item for item in self._closing if item[0] <= self.rv or item in read]
        if not due:
            self.wake.set()             # read on to the revision they wait for
            return
        self._closing = [item for item in self._closing if item not in due]
        for _, resource in due:
            for w in list(self.watchers.pop(resource, ())):
                w.close()

    def _on_local_commit(self, rv: int) -> None:     # any thread
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake.set)

    def poke(self) -> None:
        """Wake the tailer (NOTIFY listener, tests)."""
        self.wake.set()

    async def _read(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(
            self.reader, lambda: _with_connection(fn, *args, **kwargs))

    # ---- the tailer -----------------------------------------------------------------------
    async def _tail(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            closing = tuple(self._closing)
            try:
                while True:
                    rows = await self._read(self.storage.changes_after, self.rv, BATCH)
                    for rec in rows:
                        self._dispatch(Event(rec))
                    if len(rows) < BATCH:
                        break
                if closing:
                    self._close_due(closing)
            except asyncio.CancelledError:
                raise
            except Compacted as exc:
                self._lost_history(exc.compacted)
            except Exception as exc:  # keep tailing: the next read resumes from self.rv
                log.warning("watch cache read failed: %s", type(exc).__name__)
                await asyncio.sleep(0.2)
            async with self._progress:
                self._progress.notify_all()

    def _dispatch(self, ev: Event) -> None:
        # No await between append and fan-out: registration (also on this loop) sees either
        # both or neither, which is what makes replay + live gap-free.
        self.buffer.append(ev)
        self.rv = ev.rv
        for w in list(self.watchers.get(ev.resource, ())):
            w.offer(ev)
            if w.closed:
                self.watchers[ev.resource].discard(w)
        # decoded objects were only needed to evaluate selectors just now; the buffer keeps
        # the text (a resume re-decodes on demand), so memory stays ~ the documents' size
        ev._obj = ev._prev_obj = None

    def _lost_history(self, compacted: int) -> None:
        """The log was compacted past what the tailer had read (it fell a whole compaction
        window behind): those events are gone, and retrying the read can never succeed.
        Close every watcher (each client resumes from its last resourceVersion and gets 410,
        or replays what is left) and go on from the compacted revision with an empty buffer,
        so that no later registration is served across the hole."""
        log.warning("watch cache fell behind compaction (at %d, compacted %d); closing %d "
                    "watchers", self.rv, compacted, self.count())
        self.buffer.clear()
        self.rv = compacted
        for group in self.watchers.values():
            for w in list(group):
                w.close()
        self.watchers.clear()

    async def wait_for(self, rv: int, timeout: float) -> bool:
        """Wait until the cache has dispatched revision ``rv`` (False on timeout)."""
        if self.rv >= rv:
            return True
        self.wake.set()
        try:
            async with self._progress:
                await asyncio.wait_for(self._progress.wait_for(lambda: self.rv >= rv), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    # ---- watchers -------------------------------------------------------------------------
    async def watch(self, resource: str, namespace: str | None, after: int, predicate=None,
                    queue_size: int = QUEUE_EVENTS) -> Watcher:
        """Subscribe to ``resource`` events with revision > ``after``.  Raises Compacted when
        the history after ``after`` is gone (the caller answers 410)."""
        w = Watcher(resource, namespace, after, predicate, queue_size)
        self.watchers[resource].add(w)
        upto = self.rv                                  # live events start after this
        if after < upto:
            try:
                for ev in await self._history(resource, after, upto):
                    w.replay(ev)
            except BaseException:
                self.unwatch(w)
                raise
        return w

    async def _history(self, resource: str, after: int, upto: int) -> list[Event]:
        oldest = self.buffer[0].rv if self.buffer else upto + 1
        if after >= oldest - 1:
            return [ev for ev in self.buffer if after < ev.rv <= upto and ev.resource == resource]
        events, last = [], after
        while True:
            rows = await self._read(self.storage.changes_after, last, BATCH,
                                    resource=resource, upto=upto)
            events += [Event(r) for r in rows]
            if len(rows) < BATCH:
                return events
            last = rows[-1].rv

    def unwatch(self, w: Watcher) -> None:
        w.close()
        self.watchers.get(w.resource, set()).discard(w)

    def count(self) -> int:
        return sum(len(g) for g in self.watchers.values())

    async def listen_postgres(self, conninfo: str, channel: str) -> None:
        """Wake the tailer on NOTIFY from any process writing to the same database; reconnects
        after errors (a lost notification only delays events until the next poll)."""
        import psycopg
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {channel}")
                    async for _ in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN %s failed (%s); polling until it reconnects", channel,
                            type(exc).__name__)
                await asyncio.sleep(1.0)


def _with_connection(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()
