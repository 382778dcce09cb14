"""The disruption controller (upstream pkg/controller/disruption/disruption.go): keeps each
PodDisruptionBudget's status, which the ``pods/eviction`` subresource
(resources/core/pod_eviction.py) spends from.

For one budget: its pods are those of its namespace its selector matches (an empty selector
matches every pod, a missing one none, as policy/v1's lister).  ``expectedPods`` and
``desiredHealthy`` come from the spec: an integer ``minAvailable`` counts the pods; a
percentage ``minAvailable`` or any ``maxUnavailable`` needs the pods' controllers' scale —
Deployment (for a ReplicaSet it controls), ReplicaSet, StatefulSet, ReplicationController,
else any resource with a ``/scale`` subresource (custom resources included) found through
discovery.  ``currentHealthy`` counts ready pods not being deleted and not evicted in the last
two minutes (``status.disruptedPods``, whose older entries are dropped);
``disruptionsAllowed = currentHealthy - desiredHealthy`` (never below 0, and 0 while no pod is
expected).  The DisruptionAllowed condition says SufficientPods or InsufficientPods; a sync
that fails writes ``disruptionsAllowed: 0`` with reason SyncFailed (``failSafe``), so evictions
stop rather than run unchecked.

A second kind of key (``STALE_PREFIX + ns/name``) resets a pod's DisruptionTarget condition
to False when it was set (by an eviction) more than two minutes ago yet the pod was never
deleted (upstream's stalePodDisruption queue).
"""
from __future__ import annotations

import copy
import logging
import time

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339

from . import podutil, selectors
from . import disruption_util as du
from .base import Controller, split_key

log = logging.getLogger(__name__)

PDBS = "/apis/policy/v1/poddisruptionbudgets"
PODS = "/api/v1/pods"
REPLICA_SETS = "/apis/apps/v1/replicasets"
DEPLOYMENTS = "/apis/apps/v1/deployments"
STATEFUL_SETS = "/apis/apps/v1/statefulsets"
REPLICATION_CONTROLLERS = "/api/v1/replicationcontrollers"
STALE_PREFIX = "stale-pod:"
DISCOVERY_TTL = 30.0


