"""The watch cache under real concurrency.

Promises tested: a write that commits late still reaches every watcher once, in revision
order (the gap k3s-io/kine:pkg/logstructured/sqllog/sql.go has to detect and fill), and a
watcher that never reads is closed instead of stalling the others (upstream force-closes
unresponsive watchers: kubernetes/apiserver:pkg/storage/cacher/cache_watcher.go).

Real writer threads with their own connections (``threaded_db``) and a real event loop
running a ``WatchCache`` whose tailer reads on its own thread: a transaction that commits
late is delivered before the revision after it, registration during a write burst is gap-free
whether history comes from the in-memory buffer or the database, a watcher that never reads
is closed without slowing another one down, and selector edges become ADDED/DELETED.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.db import connection

from apiserver.storage.base import Compacted
from apiserver.storage.sql import SQLStorage
from apiserver.storage.watch_cache import WatchCache
from tests.apiserver.storage.support import other_backends

RES = "things"


def obj(name, **labels):
    return {"metadata": {"name": name, "labels": labels}}


def run(coro, timeout: float = 60):
    """Run one test body on a fresh event loop in this thread."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def in_thread(fn):
    """Run a blocking storage call on a worker thread that closes its connection after."""
    def body():
        try:
            return fn()
        finally:
            connection.close()
    # not asyncio.to_thread: it copies the context, and with it the loop's connection
    return await asyncio.get_running_loop().run_in_executor(None, body)


# every storage of these tests wakes the same caches, as one server's storage does
SHARED_LISTENERS: list = []


def Storage() -> SQLStorage:
    return SQLStorage(listeners=SHARED_LISTENERS)


async def start_cache(**kw) -> WatchCache:
    cache = WatchCache(Storage(), **kw)
    await cache.start()
    return cache


async def stop_cache(cache: WatchCache) -> None:
    await cache.stop()
    if cache._task is not None:
        try:
            await cache._task
        except asyncio.CancelledError:
            pass
    # the tailer's reader thread keeps its connection (CONN_MAX_AGE=None): close it there
    await asyncio.get_running_loop().run_in_executor(cache.reader, lambda: connection.close())
    cache.reader.shutdown(wait=True)


async def take(w, n: int, timeout: float = 10) -> list:
    """The next ``n`` (type, Event) pairs of a watcher: its replayed backlog first, then the
    live queue.  Stops early at the close marker."""
    out = list(w.backlog)
    w.backlog = []
    while len(out) < n:
        item = await asyncio.wait_for(w.queue.get(), timeout)
        if item is None:
            break
        out.append(item)
    return out


def rvs(items) -> list[int]:
    return [ev.rv for _, ev in items]


def dense(start: int, end: int) -> list[int]:
    return list(range(start + 1, end + 1))


# ---- a late commit -------------------------------------------------------------------------

