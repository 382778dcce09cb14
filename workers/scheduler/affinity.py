"""InterPodAffinity (plugins/interpodaffinity/{filtering,scoring}.go): required pod affinity
and anti-affinity (Filter) and the preferred terms (Score), counted per topology domain
``(topologyKey, node label value)`` over every node's pods.

Namespaces of a term (framework/types.go ``AffinityTerm``): the union of ``namespaces`` and
the namespaces whose labels ``namespaceSelector`` selects (``{}``: every namespace; absent:
none); with neither field, the namespace of the pod that owns the term
(``getNamespacesFromPodAffinityTerm``).  ``namespaces`` arguments below map a namespace name
to its labels (the scheduler's Namespace informer); a namespace not in it is selected only
by ``{}``, as upstream's lister would not return it.
"""
from __future__ import annotations

from workers.scheduler.filters import UNRESOLVABLE, UNSCHEDULABLE, Status
from workers.scheduler.selectors import label_selector_matches

HARD_POD_AFFINITY_WEIGHT = 1    # upstream's default hardPodAffinityWeight


def _affinity(pod: dict) -> dict:
    return (pod.get("spec") or {}).get("affinity") or {}


def terms(pod: dict, kind: str, mode: str) -> list[dict]:
    """``kind`` podAffinity|podAntiAffinity, ``mode`` required|preferred (preferred terms
    are returned as ``{"weight", "podAffinityTerm"}``)."""
    block = _affinity(pod).get(kind) or {}
    key = ("requiredDuringSchedulingIgnoredDuringExecution" if mode == "required"
           else "preferredDuringSchedulingIgnoredDuringExecution")
    return [t for t in block.get(key) or [] if isinstance(t, dict)]


def namespace_matches(term: dict, owner: dict, namespace: str | None,
                      namespaces: dict | None = None) -> bool:
    """Is ``namespace`` one of the term's namespaces (see the module docstring)?"""
    listed = term.get("namespaces") or []
    selector = term.get("namespaceSelector")
    if not listed and selector is None:
        return namespace == (owner.get("metadata") or {}).get("namespace")
    if namespace in listed:
        return True
    if selector is None:
        return False
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return True                                    # {}: every namespace
    labels = (namespaces or {}).get(namespace)
    # upstream lists the Namespaces the selector picks: one not (yet) known is not picked
    return labels is not None and label_selector_matches(selector, labels)


def term_matches(term: dict, owner: dict, target: dict, namespaces: dict | None = None) -> bool:
    """Does ``target`` (a pod) match ``term`` of the pod ``owner``
    (``AffinityTerm.Matches``: the namespace, then the label selector)?"""
    tm = target.get("metadata") or {}
    if not namespace_matches(term, owner, tm.get("namespace"), namespaces):
        return False
    return label_selector_matches(term.get("labelSelector"), tm.get("labels"))


def _domain(info, key: str):
    v = info.labels.get(key)
    return (key, v) if v is not None else None


def _active(pod: dict) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp")


def prefilter(pod: dict, infos: dict, namespaces: dict | None = None) -> dict:
    """Counts for ``filter``: domains of existing pods whose required anti-affinity rejects
    ``pod``, and per term of ``pod`` the domains holding matching pods."""
    aff, anti = terms(pod, "podAffinity", "required"), terms(pod, "podAntiAffinity", "required")
    existing_anti: set = set()
    aff_counts = [dict() for _ in aff]
    anti_counts = [dict() for _ in anti]
    for info in infos.values():
        for other in (info.pods if aff or anti else info.affinity_pods).values():
            for t in terms(other, "podAntiAffinity", "required"):
                d = _domain(info, t.get("topologyKey", ""))
                if d and term_matches(t, other, pod, namespaces):
                    existing_anti.add(d)
            if not _active(other):
                continue
            for i, t in enumerate(aff):
                d = _domain(info, t.get("topologyKey", ""))
                if d and term_matches(t, pod, other, namespaces):
                    aff_counts[i][d] = aff_counts[i].get(d, 0) + 1
            for i, t in enumerate(anti):
                d = _domain(info, t.get("topologyKey", ""))
                if d and term_matches(t, pod, other, namespaces):
                    anti_counts[i][d] = anti_counts[i].get(d, 0) + 1
    return {"aff": aff, "anti": anti, "existing_anti": existing_anti,
            "aff_counts": aff_counts, "anti_counts": anti_counts}


