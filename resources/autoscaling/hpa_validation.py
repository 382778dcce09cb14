"""HorizontalPodAutoscaler validation, on the storage (autoscaling/v2) shape.

Upstream validates the internal object, whose field paths are the v2 ones, so a request in
either version gets these paths and messages
(kubernetes/kubernetes:pkg/apis/autoscaling/validation/validation.go,
``ValidateHorizontalPodAutoscaler``, ``validateHorizontalPodAutoscalerSpec``,
``validateMetricSpec``, ``validateBehavior``…).  The ``HPAScaleToZero`` gate is off
(alpha in 1.32): minReplicas 0 is only accepted on objects that already have it.

May import: the standard library, apiserver.runtime.
"""
from __future__ import annotations

import re

from apiserver.runtime import errors
from apiserver.runtime.quantity import QuantityError, parse_quantity
from apiserver.runtime.validation import (GoText, is_path_segment_name, is_qualified_name,
                                          validate_dns1123_label_field, validate_nonnegative)

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
# sets.NewString(...).List(): sorted
METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
_FIELD_OF_TYPE = {"Object": "object", "Pods": "pods", "Resource": "resource",
                  "External": "external", "ContainerResource": "containerResource"}
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def validate_hpa_spec(spec: dict, path: str = "spec", min_replicas_lower_bound: int = 1) -> list:
    """``validateHorizontalPodAutoscalerSpec``."""
    errs: list = []
    min_replicas, max_replicas = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if isinstance(min_replicas, int) and min_replicas < min_replicas_lower_bound:
        errs.append(errors.invalid(f"{path}.minReplicas", min_replicas,
                                   f"must be greater than or equal to {min_replicas_lower_bound}"))
    if max_replicas < 1:
        errs.append(errors.invalid(f"{path}.maxReplicas", max_replicas, "must be greater than 0"))
    if isinstance(min_replicas, int) and max_replicas < min_replicas:
        errs.append(errors.invalid(f"{path}.maxReplicas", max_replicas,
                                   "must be greater than or equal to `minReplicas`"))
    errs += validate_cross_version_object_reference(spec.get("scaleTargetRef"),
                                                    f"{path}.scaleTargetRef")
    errs += _validate_metrics(spec.get("metrics") or [], f"{path}.metrics", min_replicas)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key in ("scaleUp", "scaleDown"):
            if isinstance(behavior.get(key), dict):
                errs += _validate_scaling_rules(behavior[key], f"{path}.behavior.{key}")
    return errs


def validate_hpa_status(status: dict) -> list:
    """``ValidateHorizontalPodAutoscalerStatusUpdate``: the replica counts are not negative."""
    errs: list = []
    for key in ("currentReplicas", "desiredReplicas"):
        if isinstance(status.get(key), int):
            errs += validate_nonnegative(status[key], f"status.{key}")
    return errs


def validate_cross_version_object_reference(ref, path: str) -> list:
    """``ValidateCrossVersionObjectReference``: kind and name required, path-segment safe."""
    ref = _d(ref)
    errs: list = []
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(errors.required(f"{path}.{key}", ""))
        else:
            errs += [errors.invalid(f"{path}.{key}", value, m) for m in is_path_segment_name(value)]
    return errs


def _validate_metrics(metrics: list, path: str, min_replicas) -> list:
    errs: list = []
    for i, metric in enumerate(metrics):
        errs += _validate_metric_spec(_d(metric), f"{path}[{i}]")
    if min_replicas == 0 and not any(_d(m).get("type") in ("Object", "External") for m in metrics):
        errs.append(errors.forbidden(path, "must specify at least one Object or External metric "
                                           "to support scaling to zero replicas"))
    return errs


