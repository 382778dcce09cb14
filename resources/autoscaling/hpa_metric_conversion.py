"""Metric specs and statuses between autoscaling/v2 and the v1-package shapes the v1
round-trip annotations carry (kubernetes/kubernetes:pkg/apis/autoscaling/v1/conversion.go,
``Convert_*MetricSource*`` / ``Convert_*MetricStatus*``; the v1 types in k8s.io/api
autoscaling/v1/types.go).  Output dicts follow Go's field order and ``omitempty`` rules, so the
annotation JSON reads as upstream's; non-pointer Quantities marshal as "0" when unset.

May import: the standard library, apiserver.runtime.
"""
from __future__ import annotations

from apiserver.runtime.quantity import QuantityError, canonical


def quantity(value, zero: bool = False):
    """A Quantity as Go marshals it (canonical text); None stays None unless ``zero`` asks
    for a non-pointer Go field's zero value ("0")."""
    if value is None:
        return "0" if zero else None
    try:
        return canonical(value)
    except (QuantityError, TypeError):
        return value


def put(out: dict, key: str, value) -> dict:
    """Set ``key`` unless ``value`` is None (a nil pointer under ``omitempty``)."""
    if value is not None:
        out[key] = value
    return out


def omit_nil(fields: dict) -> dict:
    """``fields`` without the None values (nil pointers under ``omitempty``), in order."""
    return {k: v for k, v in fields.items() if v is not None}


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def field(obj, name: str):
    """Field ``name`` of a decoded annotation object: Go's decoder prefers the exact key,
    then matches case-insensitively."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    low = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == low:
            return value
    return None


def object_ref(ref) -> dict:
    """``CrossVersionObjectReference``: kind and name always, apiVersion when set."""
    ref = as_dict(ref)
    return omit_nil({"kind": field(ref, "kind") or "", "name": field(ref, "name") or "",
                     "apiVersion": field(ref, "apiVersion") or None})


def label_selector(sel):
    """A ``metav1.LabelSelector`` in Go field order (None when unset)."""
    if not isinstance(sel, dict):
        return None
    out: dict = {}
    if field(sel, "matchLabels"):
        out["matchLabels"] = field(sel, "matchLabels")
    exprs = field(sel, "matchExpressions")
    if exprs:
        out["matchExpressions"] = [omit_nil({"key": field(e, "key") or "",
                                             "operator": field(e, "operator") or "",
                                             "values": field(e, "values") or None}) for e in exprs]
    return out


def metric_spec_to_v1(m: dict) -> dict:
    """A v2 ``MetricSpec`` as the v1-package ``MetricSpec`` (Go field order)."""
    m = as_dict(m)
    out = {"type": m.get("type") or ""}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        target, metric = as_dict(o.get("target")), as_dict(o.get("metric"))
        out["object"] = omit_nil({
            "target": object_ref(o.get("describedObject")), "metricName": metric.get("name") or "",
            "targetValue": quantity(target.get("value"), zero=True),
            "selector": label_selector(metric.get("selector")),
            "averageValue": quantity(target.get("averageValue"))})
    if isinstance(m.get("pods"), dict):
        p = m["pods"]
        target, metric = as_dict(p.get("target")), as_dict(p.get("metric"))
        out["pods"] = omit_nil({
            "metricName": metric.get("name") or "",
            "targetAverageValue": quantity(target.get("averageValue"), zero=True),
            "selector": label_selector(metric.get("selector"))})
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            target = as_dict(r.get("target"))
            out[key] = omit_nil({
                "name": r.get("name") or "",
                "targetAverageUtilization": target.get("averageUtilization"),
                "targetAverageValue": quantity(target.get("averageValue")),
                "container": (r.get("container") or "") if key == "containerResource" else None})
    if isinstance(m.get("external"), dict):
        e = m["external"]
        target, metric = as_dict(e.get("target")), as_dict(e.get("metric"))
        out["external"] = omit_nil({
            "metricName": metric.get("name") or "",
            "metricSelector": label_selector(metric.get("selector")),
            "targetValue": quantity(target.get("value")),
            "targetAverageValue": quantity(target.get("averageValue"))})
    return out


def metric_status_to_v1(s: dict) -> dict:
    """A v2 ``MetricStatus`` as the v1-package ``MetricStatus``."""
    s = as_dict(s)
    out = {"type": s.get("type") or ""}
    if isinstance(s.get("object"), dict):
        o = s["object"]
        current, metric = as_dict(o.get("current")), as_dict(o.get("metric"))
        out["object"] = omit_nil({
            "target": object_ref(o.get("describedObject")), "metricName": metric.get("name") or "",
            "currentValue": quantity(current.get("value"), zero=True),
            "selector": label_selector(metric.get("selector")),
            "averageValue": quantity(current.get("averageValue"))})
    if isinstance(s.get("pods"), dict):
        p = s["pods"]
        current, metric = as_dict(p.get("current")), as_dict(p.get("metric"))
        out["pods"] = omit_nil({
            "metricName": metric.get("name") or "",
            "currentAverageValue": quantity(current.get("averageValue"), zero=True),
            "selector": label_selector(metric.get("selector"))})
    for key in ("resource", "containerResource"):
        if isinstance(s.get(key), dict):
            r = s[key]
            current = as_dict(r.get("current"))
            out[key] = omit_nil({
                "name": r.get("name") or "",
                "currentAverageUtilization": current.get("averageUtilization"),
                "currentAverageValue": quantity(current.get("averageValue"), zero=True),
                "container": (r.get("container") or "") if key == "containerResource" else None})
    if isinstance(s.get("external"), dict):
        e = s["external"]
        current, metric = as_dict(e.get("current")), as_dict(e.get("metric"))
        out["external"] = omit_nil({
            "metricName": metric.get("name") or "",
            "metricSelector": label_selector(metric.get("selector")),
            "currentValue": quantity(current.get("value"), zero=True),
            "currentAverageValue": quantity(current.get("averageValue"))})
    return out


def metric_spec_to_v2(m: dict) -> dict:
    """A v1-package ``MetricSpec`` (from the annotation) as a v2 ``MetricSpec``: a Pods target
    is always AverageValue, an Object target always carries ``value`` (upstream sets it from
    the non-pointer ``targetValue``, "0" when unset)."""
    out = {"type": field(m, "type") or ""}
    o = field(m, "object")
    if isinstance(o, dict):
        average = quantity(field(o, "averageValue"))
        out["object"] = {
            "describedObject": object_ref(field(o, "target")),
            "target": omit_nil({"type": "Value" if average is None else "AverageValue",
                                "value": quantity(field(o, "targetValue"), zero=True),
                                "averageValue": average}),
            "metric": _metric_id(field(o, "metricName"), field(o, "selector"))}
    p = field(m, "pods")
    if isinstance(p, dict):
        out["pods"] = {"metric": _metric_id(field(p, "metricName"), field(p, "selector")),
                       "target": {"type": "AverageValue",
                                  "averageValue": quantity(field(p, "targetAverageValue"), zero=True)}}
    for key in ("resource", "containerResource"):
        r = field(m, key)
        if isinstance(r, dict):
            utilization = field(r, "targetAverageUtilization")
            target = omit_nil({"type": "AverageValue" if utilization is None else "Utilization",
                               "averageValue": quantity(field(r, "targetAverageValue")),
                               "averageUtilization": utilization})
            out[key] = omit_nil({
                "name": field(r, "name") or "", "target": target,
                "container": (field(r, "container") or "") if key == "containerResource" else None})
    e = field(m, "external")
    if isinstance(e, dict):
        value = quantity(field(e, "targetValue"))
        out["external"] = {
            "metric": _metric_id(field(e, "metricName"), field(e, "metricSelector")),
            "target": omit_nil({"type": "AverageValue" if value is None else "Value", "value": value,
                                "averageValue": quantity(field(e, "targetAverageValue"))})}
    return out


def metric_status_to_v2(s: dict) -> dict:
    """A v1-package ``MetricStatus`` (from the annotation) as a v2 ``MetricStatus``."""
    out = {"type": field(s, "type") or ""}
    o = field(s, "object")
    if isinstance(o, dict):
        out["object"] = {
            "metric": _metric_id(field(o, "metricName"), field(o, "selector")),
            "current": omit_nil({"value": quantity(field(o, "currentValue"), zero=True),
                                 "averageValue": quantity(field(o, "averageValue"))}),
            "describedObject": object_ref(field(o, "target"))}
    p = field(s, "pods")
    if isinstance(p, dict):
        out["pods"] = {"metric": _metric_id(field(p, "metricName"), field(p, "selector")),
                       "current": {"averageValue": quantity(field(p, "currentAverageValue"), zero=True)}}
    for key in ("resource", "containerResource"):
        r = field(s, key)
        if isinstance(r, dict):
            current = omit_nil({"averageValue": quantity(field(r, "currentAverageValue"), zero=True),
                                "averageUtilization": field(r, "currentAverageUtilization")})
            out[key] = omit_nil({
                "name": field(r, "name") or "", "current": current,
                "container": (field(r, "container") or "") if key == "containerResource" else None})
    e = field(s, "external")
    if isinstance(e, dict):
        out["external"] = {
            "metric": _metric_id(field(e, "metricName"), field(e, "metricSelector")),
            "current": omit_nil({"value": quantity(field(e, "currentValue"), zero=True),
                                 "averageValue": quantity(field(e, "currentAverageValue"))})}
    return out


def _metric_id(name, selector) -> dict:
    return omit_nil({"name": name or "", "selector": label_selector(selector)})
