"""PodTopologySpread (plugins/podtopologyspread/{filtering,scoring}.go): hard constraints
(``whenUnsatisfiable: DoNotSchedule``) filter, soft ones (``ScheduleAnyway``) score.

Counted: the pods in the incoming pod's namespace matching a constraint's ``labelSelector``
(not being deleted) on the nodes that pass the node inclusion policies (upstream defaults:
``nodeAffinityPolicy: Honor``, ``nodeTaintsPolicy: Ignore``) and carry every constraint's
topology key.  ``minDomains`` is honoured; the cluster default constraints (used upstream
for pods owned by services / replica sets) are not applied.
"""
from __future__ import annotations

import math

from workers.scheduler.filters import (UNRESOLVABLE, UNSCHEDULABLE, Status,
                                       required_node_affinity_matches, untolerated)
from workers.scheduler.selectors import label_selector_matches


def constraints(pod: dict, when: str) -> list[dict]:
    return [c for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
            if isinstance(c, dict) and c.get("whenUnsatisfiable", "DoNotSchedule") == when]


def _included(pod: dict, c: dict, info) -> bool:
    if c.get("nodeAffinityPolicy", "Honor") == "Honor" and \
            not required_node_affinity_matches(pod, info.node):
        return False
    if c.get("nodeTaintsPolicy", "Ignore") == "Honor":
        taints = (info.node.get("spec") or {}).get("taints") or []
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        if untolerated(taints, tolerations, ("NoSchedule", "NoExecute")):
            return False
    return True


def _count(pod: dict, cons: list[dict], infos: dict) -> list[dict]:
    """Per constraint: topology value → matching pods, over the eligible nodes."""
    ns = (pod.get("metadata") or {}).get("namespace")
    keys = [c.get("topologyKey", "") for c in cons]
    out = [dict() for _ in cons]
    for info in infos.values():
        if not all(k in info.labels for k in keys):
            continue
        for i, c in enumerate(cons):
            if not _included(pod, c, info):
                continue
            value = info.labels[keys[i]]
            n = 0
            for other in info.pods.values():
                om = other.get("metadata") or {}
                if om.get("namespace") == ns and not om.get("deletionTimestamp") and \
                        label_selector_matches(c.get("labelSelector"), om.get("labels")):
                    n += 1
            out[i][value] = out[i].get(value, 0) + n
    return out


def prefilter(pod: dict, infos: dict) -> dict | None:
    cons = constraints(pod, "DoNotSchedule")
    if not cons:
        return None
    return {"constraints": cons, "counts": _count(pod, cons, infos)}


def topology_spread(pod: dict, info, state) -> Status | None:
    s = state.spread
    if s is None:
        return None
    labels = (pod.get("metadata") or {}).get("labels") or {}
    for c in s["constraints"]:
        if c.get("topologyKey", "") not in info.labels:
            return Status(UNRESOLVABLE, ["node(s) didn't match pod topology spread constraints "
                                         "(missing required label)"], "PodTopologySpread")
    for c, counts in zip(s["constraints"], s["counts"]):
        value = info.labels[c.get("topologyKey", "")]
        self_match = 1 if label_selector_matches(c.get("labelSelector"), labels) else 0
        min_domains = int(c.get("minDomains") or 1)
        lowest = min(counts.values()) if counts and len(counts) >= min_domains else 0
        skew = counts.get(value, 0) + self_match - lowest
        if skew > int(c.get("maxSkew") or 1):
            return Status(UNSCHEDULABLE, ["node(s) didn't match pod topology spread constraints"],
                          "PodTopologySpread")
    return None


# ---- Score ---------------------------------------------------------------------------------
def prescore(pod: dict, infos: dict) -> dict | None:
    cons = constraints(pod, "ScheduleAnyway")
    if not cons:
        return None
    counts = _count(pod, cons, infos)
    # upstream topologyNormalizingWeight: log(number of domains + 2)
    weights = [math.log(len(c) + 2) for c in counts]
    return {"constraints": cons, "counts": counts, "weights": weights}


def score(pod: dict, info, state) -> float | None:
    s = state.spread_scores
    if s is None:
        return 0
    total = 0.0
    for c, counts, w in zip(s["constraints"], s["counts"], s["weights"]):
        key = c.get("topologyKey", "")
        if key not in info.labels:
            return None                 # ignored node: scores 0 after normalizing
        total += counts.get(info.labels[key], 0) * w + (int(c.get("maxSkew") or 1) - 1)
    return total


def normalize(scores: dict) -> dict:
    """Fewer matching pods → higher score (plugins/podtopologyspread/scoring.go)."""
    known = [v for v in scores.values() if v is not None]
    if not known:
        return {k: 0 for k in scores}
    lo, hi = min(known), max(known)
    out = {}
    for k, v in scores.items():
        if v is None:
            out[k] = 0
        elif hi == 0:
            out[k] = 100
        else:
            out[k] = 100 * (hi + lo - v) / hi
    return out