def _validate_metric_spec(spec: dict, path: str) -> list:
    """``validateMetricSpec``: a known type, exactly its own source, each source's rules."""
    errs: list = []
    kind = spec.get("type") or ""
    if not kind:
        errs.append(errors.required(f"{path}.type", "must specify a metric source type"))
    if kind not in METRIC_SOURCE_TYPES:
        errs.append(errors.not_supported(f"{path}.type", kind, METRIC_SOURCE_TYPES))
    present: list = []
    for field, check in (("object", _validate_object_source), ("external", _validate_external_source),
                         ("pods", _validate_pods_source), ("resource", _validate_resource_source),
                         ("containerResource", _validate_container_resource_source)):
        if spec.get(field) is not None:
            present.append(field)
            if len(present) == 1:       # only the first source present is validated
                errs += check(_d(spec[field]), f"{path}.{field}")
    expected = _FIELD_OF_TYPE.get(kind, "")
    if expected:
        if spec.get(expected) is None:
            errs.append(errors.required(f"{path}.{expected}",
                                        "must populate information for the given metric source"))
    else:
        # upstream's switch default repeats the NotSupported error
        errs.append(errors.not_supported(f"{path}.type", kind, METRIC_SOURCE_TYPES))
    if len(present) != 1:
        for field in sorted(set(present) - {expected}):
            errs.append(errors.forbidden(f"{path}.{field}", "must populate the given metric source only"))
    return errs


def _validate_object_source(src: dict, path: str) -> list:
    target = _d(src.get("target"))
    errs = validate_cross_version_object_reference(src.get("describedObject"), f"{path}.describedObject")
    errs += _validate_metric_identifier(_d(src.get("metric")), f"{path}.metric")
    errs += _validate_metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(errors.required(f"{path}.target.averageValue",
                                    "must set either a target value or averageValue"))
    return errs


def _validate_external_source(src: dict, path: str) -> list:
    target = _d(src.get("target"))
    errs = _validate_metric_identifier(_d(src.get("metric")), f"{path}.metric")
    errs += _validate_metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(errors.required(f"{path}.target.averageValue",
                                    "must set either a target value for metric or a per-pod target"))
    if target.get("value") is not None and target.get("averageValue") is not None:
        errs.append(errors.forbidden(f"{path}.target.value",
                                     "may not set both a target value for metric and a per-pod target"))
    return errs


def _validate_pods_source(src: dict, path: str) -> list:
    target = _d(src.get("target"))
    errs = _validate_metric_identifier(_d(src.get("metric")), f"{path}.metric")
    errs += _validate_metric_target(target, f"{path}.target")
    if target.get("averageValue") is None:
        errs.append(errors.required(f"{path}.target.averageValue",
                                    "must specify a positive target averageValue"))
    return errs


def _validate_resource_source(src: dict, path: str) -> list:
    errs: list = []
    if not src.get("name"):
        errs.append(errors.required(f"{path}.name", "must specify a resource name"))
    return errs + _validate_utilization_or_value(_d(src.get("target")), f"{path}.target")


def _validate_container_resource_source(src: dict, path: str) -> list:
    errs: list = []
    name, container = src.get("name") or "", src.get("container") or ""
    if not name:
        errs.append(errors.required(f"{path}.name", "must specify a resource name"))
    else:
        errs += _validate_container_resource_name(name, f"{path}.name")
    if not container:
        errs.append(errors.required(f"{path}.container", "must specify a container"))
    else:
        errs += validate_dns1123_label_field(container, f"{path}.container")
    return errs + _validate_utilization_or_value(_d(src.get("target")), f"{path}.target")


def _validate_utilization_or_value(target: dict, path: str) -> list:
    errs = _validate_metric_target(target, path)
    utilization, average = target.get("averageUtilization"), target.get("averageValue")
    if utilization is None and average is None:
        errs.append(errors.required(f"{path}.averageUtilization",
                                    "must set either a target raw value or a target utilization"))
    if utilization is not None and average is not None:
        errs.append(errors.forbidden(f"{path}.averageValue",
                                     "may not set both a target raw value and a target utilization"))
    return errs


def _validate_container_resource_name(name: str, path: str) -> list:
    """kubernetes/kubernetes:pkg/apis/core/v1/validation ``ValidateContainerResourceName``."""
    errs = [errors.invalid(path, name, m) for m in is_qualified_name(name)]
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(errors.invalid(path, name, "must be a standard resource for containers"))
    elif "kubernetes.io/" not in name and name.startswith("requests."):
        errs.append(errors.invalid(path, name, "doesn't have a resource type"))
    return errs


