"""Toleration algebra shared by admission plugins (upstream pkg/apis/core/helper/
tolerations.go ``isSuperset`` and plugin/pkg/admission/podtolerationrestriction's
``MergeTolerations``): whether one toleration covers another, and the merge of two lists."""
from __future__ import annotations


def _toleration(t: dict) -> tuple:
    return (t.get("key") or "", t.get("operator") or "", t.get("value") or "",
            t.get("effect") or "", t.get("tolerationSeconds"))


def is_superset(ss: dict, t: dict) -> bool:
    """Upstream ``isSuperset``: whether ``ss`` tolerates everything ``t`` does."""
    ss_key, ss_op, ss_value, ss_effect, ss_seconds = _toleration(ss)
    t_key, t_op, t_value, t_effect, t_seconds = _toleration(t)
    if _toleration(ss) == _toleration(t):
        return True
    if t_key != ss_key and (ss_key != "" or ss_op != "Exists"):
        return False
    if t_effect != ss_effect and ss_effect != "":
        return False
    if ss_effect == "NoExecute" and ss_seconds is not None:
        if t_seconds is None or t_seconds > ss_seconds:
            return False
    if ss_op in ("Equal", ""):
        return t_op == "Equal" and t_value == ss_value
    return ss_op == "Exists"


def merge_tolerations(first: list, second: list) -> list:
    """Upstream ``MergeTolerations``: both lists, without those another one covers (of two
    equal tolerations the first is kept)."""
    everything = [t for t in list(first) + list(second) if isinstance(t, dict)]
    merged: list = []
    for i, t in enumerate(everything):
        if any(is_superset(kept, t) for kept in merged):
            continue
        if any(_toleration(t) != _toleration(later) and is_superset(later, t)
               for later in everything[i + 1:]):
            continue
        merged.append(t)
    return merged
