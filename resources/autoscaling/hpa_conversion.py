"""HorizontalPodAutoscaler conversion between autoscaling/v1 and the stored autoscaling/v2.

autoscaling/v1 knows one metric (``spec.targetCPUUtilizationPercentage``, a v2 ``Resource``
metric ``cpu`` with a ``Utilization`` target) and one status value
(``status.currentCPUUtilizationPercentage``).  Everything else a v2 object carries rides in
four annotations of the v1 object, as upstream's conversion writes them
(kubernetes/kubernetes:pkg/apis/autoscaling/v1/conversion.go, annotation names in
pkg/apis/autoscaling/annotations.go):

``autoscaling.alpha.kubernetes.io/metrics``          the other spec metrics, JSON of the
                                                     v1-package ``MetricSpec`` (the older
                                                     ``targetAverageValue``-style shape)
``autoscaling.alpha.kubernetes.io/current-metrics``  every ``status.currentMetrics`` entry,
                                                     JSON of the v1-package ``MetricStatus``
``autoscaling.alpha.kubernetes.io/behavior``         ``spec.behavior``, JSON of the *internal*
                                                     Go type (no json tags: ``ScaleUp``,
                                                     ``StabilizationWindowSeconds``…)
``autoscaling.alpha.kubernetes.io/conditions``       ``status.conditions``

Reading v1 back, the annotations are decoded (an undecodable one is ignored, as upstream's
``err == nil`` checks do), the v1 CPU metric is appended *after* the annotation's metrics,
and the four annotations are dropped (``DropRoundTripHorizontalPodAutoscalerAnnotations``);
the storage version never keeps them.  Both directions are pure functions on wire dicts.

May import: the standard library, apiserver.runtime, resources.autoscaling.
"""
from __future__ import annotations

import json

from resources.autoscaling.hpa_metric_conversion import (as_dict, field, metric_spec_to_v1,
                                                         metric_spec_to_v2, metric_status_to_v1,
                                                         metric_status_to_v2, object_ref, omit_nil,
                                                         put)

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
ROUND_TRIP_ANNOTATIONS = (METRICS_ANNOTATION, BEHAVIOR_ANNOTATION, CURRENT_METRICS_ANNOTATION,
                          CONDITIONS_ANNOTATION)
DEFAULT_CPU_UTILIZATION = 80        # autoscaling.DefaultCPUUtilization


# ---------------------------------------------------------------- shared helpers

def drop_round_trip_annotations(meta: dict) -> None:
    """Remove the four round-trip annotations from ``meta`` (in place); an annotation map
    left empty is dropped, as Go's ``omitempty`` does."""
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key in ROUND_TRIP_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        meta.pop("annotations", None)