def test_a_late_commit_is_delivered_before_the_revision_after_it(threaded_db):
    """Writer A takes revision N and holds its transaction open 0.6 s (``before_commit``);
    writer B writes meanwhile.  The cache's watchers get N then N+1, never N+1 alone, and
    nothing at all while A is open."""
    async def body():
        cache = await start_cache(poll_seconds=0.05)       # poll hard: look for N+1 early
        start = cache.rv
        early = await cache.watch(RES, "ns", start)
        a_took = threading.Event()
        hold = {}

        def hook(rv):
            if threading.current_thread().name == "writer-a":
                hold["rv"], hold["at"] = rv, time.monotonic()
                a_took.set()
                time.sleep(0.6)

        storage_a, storage_b = Storage(), Storage()
        storage_a.before_commit = hook
        storage_b.before_commit = hook

        result = {}

        def writer_a():
            threading.current_thread().name = "writer-a"
            try:
                result["a"] = storage_a.create(RES, "ns", "a", obj("a"))[0]
                result["a_done"] = time.monotonic()
            finally:
                threading.current_thread().name = "writer-a-done"

        def writer_b():
            assert a_took.wait(10)
            result["b_began"] = time.monotonic()
            result["b"] = storage_b.create(RES, "ns", "b", obj("b"))[0]
            result["b_done"] = time.monotonic()

        ta = asyncio.ensure_future(in_thread(writer_a))
        tb = asyncio.ensure_future(in_thread(writer_b))
        # while A is open: the cache dispatches nothing, whatever it polls
        while not a_took.is_set():
            await asyncio.sleep(0.005)
        # a watcher registered while A is open, from before A's revision
        during = await cache.watch(RES, "ns", start)
        samples = []
        while True:
            rv, size = cache.rv, early.queue.qsize()
            if time.monotonic() - hold["at"] >= 0.5:      # A commits at 0.6 s
                break
            samples.append((rv, size))
            await asyncio.sleep(0.01)
        await asyncio.gather(ta, tb)
        n = hold["rv"]
        got_early = await take(early, 2)
        got_during = await take(during, 2)
        late = await cache.watch(RES, "ns", start)          # after both: history replay
        got_late = await take(late, 2)
        await stop_cache(cache)
        return start, n, result, samples, got_early, got_during, got_late

    start, n, result, samples, got_early, got_during, got_late = run(body())
    assert n == start + 1 and result["a"] == n
    assert result["b"] == n + 1
    assert result["b_done"] >= result["a_done"] - 0.05     # B committed after A
    assert result["b_done"] - result["b_began"] >= 0.3      # B really waited for A
    assert samples and all(rv == start and size == 0 for rv, size in samples), samples
    for got in (got_early, got_during, got_late):
        assert rvs(got) == [n, n + 1]
        assert [(t, ev.name) for t, ev in got] == [("ADDED", "a"), ("ADDED", "b")]
    assert other_backends() == 0


# ---- registration during a burst ---------------------------------------------------------

@pytest.mark.parametrize("buffer_events", [20_000, 16], ids=["buffer", "database"])
def test_watchers_registered_during_a_burst_see_every_revision_once(threaded_db,
                                                                    buffer_events):
    """Watchers join at random points of a 300-write burst, some from the start (history is
    replayed from the buffer, or from the database when the buffer is too small), some from
    the revision the cache had reached.  Each sees a dense revision range: no gap at the
    replay/live seam, no duplicate."""
    writes = 300

    async def body():
        cache = await start_cache(buffer_events=buffer_events)
        start = cache.rv
        progress = {"done": 0}

        def writer():
            s = Storage()
            last = {}
            for i in range(writes):
                name = f"o{i % 20}"
                if name not in last:
                    last[name] = s.create(RES, "ns", name, obj(name, i=str(i)))[0]
                else:
                    last[name] = s.update(RES, "ns", name, obj(name, i=str(i)), last[name])[0]
                progress["done"] = i + 1

        task = asyncio.ensure_future(in_thread(writer))
        joined = []
        for mark in (20, 80, 150, 220):
            while progress["done"] < mark and not task.done():
                await asyncio.sleep(0.001)
            joined.append((start, await cache.watch(RES, "ns", start)))
            joined.append((cache.rv, await cache.watch(RES, "ns", cache.rv)))
        await task
        end = start + writes
        results = []
        for after, w in joined:
            got = await take(w, end - after)
            results.append((after, got))
        assert await cache.wait_for(end, 5)
        await stop_cache(cache)
        return start, end, results

    start, end, results = run(body())
    for after, got in results:
        assert rvs(got) == dense(after, end), (after, rvs(got)[:5])
    # the watchers from the start saw 20 creates and 280 updates
    first = results[0][1]
    assert sum(t == "ADDED" for t, _ in first) == 20
    assert sum(t == "MODIFIED" for t, _ in first) == writes - 20
    assert other_backends() == 0


# ---- back-pressure ------------------------------------------------------------------------

