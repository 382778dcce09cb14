"""DefaultPreemption (plugins/defaultpreemption/default_preemption.go and
framework/preemption/preemption.go), run when no node fits a pod.

``find_candidate(pod, infos, fit_error, namespaces)`` looks at every node whose failure was
``Unschedulable`` (resolvable; ``UnschedulableAndUnresolvable`` nodes are "not helpful"):
it removes every pod of lower priority, checks the pod fits, then gives back
("reprieves") the victims one at a time, highest priority first, as long as the pod still
fits.  Among the nodes that work it picks (pickOneNodeForPreemption, first criteria): the
lowest highest-victim priority, then the smallest sum of victim priorities, then the
fewest victims, then the name.  It returns ``(node, victims, message)`` — node None when no
node works, with the "preemption: 0/N nodes are available: ..." sentence appended to the
FailedScheduling message.  PodDisruptionBudgets are not consulted.
"""
from __future__ import annotations

from workers.scheduler.filters import UNRESOLVABLE
from workers.scheduler.framework import CycleState, FitError, filter_node

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def priority(pod: dict) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def eligible(pod: dict, infos: dict) -> str | None:
    """None when the pod may preempt; else the reason it may not (podEligibleToPreemptOthers)."""
    spec = pod.get("spec") or {}
    if spec.get("preemptionPolicy") == "Never":
        return "not eligible due to preemptionPolicy=Never."
    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    info = infos.get(nominated or "")
    if info is not None:
        for other in info.pods.values():
            if (other.get("metadata") or {}).get("deletionTimestamp") and \
                    priority(other) < priority(pod):
                return "not eligible due to a terminating pod on the nominated node."
    return None


def _fits(pod: dict, info, infos: dict, namespaces: dict | None = None) -> bool:
    trial = dict(infos)
    trial[info.name] = info
    return filter_node(pod, info, CycleState(pod, trial, namespaces)) is None


def victims_on(pod: dict, info, infos: dict, namespaces: dict | None = None) -> list[dict] | None:
    lower = [p for p in info.pods.values() if priority(p) < priority(pod)]
    if not lower:
        return None
    trial = info.clone()
    for p in lower:
        trial.remove_pod(_key(p))
    if not _fits(pod, trial, infos, namespaces):
        return None
    victims = []
    for p in sorted(lower, key=lambda p: -priority(p)):
        trial.add_pod(p)
        if not _fits(pod, trial, infos, namespaces):
            trial.remove_pod(_key(p))
            victims.append(p)
    return victims


def _key(pod: dict) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace')}/{m.get('name')}"


def find_candidate(pod: dict, infos: dict, err: FitError, namespaces: dict | None = None):
    why_not = eligible(pod, infos)
    if why_not is not None:
        return None, [], f"preemption: {why_not}"
    candidates, reasons = [], {}
    for name, status in err.statuses.items():
        info = infos.get(name)
        if info is None or status.code == UNRESOLVABLE:
            reasons[NOT_HELPFUL] = reasons.get(NOT_HELPFUL, 0) + 1
            continue
        victims = victims_on(pod, info, infos, namespaces)
        if not victims:
            reasons[NO_VICTIMS] = reasons.get(NO_VICTIMS, 0) + 1
            continue
        candidates.append((name, victims))
    if not candidates:
        text = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
        return None, [], f"preemption: 0/{err.num_nodes} nodes are available: {text}."

    def rank(c):
        name, victims = c
        prios = [priority(v) for v in victims]
        return (max(prios), sum(prios), len(victims), name)
    name, victims = min(candidates, key=rank)
    return name, victims, ""