def cpu_metric(utilization: int) -> dict:
    """The v2 metric autoscaling/v1's ``targetCPUUtilizationPercentage`` stands for."""
    return {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": utilization}}}


def go_json(value) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it (HTML-safe escapes, raw UTF-8)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _decode(annotations: dict, key: str, kind: type):
    """The JSON value of annotation ``key`` if it decodes to ``kind`` (or null), else a
    marker that it is absent or unusable (None)."""
    text = annotations.get(key)
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if value is None:
        return kind()
    return value if isinstance(value, kind) else None


# ---------------------------------------------------------------- v2 -> v1

def to_v1(obj: dict) -> dict:
    """``Convert_autoscaling_HorizontalPodAutoscaler_To_v1_HorizontalPodAutoscaler``."""
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    meta = obj.setdefault("metadata", {})
    drop_round_trip_annotations(meta)
    metrics = spec.get("metrics") or []
    others = [metric_spec_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]
    v1spec = {"scaleTargetRef": object_ref(spec.get("scaleTargetRef"))}
    put(v1spec, "minReplicas", spec.get("minReplicas"))
    v1spec["maxReplicas"] = spec.get("maxReplicas") or 0
    for m in metrics:
        if _is_cpu_utilization(m):
            v1spec["targetCPUUtilizationPercentage"] = m["resource"]["target"]["averageUtilization"]
            break
    current = [as_dict(s) for s in status.get("currentMetrics") or []]
    extra = {}
    if others:
        extra[METRICS_ANNOTATION] = go_json(others)
    if current:
        extra[CURRENT_METRICS_ANNOTATION] = go_json([metric_status_to_v1(s) for s in current])
    if isinstance(spec.get("behavior"), dict):
        extra[BEHAVIOR_ANNOTATION] = go_json(behavior_to_internal(spec["behavior"]))
    if status.get("conditions"):
        extra[CONDITIONS_ANNOTATION] = go_json([condition_to_v1(c) for c in status["conditions"]])
    if extra:
        meta["annotations"] = {**as_dict(meta.get("annotations")), **extra}
    v1status: dict = {}
    put(v1status, "observedGeneration", status.get("observedGeneration"))
    put(v1status, "lastScaleTime", status.get("lastScaleTime"))
    v1status["currentReplicas"] = status.get("currentReplicas") or 0
    v1status["desiredReplicas"] = status.get("desiredReplicas") or 0
    for s in current:              # the last cpu utilization wins (upstream does not break)
        res = as_dict(s.get("resource"))
        if s.get("type") == "Resource" and res.get("name") == "cpu" \
                and as_dict(res.get("current")).get("averageUtilization") is not None:
            v1status["currentCPUUtilizationPercentage"] = res["current"]["averageUtilization"]
    obj["spec"], obj["status"] = v1spec, v1status
    return obj


def _is_cpu_utilization(metric) -> bool:
    metric = as_dict(metric)
    res = as_dict(metric.get("resource"))
    return metric.get("type") == "Resource" and res.get("name") == "cpu" \
        and as_dict(res.get("target")).get("averageUtilization") is not None


def condition_to_v1(c) -> dict:
    """``HorizontalPodAutoscalerCondition``: a zero ``lastTransitionTime`` is ``null``."""
    c = as_dict(c)
    out = {"type": c.get("type") or "", "status": c.get("status") or "",
           "lastTransitionTime": c.get("lastTransitionTime")}
    for key in ("reason", "message"):
        if c.get(key):
            out[key] = c[key]
    return out


def behavior_to_internal(b: dict) -> dict:
    """``spec.behavior`` as the internal Go struct marshals (field names, null pointers)."""
    def rules(r):
        if not isinstance(r, dict):
            return None
        policies = r.get("policies")
        return {"StabilizationWindowSeconds": r.get("stabilizationWindowSeconds"),
                "SelectPolicy": r.get("selectPolicy"),
                "Policies": None if policies is None else [
                    {"Type": as_dict(p).get("type") or "", "Value": as_dict(p).get("value") or 0,
                     "PeriodSeconds": as_dict(p).get("periodSeconds") or 0} for p in policies]}
    return {"ScaleUp": rules(b.get("scaleUp")), "ScaleDown": rules(b.get("scaleDown"))}


# ---------------------------------------------------------------- v1 -> v2

def to_v2(obj: dict) -> dict:
    """``Convert_v1_HorizontalPodAutoscaler_To_autoscaling_HorizontalPodAutoscaler``."""
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    meta = obj.setdefault("metadata", {})
    annotations = as_dict(meta.get("annotations"))
    v2spec = {"scaleTargetRef": object_ref(spec.get("scaleTargetRef"))}
    put(v2spec, "minReplicas", spec.get("minReplicas"))
    v2spec["maxReplicas"] = spec.get("maxReplicas") or 0
    cpu = spec.get("targetCPUUtilizationPercentage")
    metrics = [cpu_metric(cpu)] if cpu is not None else []
    others = _decode(annotations, METRICS_ANNOTATION, list)
    if others is not None:   # the v1 CPU metric goes after the annotation's ones (upstream)
        metrics = [metric_spec_to_v2(as_dict(m)) for m in others] + metrics
    behavior = behavior_from_internal(_decode(annotations, BEHAVIOR_ANNOTATION, dict))
    v2status: dict = {}
    put(v2status, "observedGeneration", status.get("observedGeneration"))
    put(v2status, "lastScaleTime", status.get("lastScaleTime"))
    put(v2status, "currentReplicas", status.get("currentReplicas") or None)
    v2status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current = status.get("currentCPUUtilizationPercentage")
    v2status["currentMetrics"] = [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": current}}}] if current is not None else None
    statuses = _decode(annotations, CURRENT_METRICS_ANNOTATION, list)
    if statuses is not None:     # the annotation has more information than the cpu value
        v2status["currentMetrics"] = [metric_status_to_v2(as_dict(s)) for s in statuses] or None
    if not metrics:
        metrics = [cpu_metric(DEFAULT_CPU_UTILIZATION)]
    v2spec["metrics"] = metrics
    put(v2spec, "behavior", behavior)
    conditions = _decode(annotations, CONDITIONS_ANNOTATION, list)
    if conditions:
        v2status["conditions"] = [condition_from_v1(as_dict(c)) for c in conditions]
    drop_round_trip_annotations(meta)
    obj["spec"], obj["status"] = v2spec, v2status
    return obj


def condition_from_v1(c: dict) -> dict:
    out = {"type": field(c, "type") or "", "status": field(c, "status") or ""}
    for key in ("lastTransitionTime", "reason", "message"):
        if field(c, key):
            out[key] = field(c, key)
    return out


def behavior_from_internal(b) -> dict | None:
    """The behavior annotation back as ``spec.behavior``; None unless it decodes to at
    least one set direction (upstream keeps it only when it is not the zero struct)."""
    if not isinstance(b, dict):
        return None

    def rules(r):
        if not isinstance(r, dict):
            return None
        out: dict = {}
        put(out, "stabilizationWindowSeconds", field(r, "StabilizationWindowSeconds"))
        put(out, "selectPolicy", field(r, "SelectPolicy"))
        policies = field(r, "Policies")
        if isinstance(policies, list):
            out["policies"] = [{"type": field(p, "Type") or "", "value": field(p, "Value") or 0,
                                "periodSeconds": field(p, "PeriodSeconds") or 0} for p in policies]
        return out
    up, down = rules(field(b, "ScaleUp")), rules(field(b, "ScaleDown"))
    if up is None and down is None:
        return None
    return omit_nil({"scaleUp": up, "scaleDown": down})