class SyncError(Exception):
    """A budget whose status cannot be computed; its text becomes the SyncFailed message."""


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class DisruptionController(Controller):
    """One queue of budget keys (plus stale-pod keys); see the module docstring."""

    name = "disruption"

    def __init__(self, client, informers, recorder):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.pdbs = informers.add_handler(PDBS, self._on_pdb)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.replica_sets = informers.informer(REPLICA_SETS)
        self.deployments = informers.informer(DEPLOYMENTS)
        self.stateful_sets = informers.informer(STATEFUL_SETS)
        self.rcs = informers.informer(REPLICATION_CONTROLLERS)
        self._discovery: dict[str, tuple[float, list]] = {}

    # ---- events -----------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_pdb(self, event, pdb, old):
        self.queue.add(self._key(pdb))

    def budgets_for(self, pod: dict) -> list[dict]:
        """``GetPodPodDisruptionBudgets``: the budgets of the pod's namespace selecting it."""
        ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels")
        return [b for b in list(self.pdbs.cache.values())
                if b["metadata"].get("namespace") == ns
                and selectors.matches((b.get("spec") or {}).get("selector"), labels)]

    def _on_pod(self, event, pod, old):
        budgets = self.budgets_for(pod)
        if len(budgets) > 1 and event != "DELETED":
            # upstream warns on the pod (getPdbForPod) and then syncs one budget; every one
            # of them is synced here so none keeps a stale count
            m = pod["metadata"]
            self.recorder.record(pod, "Warning", "MultiplePodDisruptionBudgets",
                                 f'Pod "{m.get("namespace")}"/"{m["name"]}" matches multiple '
                                 f'PodDisruptionBudgets.  Chose "{budgets[0]["metadata"]["name"]}"'
                                 ' arbitrarily.')
        if old is not None:       # labels may have changed: the old budgets recount too
            budgets += [b for b in self.budgets_for(old) if b not in budgets]
        for budget in budgets:
            self.queue.add(self._key(budget))
        if event != "DELETED":
            wait = du.stale_disruption_wait(pod)
            if wait is not None:
                self.queue.add_after(STALE_PREFIX + self._key(pod), wait)

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """Recompute one budget's status (or reset one pod's stale DisruptionTarget
        condition); raise to be retried (conflicts and failed status writes)."""
        if key.startswith(STALE_PREFIX):
            await self.sync_stale_pod(key[len(STALE_PREFIX):])
            return
        ns, name = split_key(key)
        pdb = self.pdbs.get(name, ns)
        if pdb is None:
            return
        try:
            await self.try_sync(key, pdb)
        except ApiError as exc:
            if exc.status == 409:
                raise                         # retried without the fail-safe, as upstream
            await self.fail_safe(pdb, exc.message or str(exc))
        except (SyncError, du.ScaleError) as exc:
            await self.fail_safe(pdb, str(exc))

    def pods_for(self, pdb: dict) -> list[dict]:
        """``getPodsForPdb``: every pod of the namespace the selector matches (terminal ones
        included: they count as expected but never as healthy)."""
        ns, sel = pdb["metadata"].get("namespace"), (pdb.get("spec") or {}).get("selector")
        return [p for p in list(self.pods.cache.values())
                if p["metadata"].get("namespace") == ns
                and selectors.matches(sel, p["metadata"].get("labels"))]

    async def try_sync(self, key: str, pdb: dict) -> None:
        pods = self.pods_for(pdb)
        if not pods:
            self.recorder.record(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = await self.expected_pod_count(pdb, pods)
        except (SyncError, du.ScaleError, ApiError) as exc:
            text = exc.message if isinstance(exc, ApiError) else str(exc)
            self.recorder.record(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                 f"Failed to calculate the number of expected pods: {text}")
            raise
        if unmanaged:
            sel = (pdb.get("spec") or {}).get("selector")
            self.recorder.record(
                pdb, "Warning", "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {sel}) were found to be "
                "unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                '".spec.minAvailable" field of the PDB to an integer value.')
        now = time.time()
        disrupted, recheck, expired = du.build_disrupted_pods(
            pods, (pdb.get("status") or {}).get("disruptedPods"), now)
        for pod in expired:
            m = pdb["metadata"]
            # upstream's message names the namespace twice; the budget's name is meant
            self.recorder.record(pod, "Warning", "NotDeleted",
                                 f"Pod was expected by PDB {m.get('namespace')}/{m['name']} to "
                                 "be deleted but it wasn't")
        healthy = du.count_healthy(pods, disrupted, now)
        await self.update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(key, recheck)

    async def expected_pod_count(self, pdb: dict, pods: list[dict]):
        """``getExpectedPodCount``: ``(expectedPods, desiredHealthy, unmanaged pod names)``."""
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = await self.expected_scale(pdb, pods)
            desired = max(0, expected - du.scaled_value(spec["maxUnavailable"], expected))
            return expected, desired, unmanaged
        min_available = spec.get("minAvailable")
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available, []
        if isinstance(min_available, str):
            expected, unmanaged = await self.expected_scale(pdb, pods)
            return expected, du.scaled_value(min_available, expected), unmanaged
        return 0, 0, []

    async def expected_scale(self, pdb: dict, pods: list[dict]):
        """``getExpectedScale``: the sum of the scales of the pods' controllers, each counted
        once; pods without a controller are reported, a controller none of the finders knows
        is an error."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = podutil.controller_ref(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in scales:
                continue
            found = await self.find_controller(ref, pod["metadata"].get("namespace"))
            if found is None:
                raise SyncError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    # ---- finders (upstream dc.finders(), in its order) ------------------------------------
    async def find_controller(self, ref: dict, ns: str):
        """``(uid, replicas)`` of the workload ``ref`` names, or None."""
        for finder in (self._rc, self._deployment, self._replica_set, self._stateful_set):
            found = finder(ref, ns)
            if found is not None:
                return found
        return await self._scale(ref, ns)

    @staticmethod
    def _is(ref: dict, kind: str, groups: tuple) -> bool:
        return ref.get("kind") == kind and _group_of(ref.get("apiVersion") or "") in groups

    @staticmethod
    def _replicas(obj: dict) -> int:
        value = (obj.get("spec") or {}).get("replicas")
        return 1 if value is None else int(value)

    def _lookup(self, informer, ref: dict, ns: str) -> dict | None:
        obj = informer.get(ref.get("name"), ns)
        if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
            return None
        return obj

    def _rc(self, ref, ns):
        if not self._is(ref, "ReplicationController", ("",)):
            return None
        rc = self._lookup(self.rcs, ref, ns)
        return None if rc is None else (rc["metadata"]["uid"], self._replicas(rc))

    def _deployment(self, ref, ns):
        if not self._is(ref, "ReplicaSet", ("apps", "extensions")):
            return None
        rs = self._lookup(self.replica_sets, ref, ns)
        owner = podutil.controller_ref(rs) if rs is not None else None
        if owner is None or not self._is(owner, "Deployment", ("apps", "extensions")):
            return None
        d = self._lookup(self.deployments, owner, ns)
        return None if d is None else (d["metadata"]["uid"], self._replicas(d))

    def _replica_set(self, ref, ns):
        if not self._is(ref, "ReplicaSet", ("apps", "extensions")):
            return None
        rs = self._lookup(self.replica_sets, ref, ns)
        if rs is None:
            return None
        owner = podutil.controller_ref(rs)
        if owner is not None and owner.get("kind") == "Deployment":
            return None                 # the Deployment's scale counts, not its ReplicaSet's
        return rs["metadata"]["uid"], self._replicas(rs)

    def _stateful_set(self, ref, ns):
        if not self._is(ref, "StatefulSet", ("apps",)):
            return None
        ss = self._lookup(self.stateful_sets, ref, ns)
        return None if ss is None else (ss["metadata"]["uid"], self._replicas(ss))

    async def _resources(self, api_version: str, refresh: bool = False) -> list:
        """The APIResources of one group/version (discovery, cached for DISCOVERY_TTL)."""
        cached = self._discovery.get(api_version)
        if cached is not None and not refresh and time.monotonic() - cached[0] < DISCOVERY_TTL:
            return cached[1]
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            found = (await self.client.get(path)).get("resources") or []
        except ApiError as exc:
            if exc.status != 404:
                raise
            found = []
        self._discovery[api_version] = (time.monotonic(), found)
        return found

    async def _scale(self, ref: dict, ns: str):
        """``getScaleController``: the ``/scale`` of whatever resource has the ref's kind."""
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind")
        resources = await self._resources(api_version)
        plural = next((r["name"] for r in resources
                       if r.get("kind") == kind and "/" not in r.get("name", "")), None)
        if plural is None:
            resources = await self._resources(api_version, refresh=True)
            plural = next((r["name"] for r in resources
                           if r.get("kind") == kind and "/" not in r.get("name", "")), None)
        if plural is None:
            raise SyncError(f'no matches for kind "{kind}" in version "{api_version}"')
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            scale = await self.client.get(
                f"{base}/namespaces/{ns}/{plural}/{ref.get('name')}/scale")
        except ApiError as exc:
            if exc.status != 404:
                raise
            # not found: either the object is gone or its kind has no scale subresource
            if not any(r.get("name") == f"{plural}/scale" and r.get("kind") == "Scale"
                       for r in resources):
                group = _group_of(api_version)
                raise SyncError(f"{plural}.{group} does not implement the scale subresource"
                                if group else f"{plural} does not implement the scale "
                                "subresource") from None
            return None
        if (scale.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return ref.get("uid"), int((scale.get("spec") or {}).get("replicas") or 0)

    # ---- status -------------------------------------------------------------------------------
    async def update_status(self, pdb: dict, healthy: int, desired: int, expected: int,
                            disrupted: dict) -> None:
        """``updatePdbStatus``: write only what changed, through ``/status``."""
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        old = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation") or 0
        if (old.get("currentHealthy") == healthy and old.get("desiredHealthy") == desired
                and old.get("expectedPods") == expected
                and old.get("disruptionsAllowed") == allowed
                and (old.get("disruptedPods") or {}) == disrupted
                and (old.get("observedGeneration") or 0) == generation
                and du.conditions_up_to_date(pdb)):
            return
        status = {"disruptionsAllowed": allowed, "currentHealthy": healthy,
                  "desiredHealthy": desired, "expectedPods": expected,
                  "conditions": copy.deepcopy(old.get("conditions") or [])}
        if generation:
            status["observedGeneration"] = generation
        if disrupted:
            status["disruptedPods"] = disrupted
        du.update_disruption_allowed_condition(status)
        await self._write(pdb, status)

    async def fail_safe(self, pdb: dict, message: str) -> None:
        """``failSafe``: when the status cannot be computed, at least allow no disruption."""
        log.warning("disruption: failed to sync PDB %s: %s", self._key(pdb), message)
        status = copy.deepcopy(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        conditions = status.setdefault("conditions", [])
        du.set_condition(conditions, {
            "type": du.DISRUPTION_ALLOWED, "status": "False", "reason": du.SYNC_FAILED,
            "message": message, "observedGeneration": status.get("observedGeneration")})
        await self._write(pdb, status)

    async def _write(self, pdb: dict, status: dict) -> None:
        m = pdb["metadata"]
        path = f"/apis/policy/v1/namespaces/{m['namespace']}/poddisruptionbudgets/{m['name']}"
        try:
            await self.client.update(path + "/status", dict(pdb, status=status))
        except ApiError as exc:
            if exc.status != 404:
                raise

    # ---- stale DisruptionTarget conditions ------------------------------------------------
    async def sync_stale_pod(self, key: str) -> None:
        """``syncStalePodDisruption``: set the pod's DisruptionTarget condition to False once
        it has been True for ``STALE_POD_DISRUPTION_TIMEOUT`` without the pod going away."""
        ns, name = split_key(key)
        pod = self.pods.get(name, ns)
        if pod is None:
            return
        wait = du.stale_disruption_wait(pod)
        if wait is None:
            return
        if wait > 0:
            self.queue.add_after(STALE_PREFIX + key, wait)
            return
        body = copy.deepcopy(pod)
        conditions = body.setdefault("status", {}).setdefault("conditions", [])
        for i, cond in enumerate(conditions):
            if cond.get("type") == du.DISRUPTION_TARGET:
                # upstream's UpdatePodCondition replaces the condition: reason and message go
                conditions[i] = {"type": du.DISRUPTION_TARGET, "status": "False",
                                 "lastTransitionTime": now_rfc3339()}
        try:
            await self.client.update(f"/api/v1/namespaces/{ns}/pods/{name}/status", body)
        except ApiError as exc:
            if exc.status != 404:
                raise
