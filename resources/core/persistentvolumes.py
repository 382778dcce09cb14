"""core/v1 PersistentVolume (cluster-scoped, ``pv``).

Upstream: defaults kubernetes/kubernetes:pkg/apis/core/v1/defaults.go
(``SetDefaults_PersistentVolume``: phase Pending, reclaim policy Retain, volume mode
Filesystem, plus the volume sources' defaults), validation
pkg/apis/core/validation/validation.go (``ValidatePersistentVolumeSpec``,
``ValidatePersistentVolumeUpdate``), strategy pkg/registry/core/persistentvolume/strategy.go
(status reset to Pending with ``lastPhaseTransitionTime`` on create; the time moves when a
status write changes the phase) and ``printPersistentVolume`` in
pkg/printers/internalversion/printers.go.

The VolumeAttributesClass feature gate is off in 1.32, so ``spec.volumeAttributesClassName``
is dropped unless the stored volume already has one (pkg/api/persistentvolume/util.go
``DropDisabledSpecFields``).
"""
from __future__ import annotations

import json
import math
import posixpath

from apiserver.registry.meta import now_rfc3339
from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import FIELD_IMMUTABLE, GoText
from resources.core import pv_validation as pv
from resources.core.columns import column
from resources.core.pod_validation import spec_diff

_SPEC, _STATUS = "PersistentVolumeSpec", "PersistentVolumeStatus"


