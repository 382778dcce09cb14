"""apps/v1 DaemonSet.

Upstream: ``SetDefaults_DaemonSet`` (``pkg/apis/apps/v1/defaults.go``), ``ValidateDaemonSet``
(``pkg/apis/apps/validation/validation.go``), ``pkg/registry/apps/daemonset/strategy.go``
(template generation, kept in the ``deprecated.daemonset.template.generation`` annotation by
the apps/v1 conversion) and ``printDaemonSet``.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import GoText, validate_immutable, validate_nonnegative
from resources import podtemplate as pt

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_STATUS = "io.k8s.api.apps.v1.DaemonSetStatus"


class DaemonSetStrategy(Strategy):
    group = "apps"
    kind = "DaemonSet"
    plural = "daemonsets"
    short_names = ("ds",)
    categories = ("all",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.apps.v1.DaemonSet"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Desired", "integer", description=pt.doc(_STATUS, "desiredNumberScheduled")),
               Column("Current", "integer", description=pt.doc(_STATUS, "currentNumberScheduled")),
               Column("Ready", "integer", description=pt.doc(_STATUS, "numberReady")),
               Column("Up-to-date", "integer", description=pt.doc(_STATUS, "updatedNumberScheduled")),
               Column("Available", "integer", description=pt.doc(_STATUS, "numberAvailable")),
               Column("Node Selector",
                      description=pt.doc("io.k8s.api.core.v1.PodSpec", "nodeSelector")),
               AGE_COLUMN,
               *pt.wide_columns(pt.doc("io.k8s.api.apps.v1.DaemonSetSpec", "selector")))

    def default(self, obj):
        """``SetDefaults_DaemonSet``: RollingUpdate with maxUnavailable 1 / maxSurge 0,
        revisionHistoryLimit 10; PodSpec defaults in the template."""
        spec = obj.setdefault("spec", {})
        strategy = spec.setdefault("updateStrategy", {})
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            ru = strategy.get("rollingUpdate")
            if ru is None:
                ru = strategy["rollingUpdate"] = {}
            if ru.get("maxUnavailable") is None:
                ru["maxUnavailable"] = 1
            if ru.get("maxSurge") is None:
                ru["maxSurge"] = 0
        if spec.get("revisionHistoryLimit") is None:
            spec["revisionHistoryLimit"] = 10
        pt.default_pod_template(spec.setdefault("template", {}))

    def prepare_for_create(self, ctx, obj):
        """Empty status; template generation 1 (upstream ``PrepareForCreate``)."""
        obj["status"] = {}
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"

    def prepare_for_update(self, ctx, new, old):
        """Keep status; bump the template generation when the template changed."""
        super().prepare_for_update(ctx, new, old)
        old_gen = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION)
        if old_gen is None:
            return
        generation = int(old_gen) if old_gen.isdigit() else 0
        if (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
        new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = str(generation)

    def validate(self, ctx, obj):
        return validate_daemonset_spec(obj.get("spec") or {})

    def validate_update(self, ctx, new, old):
        """As create, then the selector is immutable (apps/v1)."""
        new_sel, old_sel = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
        return self.validate(ctx, new) + validate_immutable(new_sel, old_sel, "spec.selector",
                                                       shown=pt.go_label_selector(new_sel))

    def validate_status_update(self, ctx, new, old):
        status = new.get("status") or {}
        errs = []
        for key in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                    "numberReady", "observedGeneration", "updatedNumberScheduled",
                    "numberAvailable", "numberUnavailable", "collisionCount"):
            if isinstance(status.get(key), int):
                errs += validate_nonnegative(status[key], f"status.{key}")
        return errs

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        template = spec.get("template") or {}
        names, images = pt.container_cells(template)
        return [obj["metadata"]["name"], status.get("desiredNumberScheduled", 0),
                status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
                status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
                pt.format_labels((template.get("spec") or {}).get("nodeSelector")), age(obj),
                names, images, pt.format_selector(spec.get("selector"))]


def validate_daemonset_spec(spec: dict) -> list:
    """``ValidateDaemonSetSpec``: upstream does not require the selector, but a missing one
    selects nothing and so fails the template-labels check."""
    errs = pt.validate_selector(spec, "daemonset", required=False)
    template = spec.get("template") or {}
    errs = [e for e in errs if "empty selector" not in (e.detail or "")] + \
        pt.selector_matches_template(spec.get("selector"), template) + \
        [e for e in errs if "empty selector" in (e.detail or "")]
    errs += pt.validate_pod_template(template)
    errs += pt.validate_always_restart(template, "DaemonSet")
    for key in ("minReadySeconds", "revisionHistoryLimit"):
        if isinstance(spec.get(key), int):
            errs += validate_nonnegative(spec[key], f"spec.{key}")
    strategy = spec.get("updateStrategy") or {}
    kind, ru = strategy.get("type"), strategy.get("rollingUpdate")
    if kind == "RollingUpdate":
        if ru is None:
            errs.append(errors.required("spec.updateStrategy.rollingUpdate"))
        else:
            errs += pt.validate_rolling_update(ru, "spec.updateStrategy.rollingUpdate")
    elif kind != "OnDelete":
        shown = GoText(f'apps.DaemonSetUpdateStrategy{{Type:"{kind or ""}", '
                       f'RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}')
        errs.append(errors.not_supported("spec.updateStrategy", shown, ["RollingUpdate", "OnDelete"]))
    return errs
