"""PodTopologySpread (plugins/podtopologyspread/{filtering,scoring}.go): hard constraints
(``whenUnsatisfiable: DoNotSchedule``) filter, soft ones (``ScheduleAnyway``) score.

Counted: the pods in the incoming pod's namespace matching a constraint's ``labelSelector``
(not being deleted) on the nodes that pass the node inclusion policies (upstream defaults:
``nodeAffinityPolicy: Honor``, ``nodeTaintsPolicy: Ignore``) and carry every constraint's
topology key.  ``minDomains`` is honoured.

A pod with no constraints of its own gets upstream's cluster-level defaults for scoring
(``defaultingType: System``, plugins/podtopologyspread/plugin.go ``systemDefaultConstraints``:
``kubernetes.io/hostname`` maxSkew 3 and ``topology.kubernetes.io/zone`` maxSkew 5, both
ScheduleAnyway) over :func:`default_selector` (helper/spread.go ``DefaultSelector``: the
selectors of the Services selecting the pod and of its controlling ReplicationController,
ReplicaSet or StatefulSet); none when that selector is empty.  So the replicas of a
Deployment spread over the nodes.  With the defaults a node without a constraint's key only
leaves that constraint out (upstream's ``requireAllTopologies`` is false).
"""
from __future__ import annotations

import math

from workers.scheduler.filters import (UNRESOLVABLE, UNSCHEDULABLE, Status,
                                       required_node_affinity_matches, untolerated)
from workers.scheduler.selectors import label_selector_matches


# (topologyKey, maxSkew) of upstream's systemDefaultConstraints, in its order
SYSTEM_DEFAULTS = (("kubernetes.io/hostname", 3), ("topology.kubernetes.io/zone", 5))
CONTROLLERS = {("v1", "ReplicationController"): "replicationcontrollers",
               ("apps/v1", "ReplicaSet"): "replicasets",
               ("apps/v1", "StatefulSet"): "statefulsets"}


def default_selector(pod: dict, services, controller: dict | None) -> dict:
    """DefaultSelector as one LabelSelector: the ``spec.selector`` maps of ``services`` (the
    pod's namespace's) that select the pod, merged, and the requirements of ``controller``'s
    selector (the object of the pod's controller reference, looked up by the caller: an RC's
    map is merged with the services', a ReplicaSet's or StatefulSet's LabelSelector added).
    ``{}`` when nothing selects the pod."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    merged: dict = {}
    for svc in services:
        selector = (svc.get("spec") or {}).get("selector")
        if selector is None:
            continue                     # a nil selector selects nothing, not everything
        if all(labels.get(k) == v for k, v in selector.items()):
            merged.update(selector)
    expressions: list = []
    if controller is not None:
        selector = (controller.get("spec") or {}).get("selector") or {}
        if controller.get("kind") == "ReplicationController":
            merged.update(selector)
        else:
            expressions = [{"key": k, "operator": "In", "values": [v]}
                           for k, v in (selector.get("matchLabels") or {}).items()]
            expressions += list(selector.get("matchExpressions") or [])
    out: dict = {}
    if merged:
        out["matchLabels"] = merged
    if expressions:
        out["matchExpressions"] = expressions
    return out


def controller_ref(pod: dict) -> tuple[str, str] | None:
    """(resource, name) of the pod's controller when DefaultSelector reads it."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            resource = CONTROLLERS.get((ref.get("apiVersion"), ref.get("kind")))
            return (resource, ref.get("name", "")) if resource else None
    return None


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


def _count(pod: dict, cons: list[dict], infos: dict, system: bool = False) -> list[dict]:
    """Per constraint: topology value → matching pods, over the eligible nodes (with the
    system defaults a node counts for each constraint whose key it has)."""
    ns = (pod.get("metadata") or {}).get("namespace")
    keys = [c.get("topologyKey", "") for c in cons]
    out = [dict() for _ in cons]
    for info in infos.values():
        if not system and not all(k in info.labels for k in keys):
            continue
        for i, c in enumerate(cons):
            if keys[i] not in info.labels or not _included(pod, c, info):
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
def prescore(pod: dict, infos: dict, selector=None) -> dict | None:
    """The soft constraints' counts; ``selector`` is the pod's :func:`default_selector` (or a
    function returning it, asked only when needed), used when the pod has no constraints of
    its own."""
    system = False
    if (pod.get("spec") or {}).get("topologySpreadConstraints"):
        cons = constraints(pod, "ScheduleAnyway")
    elif selector is not None and (selector := selector() if callable(selector) else selector):
        cons = [{"topologyKey": key, "maxSkew": skew, "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": selector} for key, skew in SYSTEM_DEFAULTS]
        system = True
    else:
        cons = []
    if not cons:
        return None
    counts = _count(pod, cons, infos, system)
    # upstream topologyNormalizingWeight: log(number of domains + 2)
    weights = [math.log(len(c) + 2) for c in counts]
    return {"constraints": cons, "counts": counts, "weights": weights, "system": system}


def score(pod: dict, info, state) -> float | None:
    s = state.spread_scores
    if s is None:
        return 0
    total = 0.0
    for c, counts, w in zip(s["constraints"], s["counts"], s["weights"]):
        key = c.get("topologyKey", "")
        if key not in info.labels:
            if s["system"]:
                continue                # the defaults: this constraint is left out
            return None                 # ignored node: scores 0 after normalizing
        total += counts.get(info.labels[key], 0) * w + (int(c.get("maxSkew") or 1) - 1)
    return round(total)                 # upstream: int64(math.Round(score))


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
            out[k] = 100 * (hi + lo - v) // hi     # int64 arithmetic, as upstream
    return out
