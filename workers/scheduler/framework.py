"""One scheduling cycle on a snapshot of NodeInfos, as pkg/scheduler/schedule_one.go
``schedulePod``: PreFilter once per pod, Filter every node (plugins in upstream's order,
stopping at a node's first failure), then — with more than one feasible node — PreScore,
Score, NormalizeScore and the weighted sum, and ``selectHost`` picks the best, breaking ties
uniformly at random (reservoir sampling, as upstream).

``schedule(pod, infos, rng, namespaces, spread_selector)`` returns the chosen node name or
raises ``FitError`` (``namespaces``: namespace name → its labels, for the
``namespaceSelector`` of pod affinity terms; unknown namespaces have no labels;
``spread_selector``: the pod's ``spread.default_selector`` or a function returning it, for
the default spreading), whose
``message(post_filter)`` is upstream's "0/N nodes are available: ..." sentence.  Nothing here
awaits: a cycle sees one consistent snapshot.
"""
from __future__ import annotations

import random

from workers.scheduler import affinity, filters, scores, spread
from workers.scheduler.filters import Status
from workers.scheduler.nodeinfo import NodeInfo, image_node_counts, pod_requests

FILTERS = (
    ("NodeUnschedulable", filters.node_unschedulable),
    ("NodeName", filters.node_name),
    ("TaintToleration", filters.taint_toleration),
    ("NodeAffinity", filters.node_affinity),
    ("NodePorts", filters.node_ports),
    ("NodeResourcesFit", filters.node_resources_fit),
    ("PodTopologySpread", spread.topology_spread),
    ("InterPodAffinity", affinity.inter_pod_affinity),
)

# (plugin, weight, score(pod, info, state), normalize(scores) or None)
SCORES = (
    ("TaintToleration", 3, scores.taint_toleration, scores.normalize_reverse),
    ("NodeAffinity", 2, scores.node_affinity, scores.default_normalize),
    ("NodeResourcesFit", 1, scores.least_allocated, None),
    ("PodTopologySpread", 2, spread.score, spread.normalize),
    ("InterPodAffinity", 2, affinity.score, affinity.normalize),
    ("NodeResourcesBalancedAllocation", 1, scores.balanced_allocation, None),
    ("ImageLocality", 1, scores.image_locality, None),
)

NO_NODE_AVAILABLE = "0/{} nodes are available"


class CycleState:
    """What PreFilter / PreScore computed once for the pod being scheduled."""

    def __init__(self, pod: dict, infos: dict[str, NodeInfo], namespaces: dict | None = None,
                 spread_selector=None):
        self.namespaces = namespaces or {}
        self.spread_selector = spread_selector
        self.requests = pod_requests(pod)
        self.non_zero = pod_requests(pod, non_zero=True)
        self.affinity = affinity.prefilter(pod, infos, self.namespaces) \
            if _needs_affinity(pod, infos) else None
        self.spread = spread.prefilter(pod, infos)
        self.affinity_scores = None
        self.spread_scores = None
        self.num_nodes = len(infos)
        self.image_nodes = None

    def prescore(self, pod: dict, infos: dict[str, NodeInfo]) -> None:
        self.affinity_scores = affinity.prescore(pod, infos, self.namespaces)
        self.spread_scores = spread.prescore(pod, infos, self.spread_selector)
        self.num_nodes = len(infos)
        self.image_nodes = image_node_counts(infos, scores.pod_images(pod))


def _needs_affinity(pod: dict, infos: dict[str, NodeInfo]) -> bool:
    if affinity.terms(pod, "podAffinity", "required") or \
            affinity.terms(pod, "podAntiAffinity", "required"):
        return True
    return any(affinity.terms(p, "podAntiAffinity", "required")
               for info in infos.values() for p in info.affinity_pods.values())


class FitError(Exception):
    """No node fits: ``statuses`` maps node name → the first failing filter's Status."""

    def __init__(self, pod: dict, num_nodes: int, statuses: dict[str, Status]):
        self.pod, self.num_nodes, self.statuses = pod, num_nodes, statuses
        super().__init__(self.message())

    def histogram(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for st in self.statuses.values():
            for r in st.reasons:
                counts[r] = counts.get(r, 0) + 1
        return counts

    def message(self, post_filter: str = "") -> str:
        """framework.FitError.Error (pkg/scheduler/framework/types.go)."""
        msg = NO_NODE_AVAILABLE.format(self.num_nodes) + ":"
        reasons = sorted(f"{n} {r}" for r, n in self.histogram().items())
        if reasons:
            msg += " " + ", ".join(reasons) + "."
        if post_filter:
            msg += " " + post_filter
        return msg


def filter_node(pod: dict, info: NodeInfo, state: CycleState) -> Status | None:
    for name, fn in FILTERS:
        st = fn(pod, info, state)
        if st is not None:
            st.plugin = name
            return st
    return None


def find_feasible(pod: dict, infos: dict[str, NodeInfo], state: CycleState):
    feasible, statuses = [], {}
    for name, info in infos.items():
        st = filter_node(pod, info, state)
        if st is None:
            feasible.append(info)
        else:
            statuses[name] = st
    return feasible, statuses


def prioritize(pod: dict, feasible: list[NodeInfo], state: CycleState,
               infos: dict[str, NodeInfo]) -> dict[str, float]:
    state.prescore(pod, infos)
    total = {info.name: 0.0 for info in feasible}
    for _, weight, fn, normalize in SCORES:
        raw = {info.name: fn(pod, info, state) for info in feasible}
        if normalize is not None:
            raw = normalize(raw)
        for name, s in raw.items():
            total[name] += (s or 0) * weight
    return total


def select_host(totals: dict[str, float], rng: random.Random) -> str:
    """The highest total; among equals each is chosen with the same probability."""
    best, best_score, ties = None, None, 0
    for name, s in totals.items():
        if best_score is None or s > best_score:
            best, best_score, ties = name, s, 1
        elif s == best_score:
            ties += 1
            if rng.randrange(ties) == 0:
                best = name
    return best


def schedule(pod: dict, infos: dict[str, NodeInfo], rng: random.Random | None = None,
             namespaces: dict | None = None, spread_selector=None) -> str:
    if not infos:
        raise FitError(pod, 0, {})
    rng = rng or random.Random()
    state = CycleState(pod, infos, namespaces, spread_selector)
    feasible, statuses = find_feasible(pod, infos, state)
    if not feasible:
        raise FitError(pod, len(infos), statuses)
    if len(feasible) == 1:
        return feasible[0].name
    return select_host(prioritize(pod, feasible, state, infos), rng)
