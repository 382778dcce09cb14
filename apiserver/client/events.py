"""An event recorder for API clients (controllers, the scheduler, kubelets), as client-go's
tools/record: core/v1 Events in the involved object's namespace (``default`` for cluster-scoped
objects, as upstream), ``source.component`` the reporting component, count 1 and
first = last timestamp, named ``<object>.<unix nanoseconds in hex>``.  ``kubectl describe``
lists them.

Recording never blocks or fails the caller: each event is sent from its own task and a
failure is logged (events are best effort; upstream drops them too).  Standard library and
this package only.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from apiserver.client.errors import ApiError

log = logging.getLogger("apiserver.client.events")


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def involved_object(obj: dict, field_path: str | None = None) -> dict:
    m = obj.get("metadata") or {}
    out = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": m.get("name"),
           "namespace": m.get("namespace"), "uid": m.get("uid"),
           "resourceVersion": m.get("resourceVersion"), "fieldPath": field_path}
    return {k: v for k, v in out.items() if v}


def event_object(obj: dict, component: str, host: str, kind: str, reason: str, message: str,
                 field_path: str | None, now: str, seq: int) -> dict:
    m = obj.get("metadata") or {}
    ns = m.get("namespace") or "default"
    source = {"component": component, **({"host": host} if host else {})}
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{m.get('name')}.{time.time_ns() + seq:x}", "namespace": ns},
            "involvedObject": involved_object(obj, field_path),
            "reason": reason, "message": message, "type": kind, "source": source,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": component, "reportingInstance": host or component}


class EventRecorder:
    def __init__(self, client, component: str, host: str = "", now=now_rfc3339):
        self.client, self.component, self.host, self.now = client, component, host, now
        self._tasks: set[asyncio.Task] = set()
        self._seq = 0
        self.sent = 0

    def record(self, obj: dict, kind: str, reason: str, message: str,
               field_path: str | None = None) -> None:
        """Send an event about ``obj`` (``kind`` Normal or Warning) in the background."""
        self._seq += 1
        event = event_object(obj, self.component, self.host, kind, reason, message, field_path,
                             self.now(), self._seq)
        task = asyncio.get_running_loop().create_task(self._send(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, event: dict) -> None:
        ns = event["metadata"]["namespace"]
        try:
            await self.client.create(f"/api/v1/namespaces/{ns}/events", event)
            self.sent += 1
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.info("event %s %s not recorded: %s", event["reason"],
                     event["involvedObject"].get("name"), exc)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait for the events in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
