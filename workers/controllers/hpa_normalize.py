"""How the horizontal pod autoscaler turns a metric proposal into the replica count it sets
(upstream release-1.32 pkg/controller/podautoscaler/horizontal.go: ``stabilizeRecommendation``,
``normalizeDesiredReplicas``, ``normalizeDesiredReplicasWithBehaviors``,
``convertDesiredReplicasWithRules``, ``calculateScale{Up,Down}Limit*``, ``storeScaleEvent``).

Without ``spec.behavior``: the highest proposal of the downscale stabilization window wins
(``--horizontal-pod-autoscaler-downscale-stabilization``), a scale-up is limited to
max(2 x current, 4), and min/max replicas bound the result.  With it: proposals are
stabilized within the scale-up window (lowest wins) and the scale-down window (highest
wins), then limited by the policies of the direction (Pods or Percent per period, the
changes made within each period counted from the recorded scale events, ``selectPolicy``
Max/Min/Disabled choosing among them).

State is per HPA key and lives only in this process, as upstream's maps do: a restarted
manager starts with empty windows.  ``set_condition(type, status, reason, message)`` is how
results reach the HPA's conditions.
"""
from __future__ import annotations

import math
import time

SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
INT32_MAX, INT32_MIN = 2 ** 31 - 1, -(2 ** 31)

DESIRED_WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
SCALE_UP_LIMIT = ("ScaleUpLimit",
                  "the desired replica count is increasing faster than the maximum scale rate")
SCALE_DOWN_LIMIT = ("ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate")
SCALE_DOWN_STABILIZED = ("ScaleDownStabilized", "recent recommendations were higher than "
                         "current one, applying the highest recent recommendation")
SCALE_UP_STABILIZED = ("ScaleUpStabilized", "recent recommendations were lower than current "
                       "one, applying the lowest recent recommendation")
READY_FOR_NEW_SCALE = ("ReadyForNewScale", "recommended size matches current size")


def scale_up_limit(current: int) -> int:
    """``calculateScaleUpLimit``: without behavior, at most doubling (and at least 4)."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def convert_desired_replicas_with_rules(current: int, desired: int, min_replicas: int,
                                        max_replicas: int):
    """``convertDesiredReplicasWithRules``: ``(replicas, reason, message)``."""
    limit = scale_up_limit(current)
    if max_replicas > limit:
        maximum, limiting = limit, SCALE_UP_LIMIT
    else:
        maximum, limiting = max_replicas, TOO_MANY
    if desired < min_replicas:
        return (min_replicas, *TOO_FEW)
    if desired > maximum:
        return (maximum, *limiting)
    return (desired, *DESIRED_WITHIN_RANGE)


def _changes_in_period(period: int, events: list, now: float) -> int:
    """``getReplicasChangePerPeriod``: replicas changed by the events of the last period."""
    cutoff = now - period
    return sum(e[0] for e in events if e[1] > cutoff)


def _proposed(start: int, policy: dict, up: bool) -> int | None:
    """What one Pods or Percent policy allows from ``start`` replicas (None: unknown type)."""
    value = int(policy.get("value") or 0)
    if policy.get("type") == "Pods":
        return start + value if up else start - value
    if policy.get("type") == "Percent":
        if up:   # rounded up, or a small Percent would never add a pod
            return int(math.ceil(start * (1 + value / 100)))
        return int(start * (1 - value / 100))        # Go's int32() truncates
    return None


def _limit_with_rules(current: int, up_events: list, down_events: list, rules: dict,
                      now: float, up: bool) -> int:
    """Upstream's ``calculateScaleUpLimitWithScalingRules`` (``up``) and
    ``calculateScaleDownLimitWithBehaviors``: each policy's allowance from the replicas of
    one period ago; selectPolicy Max takes the most change, Min the least."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    most_change = select != "Min"
    pick = max if most_change == up else min
    result = (INT32_MIN if pick is max else INT32_MAX)
    for policy in rules.get("policies") or []:
        period = int(policy.get("periodSeconds") or 0)
        start = (current - _changes_in_period(period, up_events, now)
                 + _changes_in_period(period, down_events, now))
        proposed = _proposed(start, policy, up)
        if proposed is not None:
            result = pick(result, proposed)
    return result


def scale_up_limit_with_rules(current: int, up_events: list, down_events: list, rules: dict,
                              now: float) -> int:
    """The most replicas the scale-up policies allow."""
    return _limit_with_rules(current, up_events, down_events, rules, now, up=True)


def scale_down_limit_with_rules(current: int, up_events: list, down_events: list, rules: dict,
                                now: float) -> int:
    """The fewest replicas the scale-down policies allow."""
    return _limit_with_rules(current, up_events, down_events, rules, now, up=False)


def _longest_period(rules: dict | None) -> int:
    return max([int(p.get("periodSeconds") or 0) for p in (rules or {}).get("policies") or []]
               or [0])


