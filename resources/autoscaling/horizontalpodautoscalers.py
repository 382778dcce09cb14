"""autoscaling/v2 and autoscaling/v1 HorizontalPodAutoscaler: one stored object, two versions.

autoscaling/v2 is the storage version (a normal Strategy); autoscaling/v1 declares
``storage_version`` and converts (``resources.autoscaling.hpa_conversion``), so the registry
serves it through a ConvertingStore over the v2 Store and every write runs the v2 hooks.

Upstream: defaults kubernetes/kubernetes:pkg/apis/autoscaling/v2/defaults.go
(``SetDefaults_HorizontalPodAutoscaler``: minReplicas 1, a cpu Utilization 80 metric when none
is given, behavior rules filled only when ``behavior`` is set) and v1/defaults.go (minReplicas
1; the v1 cpu default is applied by conversion), validation
pkg/apis/autoscaling/validation/validation.go (``resources.autoscaling.hpa_validation``),
strategy pkg/registry/autoscaling/horizontalpodautoscaler/strategy.go (status reset on create,
kept on spec writes, spec kept on status writes; no generation tracking in 1.32 — the
HPAGeneration gate that sets and bumps ``metadata.generation`` came in later releases), the
printer ``printHorizontalPodAutoscaler``/``formatHPAMetrics`` in
pkg/printers/internalversion/printers.go.
"""
from __future__ import annotations

import copy

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime.quantity import QuantityError, canonical
from resources.autoscaling import hpa_conversion as conv
from resources.autoscaling.hpa_validation import validate_hpa_spec, validate_hpa_status

# The printer describes its columns with autoscaling/v2beta1's doc strings
# (k8s.io/api autoscaling/v2beta1 types_swagger_doc_generated.go), which the built-in
# OpenAPI definitions (v1, v2 only) do not carry.
_SPEC_DOC = {
    "scaleTargetRef": "scaleTargetRef points to the target resource to scale, and is used to the "
                      "pods for which metrics should be collected, as well as to actually change "
                      "the replica count.",
    "metrics": "metrics contains the specifications for which to use to calculate the desired "
               "replica count (the maximum replica count across all metrics will be used).  The "
               "desired replica count is calculated multiplying the ratio between the target "
               "value and the current value by the current number of pods.  Ergo, metrics used "
               "must decrease as the pod count is increased, and vice-versa.  See the individual "
               "metric source types for more information about how each type of metric must "
               "respond.",
    "minReplicas": "minReplicas is the lower limit for the number of replicas to which the "
                   "autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to "
                   "be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one "
                   "Object or External metric is configured.  Scaling is active as long as at "
                   "least one metric value is available.",
    "maxReplicas": "maxReplicas is the upper limit for the number of replicas to which the "
                   "autoscaler can scale up. It cannot be less that minReplicas.",
    "currentReplicas": "currentReplicas is current number of replicas of pods managed by this "
                       "autoscaler, as last seen by the autoscaler.",
}
HPA_COLUMNS = (NAME_COLUMN,
               Column("Reference", description=_SPEC_DOC["scaleTargetRef"]),
               Column("Targets", description=_SPEC_DOC["metrics"]),
               Column("MinPods", description=_SPEC_DOC["minReplicas"]),
               Column("MaxPods", description=_SPEC_DOC["maxReplicas"]),
               Column("Replicas", description=_SPEC_DOC["currentReplicas"]),
               AGE_COLUMN)

# v2/defaults.go: scale up by the larger of 4 pods or 100% per 15s, no stabilization;
# scale down 100% per 15s, the window left unset (the controller's flag supplies it)
_SCALE_UP_RULES = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15},
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN_RULES = {"selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}


class HorizontalPodAutoscalerStrategy(Strategy):
    """autoscaling/v2, the storage version."""

    group = "autoscaling"
    version = "v2"
    kind = "HorizontalPodAutoscaler"
    plural = "horizontalpodautoscalers"
    short_names = ("hpa",)
    categories = ("all",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
    columns = HPA_COLUMNS

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj):
        """``SetDefaults_HorizontalPodAutoscaler``; also drops the v1 round-trip annotations
        (v2 never carries them: pkg/apis/autoscaling/v2/conversion.go)."""
        conv.drop_round_trip_annotations(obj.setdefault("metadata", {}))
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        if spec.get("minReplicas") is None:
            spec["minReplicas"] = 1
        if not spec.get("metrics"):
            spec["metrics"] = [conv.cpu_metric(conv.DEFAULT_CPU_UTILIZATION)]
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), _SCALE_UP_RULES)
            behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), _SCALE_DOWN_RULES)
        elif behavior is None:
            spec.pop("behavior", None)

    def prepare_for_create(self, ctx, obj):
        """Create cannot set status: Go's zero v2 status writes ``desiredReplicas`` and a null
        ``currentMetrics`` (neither has omitempty)."""
        obj["status"] = {"currentMetrics": None, "desiredReplicas": 0}

    def validate(self, ctx, obj):
        return validate_hpa_spec(_d(obj.get("spec")))

    def validate_update(self, ctx, new, old):
        """As create, except that an object which already scales to zero may keep doing so."""
        lower = 0 if _d(old.get("spec")).get("minReplicas") == 0 else 1
        return validate_hpa_spec(_d(new.get("spec")), min_replicas_lower_bound=lower)

    def validate_status_update(self, ctx, new, old):
        return validate_hpa_status(_d(new.get("status")))

    def canonicalize(self, obj):
        """What Go's encoding gives: metric quantities in canonical form ("0.5" is "500m"),
        ``currentMetrics`` always (null when empty), ``currentReplicas`` and ``conditions``
        omitted when zero/empty."""
        for metric in _d(obj.get("spec")).get("metrics") or []:
            _canonical_quantities(metric, "target")
        status = obj.get("status")
        if not isinstance(status, dict):
            return
        for metric in status.get("currentMetrics") or []:
            _canonical_quantities(metric, "current")
        if not status.get("currentMetrics"):
            status["currentMetrics"] = None
        if status.get("currentReplicas") == 0:
            del status["currentReplicas"]
        if "conditions" in status and not status["conditions"]:
            del status["conditions"]

    def table_row(self, obj):
        return hpa_row(obj)


