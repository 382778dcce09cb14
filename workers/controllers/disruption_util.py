"""The arithmetic of the disruption controller, free of I/O so it can be tested alone
(upstream pkg/controller/disruption/disruption.go, component-helpers
apps/poddisruptionbudget/helpers.go and apimachinery util/intstr):

* ``scaled_value``: an int-or-percent against a total, percents rounded up;
* ``build_disrupted_pods``: the ``status.disruptedPods`` entries still worth keeping (the
  pod exists, is not yet being deleted, and was evicted less than ``DELETION_TIMEOUT`` ago),
  with the time the budget must be looked at again;
* ``count_healthy``: ready pods that are neither being deleted nor just evicted;
* ``set_condition`` / ``update_disruption_allowed_condition`` / ``conditions_up_to_date``:
  ``apimeta.SetStatusCondition`` and the DisruptionAllowed condition kept in step with
  ``disruptionsAllowed``.
"""
from __future__ import annotations

import math
import time

from apiserver.client.events import now_rfc3339

from . import podutil

# how long an evicted pod may stay without a deletionTimestamp before the budget stops
# counting it as disrupted (upstream DeletionTimeout)
DELETION_TIMEOUT = 120.0
# how long a DisruptionTarget=True condition may sit on a pod that is not being deleted
# (upstream stalePodDisruptionTimeout)
STALE_POD_DISRUPTION_TIMEOUT = 120.0

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
DISRUPTION_TARGET = "DisruptionTarget"
TERMINATION_BY_KUBELET = "TerminationByKubelet"


class ScaleError(ValueError):
    """An int-or-percent that cannot be resolved (upstream's intstr errors)."""


def scaled_value(value, total: int) -> int:
    """``intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)``."""
    if value is None:
        raise ScaleError("nil value for IntOrString")
    if isinstance(value, bool):
        raise ScaleError("invalid value for IntOrString: invalid type: neither int nor "
                         "percentage")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ScaleError("invalid value for IntOrString: invalid type: neither int nor "
                         "percentage")
    if not value.endswith("%"):
        raise ScaleError("invalid value for IntOrString: invalid type: string is not a "
                         "percentage")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ScaleError(f'invalid value for IntOrString: invalid value "{value}": '
                         f'strconv.Atoi: parsing "{value[:-1]}": invalid syntax') from None
    return int(math.ceil(percent * total / 100))


def build_disrupted_pods(pods: list[dict], disrupted: dict | None, now: float):
    """``buildDisruptedPodMap``: ``(kept entries, seconds until the earliest expiry or None,
    names of pods that outlived the timeout without being deleted)``."""
    kept: dict[str, str] = {}
    recheck = None
    expired: list[dict] = []
    if not disrupted:
        return kept, recheck, expired
    for pod in pods:
        name = pod["metadata"]["name"]
        if pod["metadata"].get("deletionTimestamp") or name not in disrupted:
            continue
        since = podutil.parse_time(disrupted[name])
        expected = (since or 0) + DELETION_TIMEOUT
        if expected < now:
            expired.append(pod)
        else:
            kept[name] = disrupted[name]
            wait = expected - now
            recheck = wait if recheck is None else min(recheck, wait)
    return kept, recheck, expired


def count_healthy(pods: list[dict], disrupted: dict, now: float) -> int:
    """``countHealthyPods``: ready, not being deleted, not evicted within the timeout."""
    healthy = 0
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        when = disrupted.get(pod["metadata"]["name"])
        if when is not None and (podutil.parse_time(when) or 0) + DELETION_TIMEOUT > now:
            continue
        if podutil.is_ready(pod):
            healthy += 1
    return healthy


def find_condition(conditions, ctype: str) -> dict | None:
    for c in conditions or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def set_condition(conditions: list, wanted: dict) -> None:
    """``apimeta.SetStatusCondition``: the transition time moves only when the status does;
    reason, message and observedGeneration always follow ``wanted``."""
    current = find_condition(conditions, wanted["type"])
    if current is None:
        conditions.append({**wanted, "lastTransitionTime": wanted.get("lastTransitionTime")
                           or now_rfc3339()})
        return
    if current.get("status") != wanted["status"]:
        current["status"] = wanted["status"]
        current["lastTransitionTime"] = wanted.get("lastTransitionTime") or now_rfc3339()
    current["reason"] = wanted["reason"]
    current["message"] = wanted.get("message", "")
    if wanted.get("observedGeneration"):
        current["observedGeneration"] = wanted["observedGeneration"]
    else:
        current.pop("observedGeneration", None)


def update_disruption_allowed_condition(status: dict) -> None:
    """``pdbhelper.UpdateDisruptionAllowedCondition``: True/SufficientPods while a disruption
    is allowed, else False/InsufficientPods (the message stays empty, as upstream)."""
    conditions = status.setdefault("conditions", [])
    allowed = (status.get("disruptionsAllowed") or 0) > 0
    set_condition(conditions, {
        "type": DISRUPTION_ALLOWED, "status": "True" if allowed else "False",
        "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS, "message": "",
        "observedGeneration": status.get("observedGeneration")})


def conditions_up_to_date(pdb: dict) -> bool:
    """``pdbhelper.ConditionsAreUpToDate``."""
    status = pdb.get("status") or {}
    cond = find_condition(status.get("conditions"), DISRUPTION_ALLOWED)
    if cond is None:
        return False
    if (status.get("observedGeneration") or 0) != (pdb["metadata"].get("generation") or 0):
        return False
    if (status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == SUFFICIENT_PODS
    return cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT_PODS


def stale_disruption_wait(pod: dict, now: float | None = None) -> float | None:
    """``nonTerminatingPodHasStaleDisruptionCondition``: None when the pod carries no stale
    DisruptionTarget condition, else the seconds left before it is reset (0: now).  A
    condition the kubelet set, or one on a terminal pod, is never stale."""
    if pod["metadata"].get("deletionTimestamp"):
        return None
    cond = find_condition((pod.get("status") or {}).get("conditions"), DISRUPTION_TARGET)
    phase = (pod.get("status") or {}).get("phase")
    if cond is None or cond.get("status") != "True" or \
            cond.get("reason") == TERMINATION_BY_KUBELET or phase in ("Succeeded", "Failed"):
        return None
    since = podutil.parse_time(cond.get("lastTransitionTime")) or 0
    now = time.time() if now is None else now
    return max(0.0, STALE_POD_DISRUPTION_TIMEOUT - (now - since))
