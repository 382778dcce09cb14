"""Deleting everything in a Terminating namespace through the API, then its ``kubernetes``
finalizer (upstream pkg/controller/namespace/deletion/namespaced_resources_deleter.go,
release-1.32).

``NamespacedResourcesDeleter.delete(name)`` is one pass, called until it returns:

1. read the namespace; nothing to do when it is gone, not being deleted, or has no
   finalizers left; make sure its phase is Terminating (``PUT …/status``);
2. discover every namespaced resource of the preferred version of each group (as client-go's
   ``ServerPreferredNamespacedResources``, custom and aggregated resources included) that
   supports ``delete``; for each, ``deletecollection`` (or list and delete one by one when
   only ``delete`` is served), then list what is left.  Objects left behind with a
   finalizer, or pods within their grace period, make an estimate of the wait; anything
   else left is an error;
3. set the five deletion conditions on the namespace (``namespace_conditions``);
4. raise ``ResourcesRemaining(estimate)`` while content remains, an error when something
   failed (discovery of some group included: the namespace waits for it, as upstream), and
   otherwise remove the finalizer with ``PUT /api/v1/namespaces/NAME/finalize``, which
   removes the namespace once no finalizer is left.

One difference in the requests, not in the outcome: a resource whose list is empty gets no
``deletecollection`` (upstream sends one and lists again); a create racing the deletion is
caught by the next pass either way, since the namespace is finalized only after every list
came back empty.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass

from apiserver.client import ApiError

from . import podutil
from .namespace_conditions import ConditionUpdater, DiscoveryFailed

log = logging.getLogger(__name__)

NAMESPACES = "/api/v1/namespaces"
FINALIZER = "kubernetes"                  # v1.FinalizerKubernetes, the token this removes
FINALIZER_ESTIMATE_SECONDS = 15           # upstream finalizerEstimateSeconds
CONCURRENCY = 4                           # resources of one namespace handled at once
_API_ERRORS = (ApiError, OSError, asyncio.TimeoutError)


class ResourcesRemaining(Exception):
    """Content was deleted but some remains: look again in about ``estimate`` seconds."""

    def __init__(self, estimate: int):
        self.estimate = int(estimate)
        super().__init__(f"some content remains in the namespace, estimate {self.estimate} "
                         "seconds before it is removed")


class DeletionFailed(Exception):
    """``utilerrors.NewAggregate``: every error of one pass."""

    def __init__(self, errors: list):
        self.errors = list(errors)
        msgs = [_message(e) for e in self.errors]
        super().__init__(msgs[0] if len(msgs) == 1 else f"[{', '.join(msgs)}]")


def _message(err: BaseException) -> str:
    """What Go's ``err.Error()`` would say: a Status's message, else the error's text."""
    if isinstance(err, ApiError):
        return err.message or f"{err.status} {err.reason}"
    return str(err) or type(err).__name__


def _unsupported(err: ApiError) -> bool:
    # upstream treats NotFound like MethodNotSupported here (kubernetes#22413)
    return err.status in (404, 405)


@dataclass(frozen=True)
class APIResource:
    group: str
    version: str
    plural: str
    verbs: frozenset

    def collection(self, namespace: str) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}"

    def gvr(self) -> str:
        """``schema.GroupVersionResource.String()``, as upstream's messages print it."""
        return f"{self.group}/{self.version}, Resource={self.plural}"


# client-go asks for aggregated discovery first (two requests for the whole server) and
# falls back to the legacy documents (one per group version) when the server has none
AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json")


async def preferred_namespaced_resources(client) -> tuple[list[APIResource], Exception | None]:
    """The namespaced resources, each at its group's preferred version (or the first version
    serving it when the preferred one does not), as client-go's
    ``ServerPreferredNamespacedResources``.  Returns the resources and a ``DiscoveryFailed``
    naming the group versions that could not be read (the others are still returned); a
    failure of /api or /apis itself raises."""
    core = await client.get("/api", accept=AGGREGATED)
    if core.get("kind") == "APIGroupDiscoveryList":
        return _from_aggregated([core, await client.get("/apis", accept=AGGREGATED)])
    return await _from_legacy(client, core)


def _from_aggregated(docs: list[dict]) -> tuple[list[APIResource], Exception | None]:
    """APIGroupDiscoveryList documents: versions come preferred first; a Stale version (an
    aggregated backend that did not answer) is a failure, as client-go's
    ``StaleGroupVersionError``."""
    failed: dict[str, str] = {}
    chosen: dict[tuple[str, str], APIResource] = {}
    for doc in docs:
        for g in doc.get("items") or ():
            group = (g.get("metadata") or {}).get("name", "")
            for v in g.get("versions") or ():
                version = v.get("version", "")
                gv = f"{group}/{version}" if group else version
                if v.get("freshness") == "Stale":
                    failed[gv] = f"stale GroupVersion discovery: {gv}"
                    continue
                for r in v.get("resources") or ():
                    name = r.get("resource", "")
                    if name and r.get("scope") == "Namespaced":
                        chosen.setdefault((group, name), APIResource(
                            group, version, name, frozenset(r.get("verbs") or ())))
    return list(chosen.values()), (DiscoveryFailed(failed) if failed else None)


