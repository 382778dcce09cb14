"""The garbage collector (kube-controller-manager's "garbagecollector"): deletes objects
whose owners are gone, and carries out Foreground and Orphan deletions.

Upstream: pkg/controller/garbagecollector/garbagecollector.go (``attemptToDeleteItem``,
``classifyReferences``, ``isDangling``, ``processDeletingDependentsItem``,
``attemptToOrphanWorker``), operations.go and patch.go.

* Every resource discovery lists with delete, list and watch (built-ins and custom
  resources; events excepted) is watched by an informer of its own; discovery is read again
  every ``resync_period`` seconds (upstream: 30 s) so new CRDs are watched and removed
  ones dropped.  The informers feed ``garbagecollector_graph.Graph``.
* ``attempt to delete`` (this controller's queue of uids): an object all of whose owners are
  absent — checked with a live GET: 404, or another uid at that name — is deleted
  (Background, or the policy its own GC finalizer asks for); one with a surviving owner only
  loses its references to the absent ones (a JSON merge patch).  An owner being deleted
  in the foreground gets its dependents deleted and, once no dependent with
  ``blockOwnerDeletion`` remains, loses its ``foregroundDeletion`` finalizer.
* ``attempt to orphan`` (a second queue): an owner with the ``orphan`` finalizer has its
  references removed from every dependent, then the finalizer.
* Scopes, as upstream: a namespaced owner is looked up in its dependent's namespace (an
  owner elsewhere is absent); a cluster-scoped dependent naming a namespaced owner is an
  invalid reference that is never resolved — such a dependent is left alone.
"""
from __future__ import annotations

import asyncio
import logging

from apiserver.client import ApiError, Informer

from .base import Controller
from .garbagecollector_discovery import Discovery, Resource, discover
from .garbagecollector_graph import FOREGROUND, ORPHAN, Graph, Identity, Node

log = logging.getLogger(__name__)

RESYNC_PERIOD = 30.0
SYNC_TIMEOUT = 30.0          # how long the first start waits for every monitor to list
CONFLICT_RETRIES = 5


class _InvalidReference(Exception):
    """A cluster-scoped object names a namespaced owner: retrying cannot help."""


class _UnknownKind(Exception):
    """An owner's kind is not (yet) in discovery: wait for the next resync."""


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


