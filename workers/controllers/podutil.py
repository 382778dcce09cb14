"""What controllers ask of pods (upstream pkg/controller/controller_utils.go and
pkg/api/v1/pod/util.go): active, ready, available, owned; the order in which a controller
deletes surplus pods; and a pod made from an owner's template."""
from __future__ import annotations

from datetime import datetime, timezone

from apiserver.client import ApiError

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def is_active(pod: dict) -> bool:
    """``FilterActivePods``: not terminal and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: dict) -> dict | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def is_ready(pod: dict) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """``IsPodAvailable``: ready for at least ``min_ready_seconds``."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(ready_condition(pod).get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def controller_ref(obj: dict) -> dict | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def resolve_controller_ref(obj: dict, kind: str, owners) -> dict | None:
    """The cached owner ``obj``'s controllerRef names, if it is of ``kind`` and still the
    same object (its uid matches); upstream's per-controller ``resolveControllerRef``."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    owner = owners.get(ref.get("name"), obj["metadata"].get("namespace"))
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return None
    return owner


async def set_controller_ref(client, path: str, obj: dict, owner: dict | None) -> dict | None:
    """Adopt ``obj`` for ``owner`` (or release it with None): one patch of its
    ownerReferences guarded by its uid, as upstream's controller_ref_manager.  Returns the
    patched object, or None when it is gone or changed under us (the next sync decides
    again)."""
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if not r.get("controller")]
    if owner is not None:
        refs.append(owner_reference(owner))
    try:
        return await client.patch(path, {"metadata": {"uid": obj["metadata"]["uid"],
                                                      "ownerReferences": refs}})
    except ApiError as exc:
        if exc.status in (404, 409, 422):
            return None
        raise


def owner_reference(owner: dict) -> dict:
    """The controllerRef a controller puts on what it creates (blockOwnerDeletion, as upstream)."""
    m = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": m["name"],
            "uid": m["uid"], "controller": True, "blockOwnerDeletion": True}


def pod_from_template(owner: dict, template: dict) -> dict:
    """``GetPodFromTemplate``: the template's labels, annotations and spec, a generated name
    after the owner's, and the owner as controller."""
    meta = template.get("metadata") or {}
    name = owner["metadata"]["name"]
    prefix = f"{name}-" if len(name) < 58 else f"{name[:57]}-"
    pod_meta = {"generateName": prefix, "namespace": owner["metadata"]["namespace"],
                "ownerReferences": [owner_reference(owner)]}
    for key in ("labels", "annotations", "finalizers"):
        if meta.get(key):
            pod_meta[key] = dict(meta[key]) if isinstance(meta[key], dict) else list(meta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": dict(template.get("spec") or {})}


def _restarts(pod: dict) -> int:
    return sum(int(c.get("restartCount") or 0)
               for c in (pod.get("status") or {}).get("containerStatuses") or [])


def deletion_order(pods: list[dict], related: list[dict] | None = None) -> list[dict]:
    """Surplus pods in the order they go (``ActivePodsWithRanks``' Less, the first deleted
    first): unscheduled before scheduled, Pending before Unknown before Running, not ready
    before ready, lower pod-deletion-cost first, more doubled-up on one node first, ready
    more recently first, more restarts first, newer first."""
    per_node: dict[str, int] = {}
    for p in related if related is not None else pods:
        node = (p.get("spec") or {}).get("nodeName")
        if node and is_active(p):
            per_node[node] = per_node.get(node, 0) + 1

    def cost(p):
        try:
            return int((p["metadata"].get("annotations") or {}).get(DELETION_COST, "0"))
        except ValueError:
            return 0

    def key(p):
        node = (p.get("spec") or {}).get("nodeName")
        ready = is_ready(p)
        ready_since = parse_time((ready_condition(p) or {}).get("lastTransitionTime")) or 0
        created = parse_time(p["metadata"].get("creationTimestamp")) or 0
        return (bool(node), PHASE_RANK.get((p.get("status") or {}).get("phase"), 1), ready,
                cost(p), -per_node.get(node, 0) if node else 0,
                -ready_since if ready else 0, -_restarts(p), -created)
    return sorted(pods, key=key)
