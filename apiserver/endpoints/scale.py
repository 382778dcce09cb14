"""The ``/scale`` subresource: an ``autoscaling/v1 Scale`` view of a kind's replica fields.

Upstream: kubernetes/kubernetes:pkg/registry/apps/deployment/storage/storage.go (ScaleREST)
and the CRD scale handler; the kind declares where its replicas live with a ``Scale``
subresource (``apiserver.registry.strategy.Scale``), which these functions take.
"""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict


def _get_path(obj: dict, path: str):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj: dict, path: str, value) -> None:
    parts = path.split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def to_scale(spec, obj: dict) -> dict:
    m = obj["metadata"]
    selector = _get_path(obj, spec.label_selector)
    if isinstance(selector, dict):
        selector = label_selector_from_dict(selector).to_string()
    status = {"replicas": _get_path(obj, spec.status_replicas) or 0}
    if selector:
        status["selector"] = selector
    meta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in m}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
            "spec": {"replicas": _get_path(obj, spec.spec_replicas) or 0}, "status": status}


def apply_scale(spec, obj: dict, scale: dict) -> dict:
    """Copy ``scale.spec.replicas`` into ``obj``; 422 when it is not a non-negative integer."""
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.Invalid.for_object("Scale", "autoscaling", obj["metadata"]["name"], [
            errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
    _set_path(obj, spec.spec_replicas, replicas)
    return obj