class PersistentVolumeStrategy(Strategy):
    kind = "PersistentVolume"
    plural = "persistentvolumes"
    namespaced = False
    short_names = ("pv",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.core.v1.PersistentVolume"
    # upstream PersistentVolumeToSelectableFields: "name" too ("a bug, but we need to
    # support it for backward compatibility")
    selectable_fields = {"name": lambda o: o["metadata"].get("name", "")}
    columns = (NAME_COLUMN,
               column("Capacity", _SPEC, "capacity"),
               column("Access Modes", _SPEC, "accessModes"),
               column("Reclaim Policy", _SPEC, "persistentVolumeReclaimPolicy"),
               column("Status", _STATUS, "phase"),
               column("Claim", _SPEC, "claimRef"),
               column("StorageClass", description="StorageClass of the pv"),
               column("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
               column("Reason", _STATUS, "reason"),
               AGE_COLUMN,
               column("VolumeMode", _SPEC, "volumeMode", priority=1))

    def default(self, obj):
        spec = obj.setdefault("spec", {})
        if not spec.get("persistentVolumeReclaimPolicy"):
            spec["persistentVolumeReclaimPolicy"] = "Retain"
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        pv.default_sources(spec)
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        if not status.get("phase"):
            status["phase"] = "Pending"

    def prepare_for_create(self, ctx, obj):
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": now_rfc3339()}
        obj["spec"].pop("volumeAttributesClassName", None)

    def prepare_for_update(self, ctx, new, old):
        super().prepare_for_update(ctx, new, old)
        _drop_attributes_class(new, old)

    def prepare_for_status_update(self, ctx, new, old):
        super().prepare_for_status_update(ctx, new, old)
        status, before = new.setdefault("status", {}), old.get("status") or {}
        when = status.get("lastPhaseTransitionTime")
        if status.get("phase") == before.get("phase"):
            if when is None and before.get("lastPhaseTransitionTime") is not None:
                status["lastPhaseTransitionTime"] = before["lastPhaseTransitionTime"]
        elif when is None or when == before.get("lastPhaseTransitionTime"):
            status["lastPhaseTransitionTime"] = now_rfc3339()

    def validate(self, ctx, obj):
        return validate_spec(obj.get("spec") or {})

    def validate_update(self, ctx, new, old):
        """``ValidatePersistentVolumeUpdate``: the source and volume mode are immutable,
        node affinity may only be set, not changed."""
        spec, before = new.get("spec") or {}, old.get("spec") or {}
        errs = validate_spec(spec)
        new_src = {k: spec[k] for k in pv.SOURCE_KEYS if spec.get(k) is not None}
        old_src = {k: before[k] for k in pv.SOURCE_KEYS if before.get(k) is not None}
        csi, old_csi = new_src.get("csi"), old_src.get("csi")
        if isinstance(csi, dict) and isinstance(old_csi, dict) \
                and old_csi.get("controllerExpandSecretRef") is None:
            # adding a controllerExpandSecretRef is allowed
            new_src["csi"] = {k: v for k, v in csi.items() if k != "controllerExpandSecretRef"}
        if new_src != old_src:
            errs.append(errors.forbidden(
                "spec.persistentvolumesource", "spec.persistentvolumesource is immutable after "
                "creation\n" + spec_diff(old_src, new_src, "spec")))
        if spec.get("volumeMode") != before.get("volumeMode"):
            # upstream's path is "volumeMode", not "spec.volumeMode"
            errs.append(errors.invalid("volumeMode", spec.get("volumeMode"), FIELD_IMMUTABLE))
        if before.get("nodeAffinity") is not None and spec.get("nodeAffinity") != before["nodeAffinity"]:
            errs.append(errors.invalid("nodeAffinity", GoText(json.dumps(spec.get("nodeAffinity"))),
                                       FIELD_IMMUTABLE + ", except for updating from beta label to GA"))
        return errs

    def canonicalize(self, obj):
        pv.canonicalize_quantities((obj.get("spec") or {}).get("capacity"))

    def table_row(self, obj):
        m, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        ref = spec.get("claimRef")
        claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if isinstance(ref, dict) else ""
        size = pv.quantity((spec.get("capacity") or {}).get("storage", "0"))
        phase = "Terminating" if m.get("deletionTimestamp") else status.get("phase", "")
        return [m["name"], str(size) if size is not None else "0",
                pv.access_modes_text(spec.get("accessModes")),
                spec.get("persistentVolumeReclaimPolicy", ""), phase, claim,
                pv.storage_class(obj), spec.get("volumeAttributesClassName") or "<unset>",
                status.get("reason", ""), age(obj), spec.get("volumeMode") or "<unset>"]


def _drop_attributes_class(new: dict, old: dict) -> None:
    """VolumeAttributesClass is off in 1.32: the field survives only if already stored."""
    if (old.get("spec") or {}).get("volumeAttributesClassName") is None:
        (new.get("spec") or {}).pop("volumeAttributesClassName", None)


def validate_spec(spec: dict, path: str = "spec") -> list:
    """``ValidatePersistentVolumeSpec`` for a stored (not inline) volume."""
    errs = pv.validate_access_modes(spec.get("accessModes"), f"{path}.accessModes")
    capacity = spec.get("capacity")
    if not capacity:
        errs.append(errors.required(f"{path}.capacity"))
    if not isinstance(capacity, dict) or "storage" not in capacity or len(capacity) > 1:
        errs.append(errors.not_supported(f"{path}.capacity",
                                         pv.go_resource_list(capacity if isinstance(capacity, dict)
                                                             else None), ["storage"]))
    for name in sorted(capacity) if isinstance(capacity, dict) else ():
        q = pv.quantity(capacity[name])
        if q is not None and q.value < 0:
            errs.append(errors.invalid(f"{path}.capacity[{name}]", math.ceil(q.value),
                                       "must be a valid resource quantity"))
        errs += pv.validate_positive_quantity(capacity[name], f"{path}.capacity[{name}]")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in pv.RECLAIM_POLICIES:
        errs.append(errors.not_supported(f"{path}.persistentVolumeReclaimPolicy", policy,
                                         pv.RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    if affinity is not None:
        errs += pv.validate_volume_node_affinity(affinity, f"{path}.nodeAffinity")
    errs += pv.validate_sources(spec, path, affinity is not None)
    host = spec.get("hostPath")
    if isinstance(host, dict) and host.get("path") and policy == "Recycle" \
            and posixpath.normpath(host["path"]) in ("/", "//"):   # Go path.Clean
        errs.append(errors.forbidden(f"{path}.persistentVolumeReclaimPolicy",
                                     "may not be 'recycle' for a hostPath mount of '/'"))
    if spec.get("storageClassName"):
        errs += pv.validate_class_name(spec["storageClassName"], f"{path}.storageClassName")
    errs += pv.validate_volume_mode(spec.get("volumeMode"), f"{path}.volumeMode")
    return errs
