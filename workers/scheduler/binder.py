"""Writes the scheduler makes through the API: the binding (DefaultBinder,
plugins/defaultbinder/default_binder.go), the PodScheduled=False condition and
nominatedNodeName of a pod that did not fit (schedule_one.go ``updatePod``), and the
victims' deletions of a preemption.  Events are recorded by the caller.
"""
from __future__ import annotations

from datetime import datetime, timezone

from apiserver.client import ApiError


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(pod: dict) -> str:
    m = pod.get("metadata") or {}
    return f"/api/v1/namespaces/{m.get('namespace')}/pods/{m.get('name')}"


async def bind(client, pod: dict, node: str) -> None:
    """POST pods/NAME/binding; raises ApiError (409 when already bound or being deleted)."""
    m = pod.get("metadata") or {}
    body = {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": m.get("name"), "namespace": m.get("namespace"),
                         "uid": m.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    await client.create(_path(pod) + "/binding", body)


def scheduled_condition(pod: dict) -> dict | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "PodScheduled":
            return c
    return None


async def mark_unschedulable(client, pod: dict, message: str, reason: str = "Unschedulable",
                             nominated: str | None = None) -> None:
    """Set PodScheduled=False (reason, message) and, when preempting, nominatedNodeName.
    Nothing is written when the condition and nomination already say so (no churn on every
    retry, as upstream's ``updatePod`` skips unchanged conditions)."""
    old = scheduled_condition(pod) or {}
    status = pod.get("status") or {}
    same = (old.get("status") == "False" and old.get("reason") == reason
            and old.get("message") == message)
    if same and (nominated is None or status.get("nominatedNodeName") == nominated):
        return
    cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": old.get("lastTransitionTime")
            if old.get("status") == "False" else now_rfc3339()}
    patch: dict = {"status": {"conditions": [cond]}}
    if nominated is not None:
        patch["status"]["nominatedNodeName"] = nominated
    try:
        await client.patch(_path(pod) + "/status", patch,
                           content_type="application/strategic-merge-patch+json")
    except ApiError as exc:
        if exc.status != 404:
            raise


async def delete_victim(client, pod: dict) -> None:
    """Delete with the victim's own grace period (no DeleteOptions: its
    terminationGracePeriodSeconds applies), preconditioned on its UID."""
    uid = (pod.get("metadata") or {}).get("uid")
    options = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if uid:
        options["preconditions"] = {"uid": uid}
    try:
        await client.delete(_path(pod), options)
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