class HorizontalPodAutoscalerV1Strategy(Strategy):
    """autoscaling/v1, served from the v2 object."""

    group = "autoscaling"
    version = "v1"
    kind = "HorizontalPodAutoscaler"
    plural = "horizontalpodautoscalers"
    short_names = ("hpa",)
    categories = ("all",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"
    storage_version = ("autoscaling", "v2")
    columns = HPA_COLUMNS

    def convert_to_storage(self, obj):
        return conv.to_v2(obj)

    def convert_from_storage(self, obj):
        return conv.to_v1(obj)

    def table_row(self, obj):
        """The v2 rendering of the object converted back to v2."""
        return hpa_row(conv.to_v2(copy.deepcopy(obj)))


# ---------------------------------------------------------------- helpers

def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _canonical_quantities(metric, key: str) -> None:
    """Canonicalise ``value``/``averageValue`` of each source's ``target`` or ``current``."""
    for source in _d(metric).values():
        values = _d(source).get(key) if isinstance(source, dict) else None
        for name in ("value", "averageValue"):
            if isinstance(values, dict) and values.get(name) is not None:
                try:
                    values[name] = canonical(values[name])
                except (QuantityError, TypeError):
                    pass            # refused while decoding


def _scaling_rules(given, defaults: dict) -> dict:
    """``GenerateHPAScale{Up,Down}Rules``: the defaults, with every field the user set."""
    out = copy.deepcopy(defaults)
    for key, value in _d(given).items():
        if value is not None:
            out[key] = value
    return out


def hpa_row(obj: dict) -> list:
    """``printHorizontalPodAutoscaler`` on a v2 object."""
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    ref = _d(spec.get("scaleTargetRef"))
    min_replicas = spec.get("minReplicas")
    return [obj["metadata"].get("name", ""),
            f"{ref.get('kind', '')}/{ref.get('name', '')}",
            format_hpa_metrics(spec.get("metrics") or [], status.get("currentMetrics") or []),
            "<unset>" if min_replicas is None else str(min_replicas),
            spec.get("maxReplicas") or 0, status.get("currentReplicas") or 0, age(obj)]


def _qs(value) -> str:
    """Go's ``(*resource.Quantity).String()``: canonical text, ``<nil>`` for a nil pointer."""
    if value is None:
        return "<nil>"
    try:
        return canonical(value)
    except (QuantityError, TypeError):
        return str(value)


def format_hpa_metrics(specs: list, statuses: list) -> str:
    """``formatHPAMetrics``: "current/target" per metric (resource metrics prefixed with
    their name), at most two, then "+ N more..."."""
    if not specs:
        return "<none>"
    cells = []
    for i, spec in enumerate(specs):
        spec = _d(spec)
        st = _d(statuses[i]) if i < len(statuses) else {}
        kind = spec.get("type")
        if kind in ("External", "Object"):
            key = kind.lower()
            target, cur = _d(_d(spec.get(key)).get("target")), st.get(key)
            current = "<unknown>"
            if target.get("averageValue") is not None:
                if isinstance(cur, dict) and _d(cur.get("current")).get("averageValue") is not None:
                    current = _qs(cur["current"]["averageValue"])
                cells.append(f"{current}/{_qs(target['averageValue'])} (avg)")
            else:
                if isinstance(cur, dict):
                    current = _qs(_d(cur.get("current")).get("value"))
                cells.append(f"{current}/{_qs(target.get('value'))}")
        elif kind == "Pods":
            target, cur = _d(_d(spec.get("pods")).get("target")), st.get("pods")
            current = _qs(_d(cur.get("current")).get("averageValue")) if isinstance(cur, dict) \
                else "<unknown>"
            cells.append(f"{current}/{_qs(target.get('averageValue'))}")
        elif kind in ("Resource", "ContainerResource"):
            key = "resource" if kind == "Resource" else "containerResource"
            source, cur = _d(spec.get(key)), st.get(key)
            target, name = _d(source.get("target")), source.get("name", "")
            current = "<unknown>"
            if target.get("averageValue") is not None:
                if isinstance(cur, dict):
                    current = _qs(_d(cur.get("current")).get("averageValue"))
                cells.append(f"{name}: {current}/{_qs(target['averageValue'])}")
            else:
                if isinstance(cur, dict) and _d(cur.get("current")).get("averageUtilization") is not None:
                    current = f"{cur['current']['averageUtilization']}%"
                utilization = target.get("averageUtilization")
                goal = "<auto>" if utilization is None else f"{utilization}%"
                cells.append(f"{name}: {current}/{goal}")
        else:
            cells.append("<unknown type>")
    if len(cells) > 2:
        return ", ".join(cells[:2]) + f" + {len(cells) - 2} more..."
    return ", ".join(cells)
