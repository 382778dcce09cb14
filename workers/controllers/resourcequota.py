"""The resourcequota controller (upstream pkg/controller/resourcequota/
resource_quota_controller.go, with the replenishment of resource_quota_monitor.go): keeps
every ResourceQuota's ``status.hard`` equal to ``spec.hard`` and ``status.used`` equal to what
the objects of its namespace use, counted by workers/controllers/resourcequota_evaluators.py.

Keys are ``namespace/name`` of quotas, in two queues as upstream: a quota whose spec.hard is
not yet in its status, or whose status lacks a usage this controller can compute, goes to the
priority ``missing_usage`` queue; every other change to the queue.  A quota is queued when it
is added, deleted, or its spec.hard changes (status-only writes, the admission plugin's, do
not queue it), when an object it counts is deleted or stops being charged (a pod that turns
terminal, a service changing type, a claim resized), and every ``sync_period`` (upstream's
``--resource-quota-sync-period``, 5 m).

The objects counted come from shared informers, one per kind a quota names, started the first
time a quota needs the kind (``count/<resource>.<group>`` resolves through discovery).

A sync writes only when the status differs, with an UPDATE of ``/status`` carrying the
quota's resourceVersion: when the ResourceQuota admission plugin raised ``status.used``
meanwhile, the write is refused (409), and the controller re-reads the quota and recomputes
instead of putting back an older count.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time

from apiserver.client import ApiError

from . import resourcequota_evaluators as ev
from .base import Controller, split_key
from .garbagecollector_discovery import discover
from .hpa_util import go_duration

log = logging.getLogger(__name__)

QUOTAS = "/api/v1/resourcequotas"
CORE = ("pods", "services", "persistentvolumeclaims", "configmaps", "secrets",
        "replicationcontrollers", "resourcequotas")
SYNC_PERIOD = 300.0             # --resource-quota-sync-period
DISCOVERY_TTL = 30.0
INFORMER_SYNC_TIMEOUT = 30.0
CONFLICT_RETRIES = 3


def add_arguments(p) -> None:
    """The controller's flags, upstream's names and defaults (cmd/kube-controller-manager
    app/options/resourcequotacontroller.go)."""
    p.add_argument("--resource-quota-sync-period", type=go_duration, default=SYNC_PERIOD,
                   help="the period for syncing quota usage status in the system")
    p.add_argument("--concurrent-resource-quota-syncs", type=int, default=5,
                   help="the number of resource quotas that are allowed to sync concurrently")


def _key(obj: dict) -> str:
    return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"


def _revision(rv) -> int:
    try:
        return int(rv)
    except (TypeError, ValueError):
        return 0


def _same_amounts(a: dict | None, b: dict | None) -> bool:
    """``quota.Equals``: the same names with equal amounts, whatever their spelling."""
    a, b = a or {}, b or {}
    return set(a) == set(b) and all(ev.parse(a[k]) == ev.parse(b[k]) for k in a)


def new_status(quota: dict, usage: dict) -> dict:
    """``syncResourceQuota``'s new status: hard from spec; used from the previous
    status overlaid with ``usage``, kept to the hard names."""
    spec_hard = (quota.get("spec") or {}).get("hard") or {}
    old_used = (quota.get("status") or {}).get("used") or {}
    used = {}
    for n in spec_hard:
        if n in usage:
            used[n] = ev.format_like(usage[n], spec_hard[n])
        elif n in old_used:
            used[n] = old_used[n]
    return {"hard": dict(spec_hard), "used": used}


def _requires_replenish(resource: str, group: str, old: dict, new: dict, now: float) -> bool:
    """The updates that free usage (resource_quota_monitor.go's UpdateFunc)."""
    if group != "":
        return False
    if resource == "pods":
        return ev.quota_v1_pod(old, now) and not ev.quota_v1_pod(new, now)
    if resource == "services":
        return ev.service_type(old) != ev.service_type(new)
    if resource == "persistentvolumeclaims":
        return ev.claim_storage(old) != ev.claim_storage(new)
    return False


class _PriorityWorkers(Controller):
    """Upstream's ``missingUsageQueue``: its own queue and workers (the shared worker loop
    and retry policy), syncing with the controller's ``sync``."""

    def __init__(self, owner):
        self.name, self.workers, self.owner = f"{owner.name}_priority", owner.workers, owner
        super().__init__()

    async def sync(self, key: str) -> None:
        await self.owner.sync(key)


class ResourceQuotaController(Controller):
    """See the module docstring."""

    name = "resourcequota"

    def __init__(self, client, informers, recorder, *, sync_period: float = SYNC_PERIOD,
                 workers: int = 5, clock=time.time):
        super().__init__()
        self.client, self.informers, self.recorder = client, informers, recorder
        self.sync_period, self.workers, self.clock = sync_period, workers, clock
        self.priority = _PriorityWorkers(self)
        self.missing_usage = self.priority.queue
        self.quotas = informers.add_handler(QUOTAS, self._on_quota)
        self._monitors: dict[tuple[str, str], object] = {}
        self._discovery: tuple[float, dict] | None = None
        self._resync_task: asyncio.Task | None = None
        for resource in CORE:       # upstream monitors these from the start
            self._monitor(resource, "", f"/api/v1/{resource}")

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        super().start()
        self.priority.start()
        self._resync_task = asyncio.create_task(self._resync(), name=f"{self.name}-resync")
        self._tasks.append(self._resync_task)

    async def stop(self) -> None:
        await self.priority.stop()
        await super().stop()

    async def _resync(self) -> None:
        """``enqueueAll`` every sync period: usage no event reported is recounted."""
        while True:
            await asyncio.sleep(self.sync_period)
            for quota in list(self.quotas.cache.values()):
                self.queue.add(_key(quota))

    # ---- events -------------------------------------------------------------------------------
    def _on_quota(self, event, quota, old):
        if event == "MODIFIED" and old is not None and \
                (old.get("spec") or {}).get("hard") == (quota.get("spec") or {}).get("hard"):
            return               # a status write (ours or admission's): nothing to recount
        if event == "DELETED":
            self.queue.add(_key(quota))
            return
        self.add_quota(quota)

    def add_quota(self, quota: dict) -> None:
        """``addQuota``: intent not yet in status, or a usage missing, goes first."""
        key = _key(quota)
        spec_hard = (quota.get("spec") or {}).get("hard") or {}
        status = quota.get("status") or {}
        if not _same_amounts(spec_hard, status.get("hard")):
            self.missing_usage.add(key)
            return
        used = status.get("used") or {}
        missing = [n for n in (status.get("hard") or {}) if n not in used]
        if missing and any(ev.matching_resources(r, g, missing)
                           for r, g in ev.resources_needed(missing)):
            self.missing_usage.add(key)
            return
        self.queue.add(key)

    def _monitor(self, resource: str, group: str, path: str):
        kind = (resource, group)
        if kind not in self._monitors:
            self._monitors[kind] = self.informers.add_handler(
                path, self._replenisher(resource, group))
        return self._monitors[kind]

    def _replenisher(self, resource: str, group: str):
        def on_change(event, obj, old):
            if event == "DELETED" or (event == "MODIFIED" and old is not None and
                                      _requires_replenish(resource, group, old, obj,
                                                          self.clock())):
                self.replenish(resource, group, obj["metadata"].get("namespace"))
        return on_change

    def replenish(self, resource: str, group: str, namespace: str | None) -> None:
        """``replenishQuota``: queue the namespace's quotas tracking anything of the kind."""
        if not namespace:
            return
        for quota in list(self.quotas.cache.values()):
            if quota["metadata"].get("namespace") != namespace:
                continue
            names = list(((quota.get("status") or {}).get("hard") or {}))
            if ev.matching_resources(resource, group, names):
                self.queue.add(_key(quota))

    # ---- the objects counted ------------------------------------------------------------------
    async def _path_for(self, resource: str, group: str) -> str | None:
        """The all-namespaces list path of a quotable kind (namespaced, list and watch)."""
        if group == "" and resource in CORE:
            return f"/api/v1/{resource}"
        now = time.monotonic()
        if self._discovery is None or now - self._discovery[0] > DISCOVERY_TTL:
            found = await discover(self.client)
            self._discovery = (now, {(r.group, r.plural): r for r in found.watched
                                     if r.namespaced})
        r = self._discovery[1].get((group, resource))
        return r.collection() if r is not None else None

    async def _informer_for(self, resource: str, group: str):
        inf = self._monitors.get((resource, group))
        if inf is None:
            path = await self._path_for(resource, group)
            if path is None:
                return None
            inf = self._monitor(resource, group, path)
        inf.start()                  # idempotent; kinds found late start here
        try:
            await asyncio.wait_for(inf.synced.wait(), INFORMER_SYNC_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        return inf

    async def _objects(self, quota: dict) -> dict:
        """The namespace's objects of every kind the quota counts, by (resource, group):
        from the informer's cache when it has seen the quota's revision or later, else by
        a live list (a cache behind the quota may lack an object admission charged)."""
        namespace = quota["metadata"]["namespace"]
        seen = _revision(quota["metadata"].get("resourceVersion"))
        hard = (quota.get("spec") or {}).get("hard") or {}
        out = {}
        prefix = f"{namespace}/"
        for resource, group in ev.resources_needed(list(hard)):
            inf = await self._informer_for(resource, group)
            if inf is None:
                out[(resource, group)] = None
            elif _revision(inf.resource_version) >= seen:
                out[(resource, group)] = [o for k, o in list(inf.cache.items())
                                          if k.startswith(prefix)]
            else:
                head, _, plural = inf.path.rpartition("/")
                listed = await self.client.list(f"{head}/namespaces/{namespace}/{plural}")
                out[(resource, group)] = listed.get("items") or []
        return out

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """``syncResourceQuotaFromKey``: recompute one quota's status and write it if it
        changed; a conflict re-reads the quota and recomputes."""
        ns, name = split_key(key)
        quota = self.quotas.get(name, ns)
        if quota is None:
            return
        for _ in range(CONFLICT_RETRIES):
            try:
                await self.sync_quota(quota)
                return
            except ApiError as exc:
                if exc.status != 409:
                    raise
            try:
                quota = await self.client.get(
                    f"/api/v1/namespaces/{ns}/resourcequotas/{name}")
            except ApiError as exc:
                if exc.status == 404:
                    return
                raise
        raise ApiError(409, "Conflict", f"resourcequota {key}: status changed on every try")

    async def sync_quota(self, quota: dict) -> bool:
        """Write the recomputed status when it differs; True when a write was made."""
        meta = quota["metadata"]
        spec_hard = (quota.get("spec") or {}).get("hard") or {}
        objects = await self._objects(quota)
        usage = ev.calculate_usage(quota, lambda r, g: objects.get((r, g)), self.clock())
        status = new_status(quota, usage)
        old = quota.get("status") or {}
        dirty = old.get("hard") is None or old.get("used") is None or \
            not _same_amounts(spec_hard, old.get("hard")) or \
            not _same_amounts(status["used"], old.get("used"))
        if not dirty:
            return False
        body = copy.deepcopy(quota)
        body["status"] = status
        await self.client.update(
            f"/api/v1/namespaces/{meta['namespace']}/resourcequotas/{meta['name']}/status",
            body)
        return True