class Normalizer:
    """The per-HPA recommendation and scale-event history, and the normalization steps."""

    def __init__(self, downscale_stabilization: float = 300.0, clock=time.time):
        self.downscale_stabilization = downscale_stabilization
        self.clock = clock
        self.recommendations: dict[str, list] = {}       # key -> [[replicas, time]]
        self.scale_up_events: dict[str, list] = {}       # key -> [[change, time, outdated]]
        self.scale_down_events: dict[str, list] = {}

    def forget(self, key: str) -> None:
        """The HPA is gone: drop its history."""
        for store in (self.recommendations, self.scale_up_events, self.scale_down_events):
            store.pop(key, None)

    def record_initial_recommendation(self, current: int, key: str) -> None:
        if key not in self.recommendations:
            self.recommendations[key] = [[current, self.clock()]]

    def _record(self, key: str, recommendation: int, old_index: int | None) -> None:
        """Reuse an expired slot for the newest recommendation, or append it."""
        entry = [recommendation, self.clock()]
        if old_index is not None:
            self.recommendations[key][old_index] = entry
        else:
            self.recommendations.setdefault(key, []).append(entry)

    def stabilize_recommendation(self, key: str, desired: int) -> int:
        """``stabilizeRecommendation``: the highest recommendation of the window."""
        best, old_index = desired, None
        cutoff = self.clock() - self.downscale_stabilization
        for i, (rec, stamp) in enumerate(self.recommendations.get(key, [])):
            if stamp < cutoff:
                old_index = i
            elif rec > best:
                best = rec
        self._record(key, desired, old_index)
        return best

    def normalize(self, spec: dict, key: str, current: int, desired: int, min_replicas: int,
                  set_condition) -> int:
        """``normalizeDesiredReplicas`` (no behavior)."""
        stabilized = self.stabilize_recommendation(key, desired)
        reason = SCALE_DOWN_STABILIZED if stabilized != desired else READY_FOR_NEW_SCALE
        set_condition("AbleToScale", "True", *reason)
        replicas, reason, message = convert_desired_replicas_with_rules(
            current, stabilized, min_replicas, int(spec.get("maxReplicas") or 0))
        set_condition("ScalingLimited", "False" if replicas == stabilized else "True", reason,
                      message)
        return replicas

    def _stabilize_with_behaviors(self, key: str, current: int, desired: int, up: dict,
                                  down: dict):
        """``stabilizeRecommendationWithBehaviors``: ``(replicas, reason, message)``."""
        now = self.clock()
        up_cutoff = now - int(up.get("stabilizationWindowSeconds") or 0)
        down_window = down.get("stabilizationWindowSeconds")
        if down_window is None:
            down_window = self.downscale_stabilization
        down_cutoff = now - int(down_window)
        up_rec = down_rec = desired
        old_index = None
        for i, (rec, stamp) in enumerate(self.recommendations.get(key, [])):
            if stamp > up_cutoff:
                up_rec = min(rec, up_rec)
            if stamp > down_cutoff:
                down_rec = max(rec, down_rec)
            if stamp < up_cutoff and stamp < down_cutoff:
                old_index = i
        recommendation = max(current, up_rec)
        recommendation = min(recommendation, down_rec)
        self._record(key, desired, old_index)
        reason = SCALE_UP_STABILIZED if desired >= current else SCALE_DOWN_STABILIZED
        return (recommendation, *reason)

    def _rate_limited(self, key: str, current: int, desired: int, min_replicas: int,
                      max_replicas: int, up: dict, down: dict):
        """``convertDesiredReplicasWithBehaviorRate``: ``(replicas, reason, message)``."""
        now = self.clock()
        ups, downs = self.scale_up_events.get(key, []), self.scale_down_events.get(key, [])
        if desired > current:
            limit = max(scale_up_limit_with_rules(current, ups, downs, up, now), current)
            if max_replicas > limit:
                maximum, limiting = limit, SCALE_UP_LIMIT
            else:
                maximum, limiting = max_replicas, TOO_MANY
            if desired > maximum:
                return (maximum, *limiting)
        elif desired < current:
            limit = min(scale_down_limit_with_rules(current, ups, downs, down, now), current)
            if min_replicas < limit:
                minimum, limiting = limit, SCALE_DOWN_LIMIT
            else:
                minimum, limiting = min_replicas, TOO_FEW
            if desired < minimum:
                return (minimum, *limiting)
        return (desired, *DESIRED_WITHIN_RANGE)

    def normalize_with_behaviors(self, spec: dict, key: str, current: int, desired: int,
                                 min_replicas: int, set_condition) -> int:
        """``normalizeDesiredReplicasWithBehaviors``: stabilize, then apply the policies."""
        behavior = spec.get("behavior") or {}
        up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
        stabilized, reason, message = self._stabilize_with_behaviors(key, current, desired,
                                                                     up, down)
        if stabilized != desired:
            set_condition("AbleToScale", "True", reason, message)
        else:
            set_condition("AbleToScale", "True", *READY_FOR_NEW_SCALE)
        replicas, reason, message = self._rate_limited(
            key, current, stabilized, min_replicas, int(spec.get("maxReplicas") or 0), up, down)
        set_condition("ScalingLimited", "False" if replicas == stabilized else "True", reason,
                      message)
        return replicas

    def store_scale_event(self, behavior: dict | None, key: str, previous: int,
                          new: int) -> None:
        """``storeScaleEvent``: remember a rescale (only with behavior: nothing else reads
        the events), reusing a slot older than the direction's longest policy period."""
        if behavior is None:
            return
        if new > previous:
            rules, store, change = behavior.get("scaleUp"), self.scale_up_events, new - previous
        else:
            rules, store, change = behavior.get("scaleDown"), self.scale_down_events, \
                previous - new
        events = store.setdefault(key, [])
        now = self.clock()
        cutoff = now - _longest_period(rules)
        old_index = None
        for i, event in enumerate(events):
            if event[1] < cutoff:
                event[2] = True
            if event[2]:
                old_index = i
        entry = [change, now, False]
        if old_index is not None:
            events[old_index] = entry
        else:
            events.append(entry)
