"""apps/v1 Deployment.

Upstream: defaults ``pkg/apis/apps/v1/defaults.go`` (``SetDefaults_Deployment``), validation
``pkg/apis/apps/validation/validation.go`` (``ValidateDeploymentSpec``), strategy
``pkg/registry/apps/deployment/strategy.go`` and the printer ``printDeployment`` in
``pkg/printers/internalversion/printers.go``.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Scale, Strategy
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict
from apiserver.runtime.validation import GoText, validate_immutable, validate_nonnegative
from resources import podtemplate as pt

_STATUS = "io.k8s.api.apps.v1.DeploymentStatus"


class DeploymentStrategy(Strategy):
    group = "apps"
    kind = "Deployment"
    plural = "deployments"
    short_names = ("deploy",)
    categories = ("all",)
    subresources = (STATUS, Scale(spec_replicas="spec.replicas", status_replicas="status.replicas",
                                  label_selector="spec.selector"))
    schema_name = "io.k8s.api.apps.v1.Deployment"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Ready", description="Number of the pod with ready state"),
               Column("Up-to-date", description=pt.doc(_STATUS, "updatedReplicas")),
               Column("Available", description=pt.doc(_STATUS, "availableReplicas")),
               AGE_COLUMN,
               *pt.wide_columns(pt.doc("io.k8s.api.apps.v1.DeploymentSpec", "selector")))

    def default(self, obj):
        """``SetDefaults_Deployment``: replicas 1, RollingUpdate 25%/25%, history 10,
        progress deadline 600s; the pod template gets the PodSpec defaults."""
        spec = obj.setdefault("spec", {})
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        strategy = spec.setdefault("strategy", {})
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            ru = strategy.get("rollingUpdate")
            if ru is None:
                ru = strategy["rollingUpdate"] = {}
            if ru.get("maxUnavailable") is None:
                ru["maxUnavailable"] = "25%"
            if ru.get("maxSurge") is None:
                ru["maxSurge"] = "25%"
        if spec.get("revisionHistoryLimit") is None:
            spec["revisionHistoryLimit"] = 10
        if spec.get("progressDeadlineSeconds") is None:
            spec["progressDeadlineSeconds"] = 600
        pt.default_pod_template(spec.setdefault("template", {}))

    def prepare_for_create(self, ctx, obj):
        """Status starts empty (the controller fills it); generation is set by the Store."""
        obj["status"] = {}

    def validate(self, ctx, obj):
        return validate_deployment_spec(obj.get("spec") or {})

    def validate_update(self, ctx, new, old):
        """As create, then the selector may not change (apps/v1 and later)."""
        errs = self.validate(ctx, new)
        new_sel, old_sel = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
        errs += validate_immutable(new_sel, old_sel, "spec.selector", shown=pt.go_label_selector(new_sel))
        return errs

    def validate_status_update(self, ctx, new, old):
        return validate_replica_status(new.get("status") or {})

    def generation_changed(self, new, old):
        """Upstream (pkg/registry/apps/deployment/strategy.go): a Deployment's generation also
        moves when its annotations change (rollback and pause annotations drive rollouts)."""
        return super().generation_changed(new, old) or \
            (new.get("metadata") or {}).get("annotations") != (old.get("metadata") or {}).get("annotations")

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = pt.container_cells(spec.get("template"))
        try:
            selector = label_selector_from_dict(spec.get("selector")).to_string()
        except errors.APIError:
            selector = "<invalid>"
        return [obj["metadata"]["name"],
                f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
                status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age(obj),
                names, images, selector]


def validate_deployment_spec(spec: dict) -> list:
    """``ValidateDeploymentSpec``: replicas, selector, template, strategy and counters."""
    errs = pt.validate_replicas(spec)
    errs += pt.validate_selector(spec, "deployment")
    template = spec.get("template") or {}
    # a missing selector selects nothing, so it is also reported as not matching (upstream)
    errs += pt.selector_matches_template(spec.get("selector"), template)
    errs += pt.validate_pod_template(template)
    errs += pt.validate_always_restart(template, "ReplicaSet")
    errs += _validate_strategy(spec.get("strategy") or {})
    for key in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        if isinstance(spec.get(key), int):
            errs += validate_nonnegative(spec[key], f"spec.{key}")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        errs.append(errors.invalid("spec.progressDeadlineSeconds", deadline,
                                   "must be greater than minReadySeconds"))
    return errs


def _validate_strategy(strategy: dict) -> list:
    """``ValidateDeploymentStrategy``."""
    kind, ru = strategy.get("type"), strategy.get("rollingUpdate")
    if kind == "Recreate":
        if ru is not None:
            return [errors.forbidden("spec.strategy.rollingUpdate",
                                     "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if ru is None:
            return [errors.required("spec.strategy.rollingUpdate",
                                    "this should be defaulted and never be nil")]
        return pt.validate_rolling_update(ru, "spec.strategy.rollingUpdate")
    shown = GoText(f'apps.DeploymentStrategy{{Type:"{kind or ""}", '
                   f'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}')
    return [errors.not_supported("spec.strategy", shown, ["Recreate", "RollingUpdate"])]


def validate_replica_status(status: dict, path: str = "status") -> list:
    """Counters a controller writes must be non-negative (``ValidateDeploymentStatus`` and
    its ReplicaSet twin), and ready/available may not exceed replicas."""
    errs = []
    for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                "unavailableReplicas", "fullyLabeledReplicas", "observedGeneration",
                "collisionCount", "terminatingReplicas"):
        if isinstance(status.get(key), int):
            errs += validate_nonnegative(status[key], f"{path}.{key}")
    replicas = status.get("replicas") or 0
    for key in ("updatedReplicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
        if isinstance(status.get(key), int) and status[key] > replicas:
            errs.append(errors.invalid(f"{path}.{key}", status[key],
                                       "cannot be greater than status.replicas"))
    return errs