def test_a_watcher_that_never_reads_is_closed_and_the_others_get_everything(threaded_db):
    total = 60

    async def body():
        cache = await start_cache()
        start = cache.rv
        slow = await cache.watch(RES, "ns", start, queue_size=10)
        fast = await cache.watch(RES, "ns", start)
        received = []

        async def consume():
            while len(received) < total:
                item = await fast.queue.get()
                assert item is not None and not fast.closed, "the reading watcher was closed"
                received.append(item)

        consumer = asyncio.ensure_future(consume())

        def writer():
            s = Storage()
            for i in range(total):
                s.create(RES, "ns", f"o{i}", obj(f"o{i}"))
                time.sleep(0.002)     # a steady stream the reader can keep up with

        await in_thread(writer)
        await asyncio.wait_for(consumer, 10)
        state = (slow.closed, slow.overflowed, fast.closed, fast.overflowed,
                 slow in cache.watchers[RES], fast in cache.watchers[RES])
        queued = []
        while not slow.queue.empty():
            item = slow.queue.get_nowait()
            if item is not None:
                queued.append(item)
        # the slow client resumes from the last revision it got: exactly the rest
        resumed = await cache.watch(RES, "ns", queued[-1][1].rv)
        rest = await take(resumed, total - len(queued))
        more = resumed.queue.qsize()
        await stop_cache(cache)
        return start, state, received, queued, rest, more

    start, state, received, queued, rest, more = run(body())
    assert state == (True, True, False, False, False, True)
    assert rvs(received) == dense(start, start + total)
    assert rvs(queued) == dense(start, start + 10)       # what fit before it was closed
    assert rvs(rest) == dense(start + 10, start + total) and more == 0
    assert other_backends() == 0


# ---- selectors ------------------------------------------------------------------------------

def test_selector_edges_are_added_and_deleted_and_namespaces_are_kept_apart(threaded_db):
    def selected(o):
        return (o["metadata"].get("labels") or {}).get("sel") == "yes"

    async def body():
        cache = await start_cache()
        start = cache.rv
        w = await cache.watch(RES, "ns", start, selected)
        every = await cache.watch(RES, None, start)

        def writer():
            s = Storage()
            rv = s.create(RES, "ns", "x", obj("x", sel="no"))[0]          # outside: nothing
            rv = s.update(RES, "ns", "x", obj("x", sel="yes"), rv)[0]     # enters: ADDED
            rv = s.update(RES, "ns", "x", obj("x", sel="yes", v="2"), rv)[0]  # MODIFIED
            rv = s.update(RES, "ns", "x", obj("x", sel="no"), rv)[0]      # leaves: DELETED
            rv = s.update(RES, "ns", "x", obj("x", sel="no", v="3"), rv)[0]   # nothing
            rv = s.update(RES, "ns", "x", obj("x", sel="yes"), rv)[0]     # ADDED
            s.delete(RES, "ns", "x", rv)                                    # DELETED
            y = s.create(RES, "ns", "y", obj("y", sel="yes"))[0]           # ADDED
            s.delete(RES, "ns", "y", y)                                     # DELETED
            s.create(RES, "other", "z", obj("z", sel="yes"))               # other namespace
            s.create("others", "ns", "q", obj("q", sel="yes"))             # other resource

        await in_thread(writer)
        got_all = await take(every, 10)
        got = await take(w, 7)
        # nothing else arrives for the selector watcher
        extra = await asyncio.wait_for(w.queue.get(), 0.3) if not w.queue.empty() else None
        await stop_cache(cache)
        return start, got, got_all, extra

    start, got, got_all, extra = run(body())
    assert [(t, ev.name, ev.rv - start) for t, ev in got] == [
        ("ADDED", "x", 2), ("MODIFIED", "x", 3), ("DELETED", "x", 4),
        ("ADDED", "x", 6), ("DELETED", "x", 7), ("ADDED", "y", 8), ("DELETED", "y", 9)]
    assert extra is None
    assert rvs(got_all) == dense(start, start + 10)
    assert [ev.namespace for _, ev in got_all][-1] == "other"
    assert other_backends() == 0


# ---- compaction ----------------------------------------------------------------------------

