"""The node lifecycle controller (upstream pkg/controller/nodelifecycle/
node_lifecycle_controller.go) with taint-based eviction (pkg/controller/tainteviction/).

* Health: a node whose kubelet has not renewed its Lease (kube-node-lease/NAME) nor posted
  its Ready heartbeat for ``grace_period`` (``--node-monitor-grace-period``, 40 s), *as seen
  on this process's clock*, gets every condition set to Unknown with reason
  NodeStatusUnknown, "Kubelet stopped posting node status.", checked every ``monitor_period``.
* Taints follow the Ready condition: True lifts ``node.kubernetes.io/not-ready`` and
  ``…/unreachable``; False puts not-ready, Unknown puts unreachable, each with effects
  NoSchedule and NoExecute (the NoExecute one stamped ``timeAdded``); ``spec.unschedulable``
  keeps ``node.kubernetes.io/unschedulable:NoSchedule``.  This is what lifts the not-ready taint
  the TaintNodesByCondition admission plugin puts on every new Node once its kubelet reports
  Ready.
* Eviction: a pod bound to a node with a NoExecute taint it does not tolerate is deleted at
  once; one tolerating it for ``tolerationSeconds`` is deleted that long after the taint's
  ``timeAdded`` (event TaintManagerEviction "Marking for deletion Pod NS/NAME").
"""
from __future__ import annotations

import asyncio
import copy
import time

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339

from . import podutil
from .base import Controller

NODES = "/api/v1/nodes"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
PODS = "/api/v1/pods"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def ready_status(node: dict) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") or "Unknown"
    return "Unknown"


def desired_taints(node: dict) -> list[dict]:
    """The node's taints with the lifecycle ones as its conditions call for."""
    ours = (NOT_READY, UNREACHABLE, UNSCHEDULABLE)
    current = list((node.get("spec") or {}).get("taints") or [])
    keep = [t for t in current if t.get("key") not in ours]
    have = {(t.get("key"), t.get("effect")): t for t in current if t.get("key") in ours}
    want = []
    status = ready_status(node)
    key = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(status)
    if key:
        want += [(key, "NoSchedule"), (key, "NoExecute")]
    if (node.get("spec") or {}).get("unschedulable"):
        want.append((UNSCHEDULABLE, "NoSchedule"))
    for k, effect in want:
        taint = have.get((k, effect)) or {"key": k, "effect": effect}
        if effect == "NoExecute" and "timeAdded" not in taint:
            taint = dict(taint, timeAdded=now_rfc3339())
        keep.append(taint)
    return keep


def tolerates(toleration: dict, taint: dict) -> bool:
    """``Toleration.ToleratesTaint``."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and \
        (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_delay(pod: dict, taints: list[dict], now: float) -> float | None:
    """Seconds until ``pod`` must go for the NoExecute ``taints`` (0: now), or None."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    delay = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        bounded = [t["tolerationSeconds"] for t in matching
                   if t.get("tolerationSeconds") is not None]
        if not bounded or len(bounded) < len(matching):
            continue                      # tolerated for ever by one of them
        added = podutil.parse_time(taint.get("timeAdded")) or now
        left = max(added + max(0, min(bounded)) - now, 0.0)
        delay = left if delay is None else min(delay, left)
    return delay


class NodeLifecycleController(Controller):
    name = "node-lifecycle"
    workers = 2

    def __init__(self, client, informers, recorder, *, grace_period: float = 40.0,
                 monitor_period: float = 5.0):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.grace_period, self.monitor_period = grace_period, monitor_period
        self.nodes = informers.add_handler(NODES, self._on_node)
        self.leases = informers.add_handler(LEASES, self._on_lease)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self._probed: dict[str, tuple] = {}     # node -> (what the kubelet last posted, when)
        self._monitor: asyncio.Task | None = None

    def _probe(self, name: str) -> float:
        """When this process last saw the kubelet of ``name`` post anything."""
        node = self.nodes.get(name) or {}
        lease = self.leases.get(name, "kube-node-lease") or {}
        beat = next((c.get("lastHeartbeatTime") for c in
                     (node.get("status") or {}).get("conditions") or []
                     if c.get("type") == "Ready"), None)
        mark = ((lease.get("spec") or {}).get("renewTime"), beat)
        last = self._probed.get(name)
        if last is None or last[0] != mark:
            self._probed[name] = (mark, time.monotonic())
        return self._probed[name][1]

    def _on_node(self, event, node, old):
        if event == "DELETED":
            self._probed.pop(node["metadata"]["name"], None)
        else:
            self.queue.add(node["metadata"]["name"])

    def _on_lease(self, event, lease, old):
        if self.nodes.get(lease["metadata"]["name"]) is not None:
            self.queue.add(lease["metadata"]["name"])

    def _on_pod(self, event, pod, old):
        node = (pod.get("spec") or {}).get("nodeName")
        if node and event != "DELETED":
            self.queue.add(node)

    def start(self) -> None:
        super().start()
        self._monitor = asyncio.create_task(self._monitor_loop(), name="node-monitor")

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
        await super().stop()

    async def _monitor_loop(self) -> None:
        while True:
            for name in list(self.nodes.cache):
                self.queue.add(name)
            await asyncio.sleep(self.monitor_period)

    async def sync(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            return
        node = copy.deepcopy(node)
        if time.monotonic() - self._probe(name) > self.grace_period and \
                ready_status(node) != "Unknown":
            node = await self._mark_unknown(node)
        taints = desired_taints(node)
        if taints != ((node.get("spec") or {}).get("taints") or []):
            # with the resourceVersion the taints were computed from (upstream
            # PatchNodeTaints): a taint someone added meanwhile is a 409 and a retry, not
            # silently overwritten
            node = await self.client.patch(f"{NODES}/{name}", {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"taints": taints or None}})
        await self._evict(node)

    async def _mark_unknown(self, node: dict) -> dict:
        now = now_rfc3339()
        conditions = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
        for type_ in CONDITIONS:
            c = dict(conditions.get(type_) or {"type": type_})
            c.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                      "message": "Kubelet stopped posting node status.",
                      "lastTransitionTime": now})
            c.setdefault("lastHeartbeatTime", now)
            conditions[type_] = c
        node.setdefault("status", {})["conditions"] = list(conditions.values())
        return await self.client.update(f"{NODES}/{node['metadata']['name']}/status", node)

    async def _evict(self, node: dict) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or []
                  if t.get("effect") == "NoExecute"]
        if not taints:
            return
        name, now, soonest = node["metadata"]["name"], time.time(), None
        for pod in list(self.pods.cache.values()):
            if (pod.get("spec") or {}).get("nodeName") != name or \
                    pod["metadata"].get("deletionTimestamp"):
                continue
            delay = eviction_delay(pod, taints, now)
            if delay is None:
                continue
            if delay > 0:
                soonest = delay if soonest is None else min(soonest, delay)
                continue
            m = pod["metadata"]
            self.recorder.record(pod, "Normal", "TaintManagerEviction",
                                 f"Marking for deletion Pod {m['namespace']}/{m['name']}")
            try:
                await self.client.delete(f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}",
                                         {"preconditions": {"uid": m["uid"]}})
            except ApiError as exc:
                if exc.status not in (404, 409):
                    raise
        if soonest is not None:
            self.queue.add_after(name, soonest + 0.1)
