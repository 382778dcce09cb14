"""Label selectors (``metav1.LabelSelector``) and node selector terms (``v1.NodeSelector``)
evaluated on plain dicts, as k8s.io/apimachinery:pkg/labels/selector.go and
k8s.io/component-helpers:scheduling/corev1/nodeaffinity/nodeaffinity.go do."""
from __future__ import annotations


def _int(v) -> int | None:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


def match_expression(labels: dict, expr: dict) -> bool:
    key, op = expr.get("key", ""), expr.get("operator", "")
    values = expr.get("values") or []
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        have, want = _int(labels[key]), _int(values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def label_selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A ``LabelSelector``: None matches nothing, ``{}`` matches everything (as
    ``metav1.LabelSelectorAsSelector``)."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(match_expression(labels, e) for e in selector.get("matchExpressions") or [])


def node_selector_term_matches(term: dict, node: dict) -> bool:
    """One ``NodeSelectorTerm``: all its expressions and fields hold; an empty term matches
    no node (upstream: "a null or empty node selector term matches no objects")."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not all(match_expression(labels, e) for e in exprs):
        return False
    name_fields = {"metadata.name": (node.get("metadata") or {}).get("name", "")}
    for f in fields:
        if f.get("key") != "metadata.name" or f.get("operator") not in ("In", "NotIn"):
            return False
        if not match_expression(name_fields, f):
            return False
    return True


def node_selector_matches(selector: dict | None, node: dict) -> bool:
    """A ``NodeSelector``: its terms are ORed."""
    if selector is None:
        return True
    return any(node_selector_term_matches(t, node) for t in selector.get("nodeSelectorTerms") or [])
