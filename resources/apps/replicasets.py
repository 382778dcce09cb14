"""apps/v1 ReplicaSet.

Upstream: ``SetDefaults_ReplicaSet`` (``pkg/apis/apps/v1/defaults.go``), ``ValidateReplicaSet``
(``pkg/apis/apps/validation/validation.go``), ``pkg/registry/apps/replicaset/strategy.go`` and
``printReplicaSet`` (``pkg/printers/internalversion/printers.go``).
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Scale, Strategy
from apiserver.runtime.validation import validate_immutable, validate_nonnegative
from resources import podtemplate as pt
from resources.apps.deployments import validate_replica_status

_SPEC, _STATUS = "io.k8s.api.apps.v1.ReplicaSetSpec", "io.k8s.api.apps.v1.ReplicaSetStatus"


class ReplicaSetStrategy(Strategy):
    group = "apps"
    kind = "ReplicaSet"
    plural = "replicasets"
    short_names = ("rs",)
    categories = ("all",)
    subresources = (STATUS, Scale(spec_replicas="spec.replicas", status_replicas="status.replicas",
                                  label_selector="spec.selector"))
    schema_name = "io.k8s.api.apps.v1.ReplicaSet"
    tracks_generation = True
    # upstream rsToSelectableFields
    selectable_fields = {"status.replicas": lambda o: str((o.get("status") or {}).get("replicas", 0))}
    columns = (NAME_COLUMN,
               Column("Desired", "integer", description=pt.doc(_SPEC, "replicas")),
               Column("Current", "integer", description=pt.doc(_STATUS, "replicas")),
               Column("Ready", "integer", description=pt.doc(_STATUS, "readyReplicas")),
               AGE_COLUMN,
               *pt.wide_columns(pt.doc(_SPEC, "selector")))

    def default(self, obj):
        """``SetDefaults_ReplicaSet``: replicas 1; PodSpec defaults in the template."""
        spec = obj.setdefault("spec", {})
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        pt.default_pod_template(spec.setdefault("template", {}))

    def prepare_for_create(self, ctx, obj):
        """Status starts empty; the ReplicaSet controller fills it."""
        obj["status"] = {}

    def validate(self, ctx, obj):
        """``ValidateReplicaSetSpec`` (its empty-selector message says "deployment", as upstream)."""
        spec = obj.get("spec") or {}
        errs = pt.validate_replicas(spec)
        if isinstance(spec.get("minReadySeconds"), int):
            errs += validate_nonnegative(spec["minReadySeconds"], "spec.minReadySeconds")
        errs += pt.validate_selector(spec, "deployment")
        template = spec.get("template") or {}
        errs += pt.selector_matches_template(spec.get("selector"), template)
        errs += pt.validate_pod_template(template)
        errs += pt.validate_always_restart(template, "ReplicaSet")
        return errs

    def validate_update(self, ctx, new, old):
        """As create, then the selector is immutable (apps/v1)."""
        new_sel, old_sel = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
        return self.validate(ctx, new) + validate_immutable(new_sel, old_sel, "spec.selector",
                                                       shown=pt.go_label_selector(new_sel))

    def validate_status_update(self, ctx, new, old):
        return validate_replica_status(new.get("status") or {})

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = pt.container_cells(spec.get("template"))
        return [obj["metadata"]["name"], spec.get("replicas", 0), status.get("replicas", 0),
                status.get("readyReplicas", 0), age(obj), names, images,
                pt.format_selector(spec.get("selector"))]
