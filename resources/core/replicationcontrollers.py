"""core/v1 ReplicationController (``rc``), with ``/status`` and ``/scale``.

Upstream: defaults kubernetes/kubernetes:pkg/apis/core/v1/defaults.go
(``SetDefaults_ReplicationController``: an empty selector and empty object labels take the
template's labels, replicas 1), validation pkg/apis/core/validation/validation.go
(``ValidateReplicationControllerSpec``, ``ValidatePodTemplateSpecForRC``,
``ValidateReplicationControllerStatus``), strategy
pkg/registry/core/replicationcontroller/strategy.go (status reset on create, generation
bumped on spec changes, ``status.replicas`` selectable) and ``printReplicationController`` in
pkg/printers/internalversion/printers.go.

The Scale view: upstream's ScaleREST (pkg/registry/core/replicationcontroller/storage/
storage.go) reports ``labels.SelectorFromSet(spec.selector)`` as ``status.selector``.  The
generic scale view reads a selector string or a structured LabelSelector, not a plain label
map, so it is declared on ``status.selector`` (absent) and the Scale carries no selector.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Scale, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import validate_nonnegative
from resources import podtemplate as pt
from resources.core.columns import column

_SPEC, _STATUS = "ReplicationControllerSpec", "ReplicationControllerStatus"
STATUS_COUNTERS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                   "observedGeneration")


class ReplicationControllerStrategy(Strategy):
    kind = "ReplicationController"
    plural = "replicationcontrollers"
    short_names = ("rc",)
    categories = ("all",)
    subresources = (STATUS, Scale(spec_replicas="spec.replicas", status_replicas="status.replicas",
                                  label_selector="status.selector"))
    schema_name = "io.k8s.api.core.v1.ReplicationController"
    tracks_generation = True
    # upstream pkg/registry/core/replicationcontroller/strategy.go: v1 orphans by default,
    # for compatibility (kubectl names Background)
    default_garbage_collection_policy = "OrphanDependents"
    selectable_fields = {"status.replicas":
                         lambda o: str((o.get("status") or {}).get("replicas") or 0)}
    columns = (NAME_COLUMN,
               column("Desired", _SPEC, "replicas", type="integer"),
               column("Current", _STATUS, "replicas", type="integer"),
               column("Ready", _STATUS, "readyReplicas", type="integer"),
               AGE_COLUMN,
               *pt.wide_columns(pt.doc(_SPEC, "selector")))

    def default(self, obj):
        spec = obj.setdefault("spec", {})
        template = spec.get("template")
        labels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
        if labels is not None:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = obj.setdefault("metadata", {})
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        if isinstance(template, dict):
            pt.default_pod_template(template)

    def prepare_for_create(self, ctx, obj):
        obj["status"] = {"replicas": 0}

    def validate(self, ctx, obj):
        return validate_spec(obj.get("spec") or {})

    def validate_status_update(self, ctx, new, old):
        return validate_status(new.get("status") or {})

    def canonicalize(self, obj):
        # Go writes status.replicas (no omitempty) even when a status write left it out
        status = obj.get("status")
        if isinstance(status, dict):
            status.setdefault("replicas", 0)

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = pt.container_cells(spec.get("template"))
        return [obj["metadata"]["name"], spec.get("replicas") or 0, status.get("replicas") or 0,
                status.get("readyReplicas") or 0, age(obj),
                names, images, pt.format_labels(spec.get("selector"))]


def validate_spec(spec: dict, path: str = "spec") -> list:
    """``ValidateReplicationControllerSpec``: counters, a non-empty selector, and a template
    the selector matches whose pods restart Always."""
    errs = pt.validate_replicas(spec, f"{path}.minReadySeconds", "minReadySeconds")
    if not spec.get("selector"):
        errs.append(errors.required(f"{path}.selector"))
    errs += pt.validate_replicas(spec, f"{path}.replicas")
    template = spec.get("template")
    if not isinstance(template, dict):
        return errs + [errors.required(f"{path}.template")]
    selector = spec.get("selector") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(errors.invalid(f"{path}.template.metadata.labels",
                                   pt.go_map((template.get("metadata") or {}).get("labels")),
                                   "`selector` does not match template `labels`"))
    errs += pt.validate_pod_template(template, f"{path}.template")
    errs += pt.validate_always_restart(template, "ReplicationController", f"{path}.template.spec")
    return errs


def validate_status(status: dict, path: str = "status") -> list:
    """``ValidateReplicationControllerStatus``."""
    errs = []
    for key in STATUS_COUNTERS:
        if isinstance(status.get(key), int):
            errs += validate_nonnegative(status[key], f"{path}.{key}")
    replicas, ready = status.get("replicas") or 0, status.get("readyReplicas") or 0
    for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if (status.get(key) or 0) > replicas:       # Go compares the zero value too
            errs.append(errors.invalid(f"{path}.{key}", status.get(key) or 0,
                                       "cannot be greater than status.replicas"))
    if (status.get("availableReplicas") or 0) > ready:
        errs.append(errors.invalid(f"{path}.availableReplicas", status.get("availableReplicas") or 0,
                                   "cannot be greater than readyReplicas"))
    return errs
