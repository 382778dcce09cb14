"""The replicaset and replicationcontroller controllers (upstream pkg/controller/replicaset/
replica_set.go; pkg/controller/replication/ runs the same code on ReplicationControllers).

For each owner: the active pods of its namespace it controls or may adopt (``claim``: orphans
its selector matches are adopted, owned ones it no longer matches are released), then as many
pods created (in slow-start batches of 1, 2, 4 …, at most ``BURST`` per sync) or deleted (in
``podutil.deletion_order``) as ``spec.replicas`` calls for, then ``status`` (replicas,
fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration, a ReplicaFailure
condition while creates fail).  *Expectations* remember the creates and deletes a sync made
until the pod informer has seen them, so a slow watch never makes a second sync create the
same pods again (upstream ``ControllerExpectations``, with its 5-minute expiry).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339

from . import podutil, selectors
from .base import Controller, split_key

BURST = 500
EXPECTATIONS_TTL = 300.0
PODS = "/api/v1/pods"


@dataclass(frozen=True)
class OwnerKind:
    api_version: str
    kind: str
    base: str                       # "/apis/apps/v1" or "/api/v1"
    plural: str
    selector_of: object             # owner -> (matches(labels) -> bool)

    def collection(self) -> str:
        return f"{self.base}/{self.plural}"

    def path(self, ns: str, name: str) -> str:
        return f"{self.base}/namespaces/{ns}/{self.plural}/{name}"


def _label_selector(owner):
    sel = owner["spec"].get("selector")
    return lambda labels: selectors.matches(sel, labels) and not selectors.is_empty(sel)


def _map_selector(owner):
    sel = owner["spec"].get("selector") or \
        ((owner["spec"].get("template") or {}).get("metadata") or {}).get("labels")
    return lambda labels: selectors.matches_map(sel, labels)


REPLICA_SETS = OwnerKind("apps/v1", "ReplicaSet", "/apis/apps/v1", "replicasets", _label_selector)
REPLICATION_CONTROLLERS = OwnerKind("v1", "ReplicationController", "/api/v1",
                                    "replicationcontrollers", _map_selector)


class Expectations:
    def __init__(self):
        self._by_key: dict[str, list] = {}    # key -> [adds, set(deleted uids), since]

    def expect(self, key: str, adds: int = 0, deletes=()) -> None:
        self._by_key[key] = [adds, set(deletes), time.monotonic()]

    def satisfied(self, key: str) -> bool:
        e = self._by_key.get(key)
        if e is None:
            return True
        return (e[0] <= 0 and not e[1]) or time.monotonic() - e[2] > EXPECTATIONS_TTL

    def created(self, key: str, n: int = 1) -> None:
        if key in self._by_key:
            self._by_key[key][0] -= n

    def deleted(self, key: str, uid: str) -> None:
        if key in self._by_key:
            self._by_key[key][1].discard(uid)

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)


class ReplicaSetController(Controller):
    """One instance per owner kind (``REPLICA_SETS`` or ``REPLICATION_CONTROLLERS``)."""

    def __init__(self, client, informers, recorder, kind: OwnerKind = REPLICA_SETS):
        self.name = {"ReplicaSet": "replicaset",
                     "ReplicationController": "replicationcontroller"}[kind.kind]
        super().__init__()
        self.client, self.kind, self.recorder = client, kind, recorder
        self.owners = informers.add_handler(kind.collection(), self._on_owner)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.expectations = Expectations()

    # ---- events -----------------------------------------------------------------------------
    def _key(self, obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_owner(self, event, obj, old):
        if event == "DELETED":
            self.expectations.forget(self._key(obj))
        self.queue.add(self._key(obj))

    def _owner_of(self, pod: dict) -> dict | None:
        return podutil.resolve_controller_ref(pod, self.kind.kind, self.owners)

    def _on_pod(self, event, pod, old):
        owner = self._owner_of(pod)
        if owner is not None:
            key = self._key(owner)
            if event == "ADDED":
                self.expectations.created(key)
            elif event == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deleted(key, pod["metadata"].get("uid"))
            self.queue.add(key)
        if old is not None:
            previous = self._owner_of(old)
            if previous is not None and previous is not owner:
                self.queue.add(self._key(previous))
        if podutil.controller_ref(pod) is None and event != "DELETED":
            # an orphan: every owner whose selector takes it may adopt it
            ns = pod["metadata"].get("namespace")
            labels = pod["metadata"].get("labels")
            for candidate in list(self.owners.cache.values()):
                if candidate["metadata"].get("namespace") == ns and \
                        self.kind.selector_of(candidate)(labels):
                    self.queue.add(self._key(candidate))

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        owner = self.owners.get(name, ns)
        if owner is None:
            self.expectations.forget(key)
            return
        pods = await self.claim(owner)
        error = None
        if self.expectations.satisfied(key) and not owner["metadata"].get("deletionTimestamp"):
            error = await self.manage(key, owner, pods)
        await self.update_status(owner, pods, error)
        min_ready = int(owner["spec"].get("minReadySeconds") or 0)
        if min_ready and any(podutil.is_ready(p) and
                             not podutil.is_available(p, min_ready, time.time()) for p in pods):
            self.queue.add_after(key, min_ready)
        if error is not None:
            raise error

    async def claim(self, owner: dict) -> list[dict]:
        """``ClaimPods``: the active pods this owner controls once orphans it matches are
        adopted and owned ones it no longer matches are released."""
        ns, uid = owner["metadata"]["namespace"], owner["metadata"]["uid"]
        matches = self.kind.selector_of(owner)
        deleting = bool(owner["metadata"].get("deletionTimestamp"))
        mine = []
        for pod in list(self.pods.cache.values()):
            if pod["metadata"].get("namespace") != ns or not podutil.is_active(pod):
                continue
            ref = podutil.controller_ref(pod)
            labels = pod["metadata"].get("labels")
            if ref is not None and ref.get("uid") == uid:
                if matches(labels) or deleting:
                    mine.append(pod)
                else:
                    await self._set_owner(pod, None)
            elif ref is None and matches(labels) and not deleting:
                if await self._set_owner(pod, owner):
                    mine.append(pod)
        return mine

    async def _set_owner(self, pod: dict, owner: dict | None) -> dict | None:
        m = pod["metadata"]
        return await podutil.set_controller_ref(
            self.client, f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}", pod, owner)

    async def manage(self, key: str, owner: dict, pods: list[dict]):
        want = owner["spec"].get("replicas")
        want = 1 if want is None else int(want)
        diff = len(pods) - want
        if diff < 0:
            return await self._create(key, owner, min(-diff, BURST))
        if diff > 0:
            victims = podutil.deletion_order(pods)[:min(diff, BURST)]
            await self._delete(key, owner, victims)
        return None

    async def _create(self, key: str, owner: dict, count: int):
        self.expectations.expect(key, adds=count)
        template = owner["spec"].get("template") or {}
        ns = owner["metadata"]["namespace"]
        created, batch, error = 0, 1, None
        while created < count and error is None:
            n = min(batch, count - created)
            results = await asyncio.gather(*(
                self.client.create(f"/api/v1/namespaces/{ns}/pods",
                                   podutil.pod_from_template(owner, template))
                for _ in range(n)), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    error = error or r
                    self.expectations.created(key)         # it will never be observed
                    if isinstance(r, ApiError):
                        self.recorder.record(owner, "Warning", "FailedCreate",
                                             f"Error creating: {r.message}")
                else:
                    self.recorder.record(owner, "Normal", "SuccessfulCreate",
                                         f"Created pod: {r['metadata']['name']}")
            created += n
            batch *= 2
        if created < count:           # the batches not tried will never be observed either
            self.expectations.created(key, count - created)
        return error

    async def _delete(self, key: str, owner: dict, victims: list[dict]) -> None:
        self.expectations.expect(key, deletes=[p["metadata"]["uid"] for p in victims])

        async def one(pod):
            m = pod["metadata"]
            try:
                await self.client.delete(f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}",
                                         {"preconditions": {"uid": m["uid"]}})
                self.recorder.record(owner, "Normal", "SuccessfulDelete",
                                     f"Deleted pod: {m['name']}")
            except ApiError as exc:
                self.expectations.deleted(key, m["uid"])
                if exc.status not in (404, 409):
                    raise
        await asyncio.gather(*(one(p) for p in victims))

    # ---- status -------------------------------------------------------------------------------
    def status_of(self, owner: dict, pods: list[dict], error) -> dict:
        template_labels = ((owner["spec"].get("template") or {}).get("metadata") or {}) \
            .get("labels") or {}
        min_ready = int(owner["spec"].get("minReadySeconds") or 0)
        now = time.time()
        status = {"replicas": len(pods),
                  "fullyLabeledReplicas": sum(
                      1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v
                                             for k, v in template_labels.items())),
                  "readyReplicas": sum(1 for p in pods if podutil.is_ready(p)),
                  "availableReplicas": sum(1 for p in pods
                                           if podutil.is_available(p, min_ready, now)),
                  "observedGeneration": owner["metadata"].get("generation", 1)}
        old = owner.get("status") or {}
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if error is not None:
            reason = "FailedCreate"
            message = getattr(error, "message", str(error))
            previous = next((c for c in old.get("conditions") or []
                             if c.get("type") == "ReplicaFailure"), None)
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": reason,
                               "message": message, "lastTransitionTime":
                               (previous or {}).get("lastTransitionTime") or now_rfc3339()})
        if conditions:
            status["conditions"] = conditions
        return status

    async def update_status(self, owner: dict, pods: list[dict], error) -> None:
        status = self.status_of(owner, pods, error)
        if {k: v for k, v in (owner.get("status") or {}).items()} == status:
            return
        m = owner["metadata"]
        body = dict(owner, status=status)
        try:
            await self.client.update(self.kind.path(m["namespace"], m["name"]) + "/status", body)
        except ApiError as exc:
            if exc.status == 409:
                self.queue.add(self._key(owner))     # the informer brings the newer one
            elif exc.status != 404:
                raise
