"""Label selectors as controllers evaluate them (apimachinery pkg/apis/meta/v1/helpers.go
``LabelSelectorAsSelector`` and pkg/labels/selector.go): ``matchLabels`` AND every
``matchExpressions`` requirement.  An empty selector matches everything; a ``None`` one
matches nothing (upstream's convention for a nil *LabelSelector).
"""
from __future__ import annotations


def _requirement(labels: dict, req: dict) -> bool:
    key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def matches(selector: dict | None, labels: dict | None) -> bool:
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_requirement(labels, r) for r in selector.get("matchExpressions") or [])


def matches_map(selector: dict | None, labels: dict | None) -> bool:
    """A ReplicationController's or Service's map selector; empty matches nothing there."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def is_empty(selector: dict | None) -> bool:
    return selector is not None and not selector.get("matchLabels") and \
        not selector.get("matchExpressions")