def test_a_watch_from_before_the_compacted_revision_is_refused(threaded_db):
    async def body():
        def writer():
            s = Storage()
            first = s.create(RES, "ns", "a", obj("a"))[0]
            rv = s.update(RES, "ns", "a", obj("a", v="1"), first)[0]
            s.update(RES, "ns", "a", obj("a", v="2"), rv)
            return first, s.compact(-1.0)            # compact everything written so far

        first, compacted = await in_thread(writer)
        cache = await start_cache()                  # its buffer holds nothing older
        with pytest.raises(Compacted) as exc:
            await cache.watch(RES, "ns", first - 1)
        assert cache.count() == 0                    # the refused watcher is not left behind
        ok = await cache.watch(RES, "ns", compacted)     # from the floor itself: fine
        await in_thread(lambda: Storage().create(RES, "ns", "b", obj("b")))
        got = await take(ok, 1)
        await stop_cache(cache)
        return first, compacted, exc.value, got

    first, compacted, exc, got = run(body())
    assert compacted == first + 2
    assert (exc.requested, exc.compacted) == (first - 1, compacted)
    assert rvs(got) == [compacted + 1]
    assert other_backends() == 0


def test_a_tailer_overtaken_by_compaction_closes_its_watchers_and_keeps_going(threaded_db):
    """The tailer falls behind (no wake-ups, slow poll) and compaction removes history it had
    not read yet.  It cannot deliver those events, so its watchers are closed (their clients
    resume and get 410, or replay what is left) — and the cache keeps tailing: it is not stuck
    retrying a read that can never succeed."""
    async def body():
        cache = await start_cache(poll_seconds=30)
        SHARED_LISTENERS.remove(cache._on_local_commit)     # no wake-ups: it lags
        start = cache.rv
        w = await cache.watch(RES, "ns", start)

        def behind():
            s = Storage()
            rv = s.create(RES, "ns", "a", obj("a"))[0]
            s.update(RES, "ns", "a", obj("a", v="1"), rv)
            return s.compact(-1.0)

        compacted = await in_thread(behind)
        cache.poke()
        for _ in range(200):
            if w.closed:
                break
            await asyncio.sleep(0.01)
        closed = w.closed
        # a resume from the last revision the closed watcher had is refused (410)...
        refused = None
        try:
            await cache.watch(RES, "ns", start)
        except Compacted as exc:
            refused = exc
        # ... and a new watch from the compacted floor gets the next write promptly
        fresh = await cache.watch(RES, "ns", compacted)
        rv = await in_thread(lambda: Storage().create(RES, "ns", "b", obj("b"))[0])
        cache.poke()
        got = await take(fresh, 1, timeout=5)
        SHARED_LISTENERS.append(cache._on_local_commit)     # stop_cache removes it
        await stop_cache(cache)
        return compacted, closed, refused, rv, got

    compacted, closed, refused, rv, got = run(body())
    assert closed, "the watcher of a tailer that lost history was left open, receiving nothing"
    assert refused is not None and refused.compacted == compacted
    assert rvs(got) == [rv] and rv == compacted + 1
    assert other_backends() == 0


# ---- ending a resource's watches -----------------------------------------------------------

def test_watches_closed_at_a_revision_get_every_event_committed_before_it(threaded_db):
    """A custom resource's watches end when its definition goes; the deletions committed
    before (the cleanup's) still reach them first, though the cache has not read them yet
    when another process's commit (no local wake-up) asks for the end."""
    async def body():
        cache = await start_cache(poll_seconds=30)      # reads only when woken
        start = cache.rv
        w = await cache.watch(RES, "ns", start)
        other = await cache.watch("others", "ns", start)

        def elsewhere():
            s = SQLStorage(listeners=[])                # another process: nobody is woken
            rv = s.create(RES, "ns", "x", obj("x"))[0]
            s.delete(RES, "ns", "x", rv)
            return s.current_revision()

        upto = await in_thread(elsewhere)
        cache.close_watchers(RES, upto)
        got = await take(w, 3)
        closed, other_closed = w.closed, other.closed
        await stop_cache(cache)
        return start, got, closed, other_closed

    start, got, closed, other_closed = run(body())
    assert [(t, ev.name, ev.rv - start) for t, ev in got] == [
        ("ADDED", "x", 1), ("DELETED", "x", 2)]
    assert closed and not other_closed