class _Orphaner(Controller):
    """The attempt-to-orphan queue and its workers."""

    name = "garbagecollector-orphan"

    def __init__(self, gc: "GarbageCollector"):
        super().__init__()
        self.gc = gc

    async def sync(self, key: str) -> None:
        await self.gc.attempt_to_orphan(key)


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 10                 # upstream --concurrent-gc-syncs is 20; two cores here

    def __init__(self, client, informers, recorder, *, resync_period: float = RESYNC_PERIOD):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.transport = getattr(informers, "transport", "websocket")
        self.resync_period = resync_period
        self.orphaner = _Orphaner(self)
        self.graph = Graph(self.queue.add, self.orphaner.queue.add)
        self.discovery = Discovery((), {})
        self.monitors: dict[str, Informer] = {}
        self.unresolved: set[str] = set()       # uids waiting for an owner kind to appear
        self.running = asyncio.Event()          # set once the workers collect
        self._main: asyncio.Task | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name="garbagecollector")

    async def stop(self) -> None:
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        await super().stop()
        await self.orphaner.stop()
        for inf in self.monitors.values():
            await inf.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.resync_monitors()
                break
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("garbagecollector: discovery failed: %s; retrying", exc)
                await asyncio.sleep(min(self.resync_period, 5.0))
        await self._wait_monitors()
        log.info("garbagecollector: all resource monitors have synced; collecting garbage")
        super().start()
        self.orphaner.start()
        self.running.set()
        while True:
            await asyncio.sleep(self.resync_period)
            try:
                await self.resync_monitors()
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("garbagecollector: discovery failed: %s", exc)

    async def _wait_monitors(self) -> None:
        waits = [inf.wait_synced() for inf in self.monitors.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), SYNC_TIMEOUT)
        except asyncio.TimeoutError:
            late = [p for p, inf in self.monitors.items() if not inf.synced.is_set()]
            log.warning("garbagecollector: monitors not synced yet: %s", ", ".join(late))

    async def resync_monitors(self) -> None:
        """Read discovery; start a monitor per new collectable resource, stop the monitors
        of resources no longer served, and retry the objects whose owner kind was unknown."""
        self.discovery = await discover(self.client)
        wanted = {r.collection(): r for r in self.discovery.watched}
        for path in [p for p in self.monitors if p not in wanted]:
            await self.monitors.pop(path).close()
        added = False
        for path, r in wanted.items():
            if path in self.monitors:
                continue
            self.monitors[path] = Informer(
                self.client, path, transport=self.transport, name=f"garbagecollector {path}",
                handler=lambda event, obj, old, r=r: self.graph.observe(
                    event, obj, old, r.api_version, r.kind))
            self.monitors[path].start()
            added = True
        if added and self.unresolved:
            for uid in self.unresolved:
                self.queue.add(uid)
            self.unresolved.clear()

    # ---- attempt to delete ----------------------------------------------------------------
    async def sync(self, key: str) -> None:
        node = self.graph.nodes.get(key)
        if node is None:
            return                          # gone from the graph since it was queued
        try:
            await self._attempt_to_delete(node)
        except _UnknownKind:
            self.unresolved.add(key)
        except _InvalidReference:
            log.info("garbagecollector: %s is cluster-scoped but names a namespaced owner",
                     _describe(node.identity))

    async def _attempt_to_delete(self, node: Node) -> None:
        if node.being_deleted and not node.deleting_dependents:
            return                          # its deletion is under way already
        ident = node.identity
        r = self._resource(ident.api_version, ident.kind)
        if r.namespaced and not ident.namespace:
            raise _InvalidReference()       # a virtual owner a cluster-scoped object named
        latest = await self._get(r, ident.namespace, ident.name)
        if latest is None or _meta(latest).get("uid") != ident.uid:
            self.graph.virtual_delete(ident)
            return
        if node.deleting_dependents:
            await self._process_deleting_dependents(node)
            return
        refs = _meta(latest).get("ownerReferences") or []
        if not refs:
            return
        solid, dangling, waiting = [], [], []
        for ref in refs:
            gone, owner = await self._dangling(ref, ident)
            if gone:
                dangling.append(ref)
            elif _meta(owner).get("deletionTimestamp") and \
                    FOREGROUND in (_meta(owner).get("finalizers") or ()):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling or waiting:
                # an owner still holds it: only drop the references to absent owners and to
                # owners waiting for their dependents (which would wait for ever otherwise)
                await self._remove_owner_refs(r, ident, {x["uid"] for x in dangling + waiting})
            return
        if waiting and node.dependents:
            if any(self.graph.nodes[d].deleting_dependents for d in node.dependents
                   if d in self.graph.nodes):
                # a cycle is possible: stop blocking our owners before going foreground
                await self._unblock_owner_refs(r, ident)
            await self._delete(r, ident, "Foreground")
            return
        finalizers = _meta(latest).get("finalizers") or ()
        policy = "Orphan" if ORPHAN in finalizers else \
            "Foreground" if FOREGROUND in finalizers else "Background"
        log.info("garbagecollector: deleting %s (propagationPolicy %s)", _describe(ident), policy)
        await self._delete(r, ident, policy)

    async def _dangling(self, ref: dict, dependent: Identity) -> tuple[bool, dict | None]:
        """(absent, owner): ``isDangling``, with the verified-absent cache first."""
        coords = (ref.get("apiVersion", ""), ref.get("kind", ""))
        tail = (ref.get("name", ""), ref.get("uid", ""))
        if (*coords, "", *tail) in self.graph.absent or \
                (*coords, dependent.namespace, *tail) in self.graph.absent:
            return True, None
        r = self._resource(*coords)
        if r.namespaced and not dependent.namespace:
            raise _InvalidReference()
        namespace = dependent.namespace if r.namespaced else ""
        owner = await self._get(r, namespace, tail[0])
        if owner is None or _meta(owner).get("uid") != tail[1]:
            self.graph.mark_absent((*coords, namespace, *tail))
            return True, None
        return False, owner

    async def _process_deleting_dependents(self, node: Node) -> None:
        blocking = node.blocking_dependents(self.graph)
        if not blocking:
            log.info("garbagecollector: removing %s from %s", FOREGROUND, _describe(node.identity))
            await self._remove_finalizer(node.identity, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.queue.add(dep.identity.uid)

    # ---- attempt to orphan ----------------------------------------------------------------
    async def attempt_to_orphan(self, uid: str) -> None:
        owner = self.graph.nodes.get(uid)
        if owner is None:
            return
        for dep_uid in list(owner.dependents):
            dep = self.graph.nodes.get(dep_uid)
            if dep is None:
                continue
            try:
                r = self._resource(dep.identity.api_version, dep.identity.kind)
            except _UnknownKind:
                continue
            await self._remove_owner_refs(r, dep.identity, {uid})
        await self._remove_finalizer(owner.identity, ORPHAN)

    # ---- operations (upstream operations.go) ------------------------------------------------
    def _resource(self, api_version: str, kind: str) -> Resource:
        r = self.discovery.resource_for(api_version, kind)
        if r is None:
            raise _UnknownKind(f"{api_version}, Kind={kind}")
        return r

    async def _get(self, r: Resource, namespace: str, name: str) -> dict | None:
        try:
            return await self.client.get(r.path(namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def _delete(self, r: Resource, ident: Identity, policy: str) -> None:
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy,
                   "preconditions": {"uid": ident.uid}}
        try:
            await self.client.delete(r.path(ident.namespace, ident.name), options)
        except ApiError as exc:
            if exc.status not in (404, 409):     # gone, or another object took the name
                raise

    async def _update_meta(self, r: Resource, ident: Identity, change) -> None:
        """Read, let ``change(metadata)`` return the metadata fields to write (None: nothing
        to do), merge-patch them with the read resourceVersion; again on a conflict."""
        for _ in range(CONFLICT_RETRIES):
            latest = await self._get(r, ident.namespace, ident.name)
            if latest is None or _meta(latest).get("uid") != ident.uid:
                return
            fields = change(_meta(latest))
            if fields is None:
                return
            patch = {"metadata": {**fields, "resourceVersion": _meta(latest)["resourceVersion"]}}
            try:
                await self.client.patch(r.path(ident.namespace, ident.name), patch,
                                        "application/merge-patch+json")
                return
            except ApiError as exc:
                if exc.status == 404:
                    return
                if exc.status != 409:
                    raise
        raise ApiError(409, "Conflict", f"{_describe(ident)} kept changing")

    async def _remove_owner_refs(self, r: Resource, ident: Identity, uids: set) -> None:
        def change(meta):
            refs = meta.get("ownerReferences") or []
            kept = [x for x in refs if x.get("uid") not in uids]
            if len(kept) == len(refs):
                return None
            return {"ownerReferences": kept or None}
        await self._update_meta(r, ident, change)

    async def _unblock_owner_refs(self, r: Resource, ident: Identity) -> None:
        def change(meta):
            refs = meta.get("ownerReferences") or []
            if not any(x.get("blockOwnerDeletion") for x in refs):
                return None
            return {"ownerReferences": [{**x, "blockOwnerDeletion": False}
                                        if x.get("blockOwnerDeletion") else x for x in refs]}
        await self._update_meta(r, ident, change)

    async def _remove_finalizer(self, ident: Identity, finalizer: str) -> None:
        r = self._resource(ident.api_version, ident.kind)

        def change(meta):
            finalizers = meta.get("finalizers") or []
            if finalizer not in finalizers:
                return None
            return {"finalizers": [f for f in finalizers if f != finalizer] or None}
        await self._update_meta(r, ident, change)


def _describe(ident: Identity) -> str:
    where = f"{ident.namespace}/" if ident.namespace else ""
    return f"{ident.kind} {where}{ident.name} ({ident.api_version}, uid {ident.uid})"
