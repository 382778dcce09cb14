"""Selectors in their query-string form (k8s.io/apimachinery pkg/labels/selector.go
``Parse`` and pkg/fields/selector.go ``ParseSelector``), for the metrics API's lists.

``parse_label_selector("app=web,tier in (a,b),!canary")`` → a ``LabelSelector`` dict for
``workers.scheduler.selectors.label_selector_matches``, or None for an empty string (no
filter).  ``parse_field_selector`` → ``[(field, equal?, value)]`` over the two fields the
metrics objects have.  Bad input raises ``SelectorError`` (400 BadRequest).
"""
from __future__ import annotations

import re

FIELDS = ("metadata.name", "metadata.namespace")
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\((.*)\)$")
_EQ = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*(.*)$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class SelectorError(ValueError):
    pass


def _split(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _value(v: str) -> str:
    v = v.strip()
    if len(v) > 63 or not _VALUE.match(v):
        raise SelectorError(f"unable to parse requirement: invalid label value: {v!r}")
    return v


def parse_label_selector(text: str) -> dict | None:
    text = (text or "").strip()
    if not text:
        return None
    exprs = []
    for part in _split(text):
        if not part:
            raise SelectorError("unable to parse requirement: found '', expected: identifier")
        m = _SET.match(part)
        if m:
            values = [_value(v) for v in m.group(4).split(",")]
            exprs.append({"key": m.group(1), "operator": "In" if m.group(3) == "in" else "NotIn",
                          "values": values})
            continue
        m = _EQ.match(part)
        if m:
            exprs.append({"key": m.group(1), "operator": "NotIn" if m.group(3) == "!=" else "In",
                          "values": [_value(m.group(4))]})
            continue
        negated = part.startswith("!")
        key = part[1:].strip() if negated else part
        if not re.fullmatch(_KEY, key):
            raise SelectorError(f"unable to parse requirement: invalid label key: {key!r}")
        exprs.append({"key": key, "operator": "DoesNotExist" if negated else "Exists"})
    return {"matchExpressions": exprs}


def parse_field_selector(text: str) -> list[tuple[str, bool, str]]:
    out = []
    for part in _split((text or "").strip()) if (text or "").strip() else []:
        if not part:                     # fields.ParseSelector skips empty terms
            continue
        m = re.fullmatch(r"([^=!]+)(==|=|!=)(.*)", part)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field = m.group(1).strip()
        if field not in FIELDS:
            # apimachinery runtime DefaultMetaV1FieldSelectorConversion (metrics types
            # register no field label conversions of their own)
            raise SelectorError(f'"{field}" is not a known field selector: only '
                                f'"metadata.name", "metadata.namespace"')
        out.append((field, m.group(2) != "!=", m.group(3).strip()))
    return out
