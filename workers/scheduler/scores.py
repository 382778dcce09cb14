"""Per-node Score plugins and their normalizers, with upstream's default weights
(pkg/scheduler/apis/config/v1/default_plugins.go): TaintToleration 3, NodeAffinity 2,
PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1 (LeastAllocated),
NodeResourcesBalancedAllocation 1, ImageLocality 1.  Every plugin's scores end in 0..100
(MaxNodeScore) before weighting."""
from __future__ import annotations

import math

from workers.scheduler.filters import tolerates
from workers.scheduler.nodeinfo import NodeInfo
from workers.scheduler.selectors import node_selector_term_matches

MAX_NODE_SCORE = 100
MB = 1024 * 1024
IMAGE_MIN_THRESHOLD = 23 * MB            # plugins/imagelocality/image_locality.go
IMAGE_MAX_CONTAINER_THRESHOLD = 1000 * MB
RESOURCES = (("cpu", 1), ("memory", 1))   # upstream's default scoring resources and weights


# ---- NodeResourcesFit LeastAllocated (plugins/noderesources/least_allocated.go) ----------
def least_allocated(pod: dict, info: NodeInfo, state) -> float:
    total = weights = 0
    for name, w in RESOURCES:
        cap = info.allocatable.get(name, 0)
        req = info.non_zero.get(name, 0) + state.non_zero.get(name, 0)
        s = 0 if cap == 0 or req > cap else (cap - req) * MAX_NODE_SCORE // cap
        total += s * w
        weights += w
    return total // weights if weights else 0


# ---- NodeResourcesBalancedAllocation (plugins/noderesources/balanced_allocation.go) ------
def balanced_allocation(pod: dict, info: NodeInfo, state) -> float:
    fractions = []
    for name, _ in RESOURCES:
        cap = info.allocatable.get(name, 0)
        if cap == 0:
            continue
        req = info.requested.get(name, 0) + state.requests.get(name, 0)
        fractions.append(min(req / cap, 1.0))
    if len(fractions) < 2:
        return MAX_NODE_SCORE if fractions else 0
    mean = sum(fractions) / len(fractions)
    std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


# ---- NodeAffinity preferred terms (plugins/nodeaffinity/node_affinity.go Score) ----------
def node_affinity(pod: dict, info: NodeInfo, state) -> float:
    prefs = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
             .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    return sum(int(p.get("weight") or 0) for p in prefs
               if node_selector_term_matches(p.get("preference") or {}, info.node))


# ---- TaintToleration PreferNoSchedule (plugins/tainttoleration/taint_toleration.go) ------
def taint_toleration(pod: dict, info: NodeInfo, state) -> float:
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                   if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
    return sum(1 for taint in (info.node.get("spec") or {}).get("taints") or []
               if taint.get("effect") == "PreferNoSchedule"
               and not any(tolerates(t, taint) for t in tolerations))


# ---- ImageLocality (plugins/imagelocality/image_locality.go) -------------------------------
def normalized_image_name(name: str) -> str:
    """Upstream ``normalizedImageName``: only a missing tag is added (``nginx`` →
    ``nginx:latest``); no registry is, so a pod's ``nginx`` matches a node reporting
    ``nginx:latest`` but not ``docker.io/library/nginx:latest`` — upstream's known gap."""
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


def pod_images(pod: dict) -> list[str]:
    """Normalized images of the init containers then the containers."""
    spec = pod.get("spec") or {}
    return [normalized_image_name(c.get("image") or "")
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]


def image_locality(pod: dict, info: NodeInfo, state) -> float:
    """Sum over the pod's containers of (image size × share of nodes having it) for the
    images this node has, clamped to [23 MB, 1000 MB × containers] and scaled to 0..100
    (``calculatePriority``).  ``state.image_nodes`` / ``state.num_nodes`` come from
    PreScore."""
    images = pod_images(pod)
    total_nodes = state.num_nodes or 1
    total = 0
    for name in images:
        size = info.images.get(name)
        if size is not None:
            spread = (state.image_nodes or {}).get(name, 0) / total_nodes
            total += int(size * spread)
    ceiling = IMAGE_MAX_CONTAINER_THRESHOLD * len(images)
    if ceiling <= IMAGE_MIN_THRESHOLD:
        return 0
    total = min(max(total, IMAGE_MIN_THRESHOLD), ceiling)
    return MAX_NODE_SCORE * (total - IMAGE_MIN_THRESHOLD) // (ceiling - IMAGE_MIN_THRESHOLD)


def default_normalize(scores: dict, reverse: bool = False) -> dict:
    """helper.DefaultNormalizeScore: scale so the highest is 100 (reversed: the lowest)."""
    top = max(scores.values(), default=0)
    if top == 0:
        return {k: (MAX_NODE_SCORE if reverse else 0) for k in scores}
    out = {}
    for k, v in scores.items():
        s = MAX_NODE_SCORE * v // top
        out[k] = MAX_NODE_SCORE - s if reverse else s
    return out


def normalize_reverse(scores: dict) -> dict:
    return default_normalize(scores, reverse=True)
