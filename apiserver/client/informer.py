"""A list-then-watch informer with a local cache, as client-go's reflector + informer do.

Contract of ``Informer(client, path, params, handler)``:

* ``start()`` runs it in its own task (``run()`` is that task's body).  It lists ``path``
  consistently (no ``resourceVersion``; paged by ``page_size``), then watches from the list's
  resourceVersion with ``allowWatchBookmarks=true`` and a random ``timeoutSeconds`` drawn from
  ``timeout_range`` (client-go: 300–600 s).
* ``cache`` maps ``namespace/name`` (``name`` for cluster-scoped objects) to the newest object
  seen.  ``resource_version`` is the last resourceVersion seen (list, event or BOOKMARK).
* ``handler(event_type, obj, old)`` (a function or a coroutine function) is called for every
  change of the cache, in order, with ``event_type`` one of ADDED, MODIFIED, DELETED; ``old``
  is the previous cached object (None for ADDED).  Types describe the cache, not the wire:
  a watch ADDED for a key already cached is delivered as MODIFIED.  Handler exceptions are
  logged and do not stop the informer.
* The first list is delivered as ADDED events; ``synced`` (an ``asyncio.Event``) is set after
  it.  A re-list is diffed against the cache: ADDED for new keys, MODIFIED for a changed
  resourceVersion, DELETED (with the last known object) for keys that vanished in the gap.
* When a watch ends normally it resumes at once from ``resource_version``; when the
  connection fails it resumes after an exponential backoff with jitter (``backoff``: initial
  and maximum seconds).  A 410 (ERROR event or HTTP status) means the history is gone: it
  re-lists.  If ``resource_version`` is already set when it starts (a restarted informer that
  kept its cache), it resumes watching without listing first.
* ``stop()`` cancels the task; ``await close()`` also waits for it to finish.

Standard library only, plus this package (no Django: tests/test_layering.py).
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import random

from apiserver.client.rest import ApiError, AsyncClient
from apiserver.client.watch import watch

log = logging.getLogger("apiserver.client.informer")


def key_of(obj: dict) -> str:
    """The cache key: ``namespace/name``, or ``name`` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name", "")
    return f"{ns}/{name}" if ns else name


def _rv(obj: dict | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


class Informer:
    """See the module docstring."""

    def __init__(self, client: AsyncClient, path: str, params: dict | None = None,
                 handler=None, *, transport: str = "http",
                 timeout_range: tuple[float, float] = (300, 600), page_size: int | None = 500,
                 backoff: tuple[float, float] = (0.5, 30.0), name: str | None = None):
        self.client, self.path, self.params = client, path, dict(params or {})
        self.handler, self.transport = handler, transport
        self.timeout_range, self.page_size, self.backoff = timeout_range, page_size, backoff
        self.name = name or path
        self.cache: dict[str, dict] = {}
        self.resource_version: str | None = None
        self.synced = asyncio.Event()
        self.lists = 0                  # how many (re-)lists ran: for tests and metrics
        self.watches = 0                # how many watch requests were opened
        self.last_error: BaseException | None = None
        self._task: asyncio.Task | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> asyncio.Task:
        """Run in a new task (idempotent while it runs)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer {self.name}")
        return self._task

    def stop(self) -> None:
        """Stop the informer's task; the cache and ``resource_version`` are kept."""
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """``stop()`` and wait until the task has ended (its connection closed)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    def get(self, name: str, namespace: str | None = None) -> dict | None:
        return self.cache.get(f"{namespace}/{name}" if namespace else name)

    # ---- the loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """List, watch, resume, re-list on 410: until cancelled."""
        initial, ceiling = self.backoff
        delay = initial
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self.resource_version is None:
                    await self._list()
                started = loop.time()
                events = await self._watch()
                self.last_error = None
                if events or loop.time() - started > 1.0:
                    delay = initial
                    continue            # a normal end (timeoutSeconds): resume at once
                error: BaseException | None = None   # an empty, instant end: back off
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.status == 410:
                    log.info("informer %s: %s; re-listing", self.name, exc.message)
                    self.resource_version = None
                    self.last_error = exc
                    continue
                error = exc
            except Exception as exc:     # connection dropped, bad JSON, timeouts, ...
                error = exc
            if error is not None:
                self.last_error = error
                log.warning("informer %s: %s: %s; retrying in %.1fs", self.name,
                            type(error).__name__, error, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, ceiling)

    async def _list(self) -> None:
        params = dict(self.params)
        if self.page_size:
            params["limit"] = self.page_size
        result = await self.client.list(self.path, params)
        self.lists += 1
        fresh = {key_of(o): o for o in result.get("items") or ()}
        old_cache = self.cache
        self.cache = dict(old_cache)
        for key, obj in fresh.items():
            old = old_cache.get(key)
            if old is None:
                self.cache[key] = obj
                await self._deliver("ADDED", obj, None)
            elif _rv(old) != _rv(obj):
                self.cache[key] = obj
                await self._deliver("MODIFIED", obj, old)
        for key in [k for k in old_cache if k not in fresh]:
            gone = self.cache.pop(key)
            await self._deliver("DELETED", gone, gone)
        self.resource_version = (result.get("metadata") or {}).get("resourceVersion") or None
        if self.resource_version is None:
            raise ApiError(500, "InvalidResponse", "list has no metadata.resourceVersion", result)
        self.synced.set()

    async def _watch(self) -> int:
        lo, hi = self.timeout_range
        timeout = random.randint(int(lo), int(max(lo, hi)))
        self.watches += 1
        count = 0
        stream = watch(self.client, self.path, self.params, self.resource_version,
                       transport=self.transport, timeout_seconds=timeout,
                       read_timeout=timeout + 30)
        try:
            async for event in stream:
                count += 1
                self._apply_rv(event)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "BOOKMARK":
                    continue
                key = key_of(obj)
                if kind == "DELETED":
                    old = self.cache.pop(key, None)
                    await self._deliver("DELETED", obj, old)
                elif kind in ("ADDED", "MODIFIED"):
                    old = self.cache.get(key)
                    self.cache[key] = obj
                    await self._deliver("MODIFIED" if old is not None else "ADDED", obj, old)
        finally:
            await stream.aclose()
        return count

    def _apply_rv(self, event: dict) -> None:
        rv = _rv(event.get("object"))
        if rv:
            self.resource_version = rv

    async def _deliver(self, kind: str, obj: dict, old: dict | None) -> None:
        if self.handler is None:
            return
        try:
            result = self.handler(kind, obj, old)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("informer %s: handler failed on %s %s", self.name, kind, key_of(obj))