def _validate_metric_target(target: dict, path: str) -> list:
    """``validateMetricTarget``."""
    errs: list = []
    kind = target.get("type") or ""
    if not kind:
        errs.append(errors.required(f"{path}.type", "must specify a metric target type"))
    if kind not in TARGET_TYPES:
        errs.append(errors.invalid(f"{path}.type", kind,
                                   "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        value = target.get(key)
        if value is not None and not _positive(value):
            errs.append(errors.invalid(f"{path}.{key}", go_quantity(value), "must be positive"))
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        errs.append(errors.invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return errs


def _validate_metric_identifier(metric: dict, path: str) -> list:
    name = metric.get("name") or ""
    if not name:
        return [errors.required(f"{path}.name", "must specify a metric name")]
    return [errors.invalid(f"{path}.name", name, m) for m in is_path_segment_name(name)]


def _validate_scaling_rules(rules: dict, path: str) -> list:
    """``validateScalingRules`` and ``validateScalingPolicy``."""
    errs: list = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int):
        if window < 0:
            errs.append(errors.invalid(f"{path}.stabilizationWindowSeconds", window,
                                       "must be greater than or equal to zero"))
        if window > MAX_STABILIZATION_WINDOW_SECONDS:
            errs.append(errors.invalid(f"{path}.stabilizationWindowSeconds", window,
                                       f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.append(errors.not_supported(f"{path}.selectPolicy", select, SELECT_POLICIES))
    policies = rules.get("policies") or []
    if not policies:
        errs.append(errors.required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        p, policy = f"{path}.policies[{i}]", _d(policy)
        kind = policy.get("type") or ""
        if kind not in POLICY_TYPES:
            errs.append(errors.not_supported(f"{p}.type", kind, POLICY_TYPES))
        value, period = policy.get("value") or 0, policy.get("periodSeconds") or 0
        if value <= 0:
            errs.append(errors.invalid(f"{p}.value", value, "must be greater than zero"))
        if period <= 0:
            errs.append(errors.invalid(f"{p}.periodSeconds", period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            errs.append(errors.invalid(f"{p}.periodSeconds", period,
                                       f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


# ---------------------------------------------------------------- quantities in messages

def _positive(value) -> bool:
    try:
        return parse_quantity(value).value > 0
    except (QuantityError, TypeError):
        return True         # a malformed quantity is refused while decoding


_SIMPLE_DECIMAL = re.compile(r"([+-]?)0*([0-9]*)(?:\.([0-9]*))?([numkMGTPE]?)")
_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def go_quantity(value):
    """How upstream prints a ``*resource.Quantity`` bad value: the error renderer
    dereferences the pointer and, since ``String`` has a pointer receiver, falls back to
    ``%#v`` of the struct (kubernetes/apimachinery:pkg/util/validation/field/errors.go,
    ``ParseQuantity``'s int64 fast path in pkg/api/resource/quantity.go).  Rendered exactly
    for plain decimal-SI values; other forms fall back to the quantity's text."""
    text = str(value)
    m = _SIMPLE_DECIMAL.fullmatch(text)
    if text == "0":
        amount, scale, cached = 0, 0, "0"
    elif m and (m.group(2) or m.group(3)):
        sign, num, denom, suffix = m.group(1), m.group(2) or "0", m.group(3) or "", m.group(4)
        scale = _EXPONENTS[suffix] - len(denom)
        shifted = num + denom
        if scale < -9 or 18 - len(num) - len(denom) < 0:
            return text
        amount = int(shifted) * (-1 if sign == "-" else 1)
        canonical_form = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
        cached = text if canonical_form else ""
    else:
        return text
    return GoText(f"resource.Quantity{{i:resource.int64Amount{{value:{amount}, scale:{scale}}}, "
                  f"d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:\"{cached}\", "
                  f"Format:\"DecimalSI\"}}")