def inter_pod_affinity(pod: dict, info, state) -> Status | None:
    s = state.affinity
    if s is None:
        return None
    if s["aff"]:
        ok = True
        for t, counts in zip(s["aff"], s["aff_counts"]):
            d = _domain(info, t.get("topologyKey", ""))
            if d is None or counts.get(d, 0) <= 0:
                ok = False
                break
        if not ok:
            # the first pod of a group that selects itself may go anywhere with the labels
            nobody = not any(s["aff_counts"][i] for i in range(len(s["aff"])))
            self_match = all(term_matches(t, pod, pod, state.namespaces) for t in s["aff"])
            has_keys = all(_domain(info, t.get("topologyKey", "")) for t in s["aff"])
            if not (nobody and self_match and has_keys):
                return Status(UNRESOLVABLE, ["node(s) didn't match pod affinity rules"],
                              "InterPodAffinity")
    for t, counts in zip(s["anti"], s["anti_counts"]):
        d = _domain(info, t.get("topologyKey", ""))
        if d is not None and counts.get(d, 0) > 0:
            return Status(UNSCHEDULABLE, ["node(s) didn't match pod anti-affinity rules"],
                          "InterPodAffinity")
    for key, value in s["existing_anti"]:
        if info.labels.get(key) == value:
            return Status(UNSCHEDULABLE,
                          ["node(s) didn't satisfy existing pods anti-affinity rules"],
                          "InterPodAffinity")
    return None


# ---- Score ---------------------------------------------------------------------------------
def prescore(pod: dict, infos: dict, namespaces: dict | None = None) -> dict:
    """Topology domain → summed weight, from the pod's preferred terms against existing pods
    and existing pods' terms (preferred, and required affinity at weight 1) against it."""
    pref_aff = terms(pod, "podAffinity", "preferred")
    pref_anti = terms(pod, "podAntiAffinity", "preferred")
    scores: dict = {}

    def add(info, term, weight):
        d = _domain(info, term.get("topologyKey", ""))
        if d is not None and weight:
            scores[d] = scores.get(d, 0) + weight

    for info in infos.values():
        for other in (info.pods if pref_aff or pref_anti else info.affinity_pods).values():
            for w in pref_aff:
                t = w.get("podAffinityTerm") or {}
                if term_matches(t, pod, other, namespaces):
                    add(info, t, int(w.get("weight") or 0))
            for w in pref_anti:
                t = w.get("podAffinityTerm") or {}
                if term_matches(t, pod, other, namespaces):
                    add(info, t, -int(w.get("weight") or 0))
            for t in terms(other, "podAffinity", "required"):
                if term_matches(t, other, pod, namespaces):
                    add(info, t, HARD_POD_AFFINITY_WEIGHT)
            for w in terms(other, "podAffinity", "preferred"):
                t = w.get("podAffinityTerm") or {}
                if term_matches(t, other, pod, namespaces):
                    add(info, t, int(w.get("weight") or 0))
            for w in terms(other, "podAntiAffinity", "preferred"):
                t = w.get("podAffinityTerm") or {}
                if term_matches(t, other, pod, namespaces):
                    add(info, t, -int(w.get("weight") or 0))
    return scores


def score(pod: dict, info, state) -> float:
    domains = state.affinity_scores or {}
    return sum(w for (k, v), w in domains.items() if info.labels.get(k) == v)


def normalize(scores: dict) -> dict:
    """Min-max to 0..100 (plugins/interpodaffinity/scoring.go NormalizeScore)."""
    if not scores:
        return scores
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {k: 0 for k in scores}
    return {k: 100 * (v - lo) / (hi - lo) for k, v in scores.items()}
