"""Deployment arithmetic (upstream pkg/controller/deployment/util/deployment_util.go and
pod-template hashing in pkg/controller/controller_utils.go ``ComputeHash``): revisions,
max surge / max unavailable, the new ReplicaSet's size under a rolling update, template
equality ignoring ``pod-template-hash``."""
from __future__ import annotations

import copy
import json
import math

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# annotations a Deployment does not hand to its ReplicaSets (``skipCopyAnnotation``)
NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
              DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"}
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: dict, collision_count: int | None = None) -> str:
    """A stable name-safe hash of the pod template (and the collision count), spelt in the
    alphabet of ``rand.SafeEncodeString`` as upstream's ``ComputeHash``.  The digits differ
    from Go's (which hashes a spew dump), which nobody compares."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in str(_fnv32a(data)))


def without_hash(template: dict) -> dict:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a: dict, b: dict) -> bool:
    return without_hash(a) == without_hash(b)


def revision(obj: dict) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _resolve(value, total: int, round_up: bool) -> int:
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        share = int(text[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)


def surge_and_unavailable(deployment: dict) -> tuple[int, int]:
    """``ResolveFenceposts``: surge rounds up, unavailable rounds down, never both zero."""
    spec = deployment["spec"]
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge"), replicas, True)
    unavailable = _resolve(rolling.get("maxUnavailable"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def replicas_of(obj: dict) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def new_rs_replicas(deployment: dict, all_rs: list[dict], new_rs: dict) -> int:
    """``NewRSNewReplicas`` for RollingUpdate: grow the new ReplicaSet as far as maxSurge lets
    the total go, never past the Deployment's replicas."""
    want = replicas_of(deployment)
    if (deployment["spec"].get("strategy") or {}).get("type") == "Recreate":
        return want
    surge, _ = surge_and_unavailable(deployment)
    current = sum(replicas_of(rs) for rs in all_rs)
    max_total = want + surge
    if current >= max_total:
        return replicas_of(new_rs)
    grow = min(max_total - current, want - replicas_of(new_rs))
    return replicas_of(new_rs) + max(grow, 0)
