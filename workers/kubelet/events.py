"""Events about pods, as client-go's tools/record recorder writes them for the kubelet:
core/v1 Events in the pod's namespace, ``source: {component: kubelet, host: NODE}``,
``involvedObject`` the pod (with ``fieldPath: spec.containers{NAME}`` for a container),
count 1 and first = last timestamp.  ``kubectl describe pod`` lists them.

Recording never blocks a pod worker and never fails it: each event is sent from its own task,
and a failure is logged (events are best effort, upstream drops them too).
"""
from __future__ import annotations

import asyncio
import logging
import time

from apiserver.client import ApiError, AsyncClient

log = logging.getLogger("workers.kubelet.events")


def event_object(pod: dict, node: str, kind: str, reason: str, message: str,
                 field_path: str | None, now: str, seq: int) -> dict:
    m = pod.get("metadata") or {}
    involved = {"apiVersion": "v1", "kind": "Pod", "name": m.get("name"),
                "namespace": m.get("namespace"), "uid": m.get("uid"),
                "resourceVersion": m.get("resourceVersion")}
    if field_path:
        involved["fieldPath"] = field_path
    # client-go names events <object>.<unix nanoseconds in hex>
    name = f"{m.get('name')}.{time.time_ns() + seq:x}"
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": m.get("namespace")},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason, "message": message, "type": kind,
            "source": {"component": "kubelet", "host": node},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": "kubelet", "reportingInstance": node}


def container_path(name: str, init: bool = False, ephemeral: bool = False) -> str:
    kind = "ephemeralContainers" if ephemeral else "initContainers" if init else "containers"
    return f"spec.{kind}{{{name}}}"


class EventRecorder:
    def __init__(self, client: AsyncClient, node: str, now):
        self.client, self.node, self.now = client, node, now
        self._tasks: set[asyncio.Task] = set()
        self._seq = 0
        self.sent = 0

    def record(self, pod: dict, kind: str, reason: str, message: str,
               field_path: str | None = None) -> None:
        self._seq += 1
        obj = event_object(pod, self.node, kind, reason, message, field_path, self.now(),
                           self._seq)
        task = asyncio.get_running_loop().create_task(self._send(obj))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, obj: dict) -> None:
        ns = obj["metadata"]["namespace"]
        try:
            await self.client.create(f"/api/v1/namespaces/{ns}/events", obj)
            self.sent += 1
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.info("event %s %s not recorded: %s", obj["reason"],
                     obj["involvedObject"].get("name"), exc)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait for the events in flight (used at shutdown and by tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