async def _from_legacy(client, core: dict) -> tuple[list[APIResource], Exception | None]:
    """The legacy documents: /api, /apis, then one APIResourceList per group version."""
    versions: list[tuple[str, str, bool]] = [
        ("", v, i == 0) for i, v in enumerate(core.get("versions") or ())]
    for g in (await client.get("/apis")).get("groups") or ():
        preferred = (g.get("preferredVersion") or {}).get("version")
        for v in g.get("versions") or ():
            versions.append((g.get("name", ""), v.get("version", ""), v.get("version") == preferred))

    async def one(group, version):
        try:
            return await client.get(f"/apis/{group}/{version}" if group else f"/api/{version}")
        except _API_ERRORS as exc:
            return exc
    bodies = await asyncio.gather(*(one(g, v) for g, v, _ in versions))
    failed: dict[str, str] = {}
    chosen: dict[tuple[str, str], APIResource] = {}
    # preferred versions first, so they win; then the rest in the server's order
    order = sorted(range(len(versions)), key=lambda i: not versions[i][2])
    for i in order:
        group, version, _ = versions[i]
        body = bodies[i]
        if isinstance(body, BaseException):
            failed[f"{group}/{version}" if group else version] = _message(body)
            continue
        for r in body.get("resources") or ():
            name = r.get("name", "")
            if not name or "/" in name or not r.get("namespaced"):
                continue
            chosen.setdefault((group, name), APIResource(group, version, name,
                                                         frozenset(r.get("verbs") or ())))
    return list(chosen.values()), (DiscoveryFailed(failed) if failed else None)


@dataclass
class Remaining:
    """``gvrDeletionMetadata``: the wait estimate, how many objects are left, and how many
    of them each finalizer holds."""

    estimate: int = 0
    count: int = 0
    finalizers: dict | None = None


