"""Serving custom resources: the APIExtensionsServer's source of kinds that come and go.

Upstream: kubernetes/apiextensions-apiserver:pkg/apiserver/customresource_handler.go (the
crdHandler serves every Established CustomResourceDefinition, building each version's
storage on first use and dropping it when the definition changes or is deleted) and
customresource_discovery_controller.go (discovery follows the definitions).  Here a
:class:`CustomResourceServing` per APIExtensionsServer (declared with
``Scheme.register_source`` in ``crds/apps.py``) follows the definitions through the
storage change log, like ``rbac/index.py`` follows RBAC objects, and installs each
definition's Strategy classes (``crds.serving_strategy``) into the server with
``install_api_groups``; the generic Store, storage, change log and watch cache then serve
them as any built-in.  Discovery, OpenAPI and routing rebuild from the server indexes.

When it catches up (the source protocol of ``apiserver.server.generic``): every server
process follows on its own, driven by the requests that could depend on a definition —
discovery (``/apis``, ``/apis/<group>[/<version>]`` of a custom group), OpenAPI
(``/openapi/...``) and the resource URLs of any group no built-in kind serves.  Such a
request first applies what is new when

* the process's watch cache delivered a definition event not applied yet (the source
  watches the definitions through it once it runs, like any client: writes of every
  process, within the cache's NOTIFY/poll latency);
* this process committed anything since the last pass (``storage.listeners``) and the
  request is discovery or names a group-version not served yet (a definition created a
  moment ago here is served to the very next request; resource requests of served
  group-versions skip this, so custom resource writes cost no definition reads);
* or the last pass is older than ``poll_seconds`` (the bound before the watch cache runs).

Once the watch cache runs, a definition event it delivers also starts a pass by itself (a
task on the loop awaits them), so a deleted or changed definition stops being served, and
the watches of its resource end (clients re-list, as upstream's end when the storage is torn
down), without waiting for a request.  A pass is one ``changes_after`` read of the
definitions (a full list the first time and after a compaction) and runs on the request
thread pool (``config.executor``), never on the event loop.  There is no thread of its own:
post-start hooks run only in the supervisor under ``--server-processes``, and a pass costs
nothing when nothing changed.

May import: apiserver, crds.serving_strategy.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time

import orjson

from apiserver.runtime.scheme import DuplicateRegistration
from apiserver.storage.base import Compacted

from .serving_strategy import fingerprint, is_established, names_of, strategies_for

log = logging.getLogger(__name__)

CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"
SERVER_NAME = "apiextensions-apiserver"
POLL_SECONDS = 1.0
BATCH = 500


class CustomResourceServing:
    """The custom resources one APIExtensionsServer serves, kept current from storage."""

    name = "crd-serving"

    def __init__(self, server, *, poll_seconds: float = POLL_SECONDS):
        self.server = server
        self.poll_seconds = poll_seconds
        self.storage = server.config.storage_for(CRD_RESOURCE)
        self.installed: dict = {}          # CRD name -> (fingerprint, [strategy classes])
        self._shapes: dict = {}            # CRD name -> its spec and names when installed
        self.cursor: int | None = None     # change-log revision applied up to
        self.applied = 0                   # every commit up to here is reflected
        self.heard = 0                     # the newest commit of this process heard of
        self.last_pass = 0.0               # time.monotonic() of the last pass's end
        self.last_started = 0.0            # … and of its start
        self.passes = 0
        self._lock = threading.Lock()
        self._listening = False
        self._static_groups: frozenset | None = None
        self.served: frozenset = frozenset()   # (group, version) of every installed class
        self.seen = 0                      # the newest definition change the watch delivered
        self._watcher = None               # that watch (apiserver.storage.watch_cache.Watcher)
        self._subscribing = False

    # ---- the source protocol (apiserver.server.generic) --------------------------------
    def ensure_running(self) -> None:
        """Hear of this process's commits (from the first request on), and of every
        definition change once the process's watch cache runs (on the event loop)."""
        if not self._listening:
            with self._lock:
                if not self._listening:
                    self.storage.listeners.append(self._on_commit)
                    self._listening = True
        if self._watcher is None and not self._subscribing:
            self._subscribe()

    # ---- watching the definitions (apiserver.storage.watch_cache) ------------------------
    def _subscribe(self) -> None:
        """Watch the definitions through the process's watch cache, once it runs (it starts
        at the first watch of any client; until then the poll interval bounds the lag).
        Only on the cache's own loop: its queues are that loop's."""
        cache = getattr(self.server.config.cacher, "_cache", None)
        loop = getattr(cache, "loop", None)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if cache is None or loop is not running:
            return
        self._subscribing = True

        async def subscribe():
            try:
                after = cache.rv
                self._watcher = await cache.watch(CRD_RESOURCE, None, after)
                # changes up to the subscription are the log's: one pass covers them
                self.seen = max(self.seen, after)
            except Exception as exc:
                log.warning("%s: cannot watch definitions: %s", self.name, exc)
                return
            finally:
                self._subscribing = False
            await self._follow(self._watcher)
        running.create_task(subscribe())

    async def _follow(self, watcher) -> None:
        """Apply definition events as the watch cache delivers them, not only at the next
        request that could depend on them: a deleted or changed definition then stops being
        served, and its open watches end, at once (upstream's handler follows an
        informer).  Runs on the loop until the watcher closes; each pass on the executor."""
        while True:
            item = await watcher.queue.get()
            if item is None:
                break
            self.seen = max(self.seen, item[1].rv)
            self._drain()
            await self.catch_up()
        if self._watcher is watcher:
            self._watcher = None
            self.seen = max(self.seen, self.applied + 1)

    def _drain(self) -> None:
        """Note the revisions of definition events the watch cache delivered (memory only,
        on the loop).  A closed watcher (overflow, compaction) is replaced next request and
        forces a pass."""
        watcher = self._watcher
        if watcher is None:
            return
        while True:
            try:
                item = watcher.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is None:
                break
            self.seen = max(self.seen, item[1].rv)
        if watcher.closed:          # its end may not have fitted in a full queue
            self._watcher = None
            self.seen = max(self.seen, self.applied + 1)

    def stale(self, scope) -> bool:
        """Memory only: may this request's answer depend on a definition not applied yet?

        Discovery, OpenAPI and a group-version not served yet catch up after any commit of
        this process (it may have been a definition); resource requests of a served
        group-version only every ``poll_seconds`` (a definition's later changes are eventually seen, as
        upstream's informer-fed handler sees them), so custom resource writes do not make
        the next custom resource request read the definitions again."""
        concern = self._concerns(scope)
        if concern is None:
            return False
        self._drain()
        if self.cursor is None or self.seen > self.applied:
            return True
        if self.heard > self.applied and concern not in self.served:
            return True
        return time.monotonic() - self.last_pass > self.poll_seconds

    async def catch_up(self) -> None:
        """Apply what is new, on the request thread pool (bounded by storage latency)."""
        loop = asyncio.get_running_loop()
        asked = time.monotonic()
        try:
            await loop.run_in_executor(self.server.config.executor, self.sync, asked)
        except Exception as exc:      # serve what is known; the next request tries again
            log.error("%s: %s: %s", self.name, type(exc).__name__, exc)

    def close(self) -> None:
        try:
            self.storage.listeners.remove(self._on_commit)
        except ValueError:
            pass
        self._listening = False

    def _on_commit(self, rv: int) -> None:          # any thread; must not block
        if rv > self.heard:
            self.heard = rv

    def _concerns(self, scope):
        """None when no definition can change the answer; else "" for discovery (``/apis``,
        ``/apis/<group>[/<version>]`` of a custom group) and OpenAPI, (group, version) for
        a custom group's resource URL."""
        parts = [p for p in scope.get("path", "").split("/") if p]
        if not parts or parts[0] not in ("apis", "openapi"):
            return None
        if parts[0] == "openapi" or len(parts) == 1:
            return ""
        if parts[1] in self._builtin_groups():
            return None
        return "" if len(parts) <= 3 else (parts[1], parts[2])

    def _builtin_groups(self) -> frozenset:
        """Groups the registered (built-in) kinds serve: no definition can change them."""
        if self._static_groups is None:
            scheme = self.server.config.scheme
            self._static_groups = frozenset(type(s).group for s in scheme.all())
        return self._static_groups

    # ---- following storage --------------------------------------------------------------
    def sync(self, asked: float | None = None) -> int:
        """One pass: apply every definition change since the last (a full list the first
        time and after a compaction).  Returns how many definitions changed serving.
        ``asked`` (a ``time.monotonic()``): skip when a pass that started later has
        covered every commit heard of (concurrent requests share one pass)."""
        with self._lock:
            heard = self.heard
            if asked is not None and self.cursor is not None and self.last_started >= asked \
                    and heard <= self.applied and self.seen <= self.applied:
                return 0
            self.last_started = time.monotonic()
            horizon = self.storage.current_revision()  # committed, so all below is visible
            try:
                changed = self._follow_log()
            except Compacted:
                self.cursor = None
                changed = self._follow_log()
            if changed:
                self._note_served()
            self.applied = max(self.applied, horizon)
            self.last_pass = time.monotonic()
            self.passes += 1
            return changed

    def _follow_log(self) -> int:
        if self.cursor is None:
            page = self.storage.list(CRD_RESOURCE, None)
            wanted = {}
            for doc in page.items:
                obj = orjson.loads(doc)
                wanted[(obj.get("metadata") or {}).get("name", "")] = obj
            changed = sum(self._apply(name, None) for name in list(self.installed)
                          if name not in wanted)
            changed += sum(self._apply(name, obj) for name, obj in wanted.items())
            self.cursor = page.revision
            return changed
        changed = 0
        while True:
            batch = self.storage.changes_after(self.cursor, BATCH, resource=CRD_RESOURCE)
            latest = {}
            for record in batch:        # only each definition's last state matters
                latest[record.name] = None if record.type == "DELETED" else record.doc
            for name, doc in latest.items():
                changed += self._apply(name, orjson.loads(doc) if doc is not None else None)
            if batch:
                self.cursor = batch[-1].rv
            if len(batch) < BATCH:
                return changed

    def _apply(self, name: str, crd: dict | None) -> int:
        """Serve what ``crd`` (None: deleted) declares now; 1 when that changed anything."""
        served = crd is not None and is_established(crd)
        classes = strategies_for(crd) if served else []
        mark = fingerprint(crd) if classes else None
        current = self.installed.get(name)
        if current is not None and current[0] == mark:
            return 0
        if current is None and not classes:
            return 0
        if current is not None:
            self.server.remove_api_groups(current[1])
            del self.installed[name]
            shape = self._shapes.pop(name, None)
            if crd is None or not classes or shape != _shape(crd):
                # upstream tears the storage down (ending its watches) when the definition
                # is gone or its spec or names changed, not when only its deletion began
                self._end_watches(current[1])
        if classes:
            try:
                self.server.install_api_groups(classes)
            except (DuplicateRegistration, ValueError) as exc:
                # a kind or resource another definition (or built-in) serves already:
                # upstream's naming controller would not accept these names
                log.warning("custom resource %s not served: %s", name, exc)
                index = self.server.index
                self.server.remove_api_groups(      # the versions installed before the clash
                    [c for c in classes
                     if type(index.strategy(c.group, c.version, c.plural)) is c])
                return 1
            self.installed[name] = (mark, classes)
            self._shapes[name] = _shape(crd)
        return 1

    def _end_watches(self, classes) -> None:
        """Watches of a definition's resource end when its serving is removed or rebuilt
        (upstream tears the storage down, closing its watches); clients re-list.  They end
        after every event committed so far (the revision the change was read at), so a
        watcher sees the cleanup's deletions before its end."""
        cache = getattr(self.server.config.cacher, "_cache", None)
        if cache is None:
            return
        upto = self.storage.current_revision()
        for resource in {f"{c.plural}.{c.group}" for c in classes}:
            cache.close_watchers(resource, upto)

    def _note_served(self) -> None:
        self.served = frozenset((c.group, c.version) for _, classes in self.installed.values()
                                for c in classes)


def _shape(crd: dict) -> bytes:
    return orjson.dumps({"spec": crd.get("spec"), "names": names_of(crd)},
                        option=orjson.OPT_SORT_KEYS)


def source(server) -> CustomResourceServing:
    """The factory ``crds/apps.py`` registers for the APIExtensionsServer."""
    return CustomResourceServing(server)
