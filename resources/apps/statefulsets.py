"""apps/v1 StatefulSet.

Upstream: ``SetDefaults_StatefulSet`` (``pkg/apis/apps/v1/defaults.go``), ``ValidateStatefulSet``
and ``ValidateStatefulSetUpdate`` (``pkg/apis/apps/validation/validation.go``),
``pkg/registry/apps/statefulset/strategy.go`` and ``printStatefulSet``.

Upstream validates only the template's labels and annotations (plus restartPolicy and
activeDeadlineSeconds), not its pod spec; this module does the same.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Scale, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import (
    GoText, validate_annotations, validate_labels, validate_nonnegative,
)
from resources import podtemplate as pt

# the spec fields an update may change (ValidateStatefulSetUpdate)
MUTABLE_SPEC = ("replicas", "ordinals", "template", "updateStrategy",
                "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
FORBIDDEN_UPDATE = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                    "'minReadySeconds' are forbidden")


class StatefulSetStrategy(Strategy):
    group = "apps"
    kind = "StatefulSet"
    plural = "statefulsets"
    short_names = ("sts",)
    categories = ("all",)
    subresources = (STATUS, Scale(spec_replicas="spec.replicas", status_replicas="status.replicas",
                                  label_selector="spec.selector"))
    schema_name = "io.k8s.api.apps.v1.StatefulSet"
    tracks_generation = True
    name_rule = "label"          # ValidateStatefulSetName: pod hostnames are <name>-<ordinal>
    columns = (NAME_COLUMN,
               Column("Ready", description="Number of the pod with ready state"),
               AGE_COLUMN,
               *pt.wide_columns())

    def default(self, obj):
        """``SetDefaults_StatefulSet`` (with the StatefulSetAutoDeletePVC gate on, as in 1.32)."""
        spec = obj.setdefault("spec", {})
        if not spec.get("podManagementPolicy"):
            spec["podManagementPolicy"] = "OrderedReady"
        strategy = spec.setdefault("updateStrategy", {})
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            if strategy.get("rollingUpdate") is None:
                strategy["rollingUpdate"] = {}
        # partition is only filled when rollingUpdate is present (upstream leaves an explicit
        # {type: RollingUpdate} without it alone)
        if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
            if strategy["rollingUpdate"].get("partition") is None:
                strategy["rollingUpdate"]["partition"] = 0
        policy = spec.get("persistentVolumeClaimRetentionPolicy")
        if policy is None:
            policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
        for key in ("whenDeleted", "whenScaled"):
            if not policy.get(key):
                policy[key] = "Retain"
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        if spec.get("revisionHistoryLimit") is None:
            spec["revisionHistoryLimit"] = 10
        pt.default_pod_template(spec.setdefault("template", {}))
        for claim in spec.get("volumeClaimTemplates") or []:
            _default_claim_template(claim)

    def prepare_for_create(self, ctx, obj):
        obj["status"] = {}

    def validate(self, ctx, obj):
        return validate_statefulset_spec(obj.get("spec") or {})

    def validate_update(self, ctx, new, old):
        """As create, and only the fields in ``MUTABLE_SPEC`` may change."""
        errs = self.validate(ctx, new)
        new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        rest = {k: v for k, v in new_spec.items() if k not in MUTABLE_SPEC}
        old_rest = {k: v for k, v in old_spec.items() if k not in MUTABLE_SPEC}
        if rest != old_rest:
            errs.append(errors.forbidden("spec", FORBIDDEN_UPDATE))
        return errs

    def validate_status_update(self, ctx, new, old):
        status = new.get("status") or {}
        errs = []
        for key in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas",
                    "availableReplicas", "observedGeneration", "collisionCount"):
            if isinstance(status.get(key), int):
                errs += validate_nonnegative(status[key], f"status.{key}")
        replicas = status.get("replicas") or 0
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
            if (status.get(key) or 0) > replicas:
                errs.append(errors.invalid(f"status.{key}", status[key],
                                           "cannot be greater than status.replicas"))
        return errs

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = pt.container_cells(spec.get("template"))
        return [obj["metadata"]["name"],
                f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", age(obj),
                names, images]


def _default_claim_template(claim: dict) -> None:
    """A volumeClaimTemplate is a PersistentVolumeClaim: apiVersion/kind, volumeMode
    Filesystem and status.phase Pending, as upstream serialises it."""
    if not isinstance(claim, dict):
        return
    claim.setdefault("apiVersion", "v1")
    claim.setdefault("kind", "PersistentVolumeClaim")
    spec = claim.setdefault("spec", {})
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    status = claim.setdefault("status", {})
    if not status.get("phase"):
        status["phase"] = "Pending"


def validate_statefulset_spec(spec: dict) -> list:
    """``ValidateStatefulSetSpec``."""
    errs = []
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.append(errors.required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(errors.invalid("spec.podManagementPolicy", policy,
                                   "must be 'OrderedReady' or 'Parallel'"))
    errs += _validate_update_strategy(spec.get("updateStrategy") or {})
    for key, value in (spec.get("persistentVolumeClaimRetentionPolicy") or {}).items():
        if key in ("whenDeleted", "whenScaled") and value not in ("Retain", "Delete"):
            errs.append(errors.not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                                             value, ["Retain", "Delete"]))
    errs += pt.validate_replicas(spec)
    if isinstance(spec.get("minReadySeconds"), int):
        errs += validate_nonnegative(spec["minReadySeconds"], "spec.minReadySeconds")
    start = (spec.get("ordinals") or {}).get("start")
    if isinstance(start, int):
        errs += validate_nonnegative(start, "spec.ordinals.start")
    errs += pt.validate_selector(spec, "statefulset")
    template = spec.get("template") or {}
    meta = template.get("metadata") or {}
    errs += pt.selector_matches_template(spec.get("selector"), template)
    # upstream reports template labels at spec.template.labels here (not .metadata.labels)
    errs += validate_labels(meta.get("labels"), "spec.template.labels")
    errs += validate_annotations(meta.get("annotations"), "spec.template.annotations")
    errs += pt.validate_always_restart(template, "StatefulSet")
    return errs


def _validate_update_strategy(strategy: dict) -> list:
    kind, ru = strategy.get("type"), strategy.get("rollingUpdate")
    if not kind:
        return [errors.required("spec.updateStrategy")]
    if kind == "OnDelete":
        if ru is not None:
            return [errors.invalid("spec.updateStrategy.rollingUpdate", _go_rolling(ru),
                                   "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if kind == "RollingUpdate":
        if not isinstance(ru, dict):
            return []
        errs = []
        if isinstance(ru.get("partition"), int):
            errs += validate_nonnegative(ru["partition"], "spec.updateStrategy.rollingUpdate.partition")
        if ru.get("maxUnavailable") is not None:
            errs += pt.validate_int_or_percent(ru["maxUnavailable"],
                                               "spec.updateStrategy.rollingUpdate.maxUnavailable")
        return errs
    shown = GoText(f'apps.StatefulSetUpdateStrategy{{Type:"{kind}", '
                   f'RollingUpdate:{_go_rolling(ru)}}}')
    return [errors.invalid("spec.updateStrategy", shown, "must be 'RollingUpdate' or 'OnDelete'")]


def _go_rolling(ru) -> GoText:
    if ru is None:
        return GoText("(*apps.RollingUpdateStatefulSetStrategy)(nil)")
    return GoText(f"&apps.RollingUpdateStatefulSetStrategy{{Partition:{ru.get('partition', 0)}}}")