class NamespacedResourcesDeleter:
    """See the module docstring.  ``ordered``: upstream's OrderedNamespaceDeletion gate
    (off by default in release-1.32): pods first, the rest only once they are gone."""

    def __init__(self, client, *, finalizer: str = FINALIZER, ordered: bool = False,
                 clock=time.time, discover=preferred_namespaced_resources):
        self.client, self.finalizer, self.ordered = client, finalizer, ordered
        self.clock, self.discover = clock, discover

    async def delete(self, name: str) -> None:
        """One pass over namespace ``name``; raises ``ResourcesRemaining`` or an error
        until the finalizer is gone."""
        try:
            ns = await self.client.get(f"{NAMESPACES}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return
        try:
            ns = await self._retry_on_conflict(ns, self._ensure_terminating)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        if not (ns.get("spec") or {}).get("finalizers"):
            return
        estimate = await self.delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        try:
            await self._retry_on_conflict(ns, self._finalize)
        except ApiError as exc:
            # another controller with the same token finished first
            if exc.status != 404:
                raise

    # ---- the namespace itself -----------------------------------------------------------
    async def _retry_on_conflict(self, ns: dict, fn) -> dict:
        """Call ``fn(ns)`` again on the newest namespace after each 409, as long as it is
        the same namespace (same uid)."""
        while True:
            try:
                return await fn(ns)
            except ApiError as exc:
                if exc.status != 409:
                    raise
            latest = await self.client.get(f"{NAMESPACES}/{ns['metadata']['name']}")
            if latest["metadata"].get("uid") != ns["metadata"].get("uid"):
                raise RuntimeError("namespace uid has changed across retries")
            ns = latest

    async def _ensure_terminating(self, ns: dict) -> dict:
        if (ns.get("status") or {}).get("phase") == "Terminating":
            return ns
        body = copy.deepcopy(ns)
        body.setdefault("status", {})["phase"] = "Terminating"
        return await self.client.update(f"{NAMESPACES}/{ns['metadata']['name']}/status", body)

    async def _finalize(self, ns: dict) -> dict:
        body = copy.deepcopy(ns)
        kept = {f for f in (ns.get("spec") or {}).get("finalizers") or () if f != self.finalizer}
        body.setdefault("spec", {})["finalizers"] = sorted(kept)
        return await self.client.update(f"{NAMESPACES}/{ns['metadata']['name']}/finalize",
                                        body)

    # ---- its content --------------------------------------------------------------------
    async def delete_all_content(self, ns: dict) -> int:
        """``deleteAllContent``: delete every kind of content; update the conditions;
        return the estimate (seconds) of the wait, or raise ``DeletionFailed``."""
        name = ns["metadata"]["name"]
        deleted_at = podutil.parse_time(ns["metadata"]["deletionTimestamp"]) or self.clock()
        errs: list = []
        updater = ConditionUpdater()
        try:
            resources, partial = await self.discover(self.client)
        except _API_ERRORS as exc:
            resources, partial = [], exc
        if partial is not None:
            # not fatal: whatever was discovered is still deleted
            errs.append(partial)
            updater.discovery_error(partial)
        resources = [r for r in resources if "delete" in r.verbs]
        remaining: dict[tuple[str, str], int] = {}
        finalizers: dict[str, int] = {}
        estimate = 0

        def account(r: APIResource, left: Remaining, err, wrapped=None) -> None:
            nonlocal estimate
            if err is not None:
                errs.append(wrapped or err)
                updater.delete_content_error(err)
            estimate = max(estimate, left.estimate)
            if left.count:
                remaining[(r.group, r.plural)] = left.count
                for f, n in (left.finalizers or {}).items():
                    finalizers[f] = finalizers.get(f, 0) + n

        pods = next((r for r in resources if (r.group, r.plural) == ("", "pods")), None)
        if self.ordered and pods is not None:
            left, err = await self.delete_resource(pods, name, deleted_at)
            account(pods, left, err, err and RuntimeError(
                f"failed to delete pods for namespace: {name}, err: {_message(err)}"))
            resources = [r for r in resources if r is not pods]
            if left.count:
                # the pods go first; the rest waits (no content totals, as upstream)
                await self._write_conditions(ns, updater)
                return self._result(estimate, errs)

        limit = asyncio.Semaphore(CONCURRENCY)

        async def bounded(r):
            async with limit:
                return await self.delete_resource(r, name, deleted_at)
        for r, (left, err) in zip(resources, await asyncio.gather(*map(bounded, resources))):
            account(r, left, err)
        updater.content_totals(remaining, finalizers)
        # always: a condition that was failing must be seen to have recovered
        await self._write_conditions(ns, updater)
        return self._result(estimate, errs)

    @staticmethod
    def _result(estimate: int, errs: list) -> int:
        if errs:
            raise DeletionFailed(errs)
        return estimate

    async def _write_conditions(self, ns: dict, updater: ConditionUpdater) -> None:
        """PUT the conditions when they changed; a failure is only logged, as upstream.  On
        success ``ns`` takes the new resourceVersion, so the finalize that follows does not
        begin with a conflict."""
        if updater.update(ns):
            try:
                written = await self.client.update(
                    f"{NAMESPACES}/{ns['metadata']['name']}/status", ns)
                rv = (written.get("metadata") or {}).get("resourceVersion")
                if rv:
                    ns["metadata"]["resourceVersion"] = rv
            except _API_ERRORS as exc:
                log.info("couldn't update status condition for namespace %r: %s",
                         ns["metadata"]["name"], _message(exc))

    async def delete_resource(self, r: APIResource, namespace: str,
                              deleted_at: float) -> tuple[Remaining, Exception | None]:
        """``deleteAllContentForGroupVersionResource``: what is left of ``r`` in
        ``namespace`` after deleting it all, and the error, if any."""
        path = r.collection(namespace)
        estimate = 0
        try:
            items = await self._list(r, path)
            if (r.group, r.plural) == ("", "pods") and items is not None:
                estimate = self._pod_estimate(items, deleted_at)
            if items == []:
                return Remaining(), None
            if not await self._delete_collection(r, path):
                await self._delete_each(r, path, items)
            items = await self._list(r, path)
        except _API_ERRORS as exc:
            return Remaining(estimate), exc
        if items is None:
            return Remaining(estimate), None
        if not items:
            return Remaining(), None
        held: dict[str, int] = {}
        for item in items:
            for f in item["metadata"].get("finalizers") or ():
                held[f] = held.get(f, 0) + 1
        if estimate:
            return Remaining(estimate, len(items), held), None
        if held:
            return Remaining(FINALIZER_ESTIMATE_SECONDS, len(items), held), None
        return Remaining(0, len(items)), RuntimeError(
            f"unexpected items still remain in namespace: {namespace} for gvr: {r.gvr()}")

    async def _list(self, r: APIResource, path: str) -> list | None:
        """The items of ``path``, or None when listing is not supported."""
        if "list" not in r.verbs:
            return None
        try:
            return (await self.client.get(path)).get("items") or []
        except ApiError as exc:
            if _unsupported(exc):
                return None
            raise

    async def _delete_collection(self, r: APIResource, path: str) -> bool:
        """True when the server took the ``deletecollection``."""
        if "deletecollection" not in r.verbs:
            return False
        try:
            # Background: the garbage collector deletes dependents, none is orphaned
            await self.client.delete(path, {"propagationPolicy": "Background"})
            return True
        except ApiError as exc:
            if _unsupported(exc):
                return False
            raise

    async def _delete_each(self, r: APIResource, path: str, items: list | None) -> None:
        for item in items or ():
            try:
                await self.client.delete(f"{path}/{item['metadata']['name']}",
                                         {"propagationPolicy": "Background"})
            except ApiError as exc:
                if not _unsupported(exc):
                    raise

    def _pod_estimate(self, pods: list, deleted_at: float) -> int:
        """``estimateGracefulTerminationForPods``: the longest grace period of the pods that
        are not finished, or 0 once that long has passed since the namespace was deleted."""
        estimate = 0
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if isinstance(grace, int) and grace > estimate:
                estimate = grace
        return 0 if self.clock() - deleted_at >= estimate else estimate
