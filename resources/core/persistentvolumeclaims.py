"""core/v1 PersistentVolumeClaim (``pvc``).

Upstream: defaults kubernetes/kubernetes:pkg/apis/core/v1/defaults.go
(``SetDefaults_PersistentVolumeClaim``: phase Pending; ``SetDefaults_PersistentVolumeClaimSpec``:
volume mode Filesystem), validation pkg/apis/core/validation/validation.go
(``ValidatePersistentVolumeClaimSpec``, ``ValidatePersistentVolumeClaimUpdate``,
``ValidatePersistentVolumeClaimStatusUpdate``), strategy
pkg/registry/core/persistentvolumeclaim/strategy.go (status reset on create, kept on spec
writes; ``dataSource``/``dataSourceRef`` mirrored, pkg/api/persistentvolumeclaim/util.go
``NormalizeDataSources``) and ``printPersistentVolumeClaim`` in
pkg/printers/internalversion/printers.go.

Feature gates as 1.32 ships them: RecoverVolumeExpansionFailure is on (beta), so a bound
claim may lower its request after a failed expansion but never to or below
``status.capacity``; VolumeAttributesClass is off, so ``spec.volumeAttributesClassName`` is
dropped unless already stored.
"""
from __future__ import annotations

import copy

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.selectors import validate_label_selector
from apiserver.runtime.validation import (FIELD_IMMUTABLE, GoText, is_dns1123_label,
                                          is_dns1123_subdomain, is_qualified_name)
from resources.core import pv_validation as pv
from resources.core.columns import column
from resources.core.pod_validation import spec_diff

_SPEC, _STATUS = "PersistentVolumeClaimSpec", "PersistentVolumeClaimStatus"
RESIZE_STATUSES = ("ControllerResizeInProgress", "ControllerResizeInfeasible",
                   "NodeResizeInProgress", "NodeResizeInfeasible", "NodeResizePending")
IMMUTABLE_SPEC = ("spec is immutable after creation except resources.requests and "
                  "volumeAttributesClassName for bound claims")


class PersistentVolumeClaimStrategy(Strategy):
    kind = "PersistentVolumeClaim"
    plural = "persistentvolumeclaims"
    short_names = ("pvc",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.core.v1.PersistentVolumeClaim"
    # upstream PersistentVolumeClaimToSelectableFields keeps a bare "name" for compatibility
    selectable_fields = {"name": lambda o: o["metadata"].get("name", "")}
    columns = (NAME_COLUMN,
               column("Status", _STATUS, "phase"),
               column("Volume", _SPEC, "volumeName"),
               column("Capacity", _STATUS, "capacity"),
               column("Access Modes", _STATUS, "accessModes"),
               column("StorageClass", description="StorageClass of the pvc"),
               column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
               AGE_COLUMN,
               column("VolumeMode", _SPEC, "volumeMode", priority=1))

    def default(self, obj):
        spec = obj.setdefault("spec", {})
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        if not status.get("phase"):
            status["phase"] = "Pending"

    def prepare_for_create(self, ctx, obj):
        # PrepareForCreate empties the status; defaulting on the way back from storage
        # makes it Pending again
        obj["status"] = {"phase": "Pending"}
        spec = obj["spec"]
        spec.pop("volumeAttributesClassName", None)
        _normalize_data_sources(spec)

    def prepare_for_update(self, ctx, new, old):
        super().prepare_for_update(ctx, new, old)
        if (old.get("spec") or {}).get("volumeAttributesClassName") is None:
            (new.get("spec") or {}).pop("volumeAttributesClassName", None)

    def validate(self, ctx, obj):
        return validate_spec(obj.get("spec") or {})

    def validate_update(self, ctx, new, old):
        return validate_spec(new.get("spec") or {}) + validate_claim_update(new, old)

    def validate_status_update(self, ctx, new, old):
        return validate_status(new.get("status") or {})

    def canonicalize(self, obj):
        resources = (obj.get("spec") or {}).get("resources") or {}
        for key in ("requests", "limits"):
            pv.canonicalize_quantities(resources.get(key))
        status = obj.get("status") or {}
        for key in ("capacity", "allocatedResources"):
            pv.canonicalize_quantities(status.get(key))

    def table_row(self, obj):
        m, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        phase = "Terminating" if m.get("deletionTimestamp") else status.get("phase", "")
        capacity = modes = ""
        if spec.get("volumeName"):
            modes = pv.access_modes_text(status.get("accessModes"))
            size = pv.quantity((status.get("capacity") or {}).get("storage", "0"))
            capacity = str(size) if size is not None else "0"
        return [m["name"], phase, spec.get("volumeName", ""), capacity, modes,
                pv.storage_class(obj), spec.get("volumeAttributesClassName") or "<unset>",
                age(obj), spec.get("volumeMode") or "<unset>"]


def _normalize_data_sources(spec: dict) -> None:
    """``NormalizeDataSources``: whichever of dataSource/dataSourceRef is missing mirrors
    the other (not for a cross-namespace dataSourceRef)."""
    source, ref = spec.get("dataSource"), spec.get("dataSourceRef")
    keys = ("apiGroup", "kind", "name")
    if isinstance(source, dict) and ref is None:
        spec["dataSourceRef"] = {k: source[k] for k in keys if k in source}
    elif isinstance(ref, dict) and source is None and not ref.get("namespace"):
        spec["dataSource"] = {k: ref[k] for k in keys if k in ref}


def validate_spec(spec: dict, path: str = "spec") -> list:
    """``ValidatePersistentVolumeClaimSpec``."""
    errs = []
    modes = spec.get("accessModes")
    if not modes:
        errs.append(errors.required(f"{path}.accessModes", "at least 1 access mode is required"))
    if isinstance(spec.get("selector"), dict):
        errs += validate_label_selector(spec["selector"], f"{path}.selector")
    if modes:
        errs += pv.validate_access_modes(modes, f"{path}.accessModes")
    requests = (spec.get("resources") or {}).get("requests") or {}
    storage_path = f"{path}.resources[storage]"      # upstream: Child("resources").Key("storage")
    if "storage" not in requests:
        errs.append(errors.required(storage_path))
    else:
        errs += pv.validate_positive_quantity(requests["storage"], storage_path)
    if spec.get("storageClassName"):
        errs += pv.validate_class_name(spec["storageClassName"], f"{path}.storageClassName")
    errs += pv.validate_volume_mode(spec.get("volumeMode"), f"{path}.volumeMode")
    source, ref = spec.get("dataSource"), spec.get("dataSourceRef")
    if isinstance(source, dict):
        errs += _validate_data_source(source, f"{path}.dataSource")
    if isinstance(ref, dict):
        errs += _validate_data_source(ref, f"{path}.dataSourceRef")
        if ref.get("namespace"):
            errs += [errors.invalid(f"{path}.dataSourceRef.namespace", ref["namespace"], m)
                     for m in is_dns1123_label(ref["namespace"])]
    if isinstance(ref, dict) and ref.get("namespace"):
        if source is not None:
            errs.append(errors.invalid(path, GoText(f"{path}.dataSource"),
                                       "may not be specified when dataSourceRef.namespace is specified"))
    elif isinstance(source, dict) and isinstance(ref, dict):
        if any(source.get(k) != ref.get(k) for k in ("apiGroup", "kind", "name")):
            errs.append(errors.invalid(path, GoText(f"{path}.dataSource"), "must match dataSourceRef"))
    return errs


def _validate_data_source(ref: dict, path: str) -> list:
    """``validateDataSource`` / ``validateDataSourceRef``."""
    errs = [errors.required(f"{path}.{k}") for k in ("name", "kind") if not ref.get(k)]
    group = ref.get("apiGroup") or ""
    if not group and ref.get("kind") != "PersistentVolumeClaim":
        errs.append(errors.invalid(path, ref.get("kind") or "",
                                   "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if group:
        errs += [errors.invalid(f"{path}.apiGroup", group, m) for m in is_dns1123_subdomain(group)]
    return errs


def validate_claim_update(new: dict, old: dict) -> list:
    """``ValidatePersistentVolumeClaimUpdate``: the spec is fixed once created, except that
    ``volumeName`` may be set once, the storage class may move from the beta annotation
    (or from unset) to ``storageClassName``, and a bound claim may change its request."""
    errs = []
    spec, before = new.get("spec") or {}, old.get("spec") or {}
    new_clone, old_clone = copy.deepcopy(spec), copy.deepcopy(before)
    if not before.get("volumeName"):
        old_clone["volumeName"] = new_clone.get("volumeName")
        if old_clone["volumeName"] is None:
            del old_clone["volumeName"]
    new_ann = (new.get("metadata") or {}).get("annotations") or {}
    old_ann = (old.get("metadata") or {}).get("annotations") or {}
    key = pv.BETA_STORAGE_CLASS
    old_class, new_class = before.get("storageClassName"), spec.get("storageClassName")
    if key in old_ann and old_class is None and new_class is not None \
            and new_class == old_ann[key] and new_ann.get(key, old_ann[key]) == old_ann[key]:
        new_clone.pop("storageClassName", None)       # upgrade from the beta annotation
    else:
        if new_ann.get(key, "") != old_ann.get(key, ""):
            errs.append(errors.invalid(f"metadata.annotations.{key}", new_ann.get(key, ""),
                                       FIELD_IMMUTABLE))
        if new_class is not None and old_class is None and \
                (key not in old_ann or new_class == old_ann[key]):
            new_clone.pop("storageClassName", None)   # upgrade from unset
    bound = (new.get("status") or {}).get("phase") == "Bound"
    old_requests = (before.get("resources") or {}).get("requests") or {}
    new_requests = (new_clone.get("resources") or {}).get("requests")
    if bound and isinstance(new_requests, dict):
        if "storage" in old_requests:
            new_requests["storage"] = old_requests["storage"]
        else:
            new_requests.pop("storage", None)
    if bound and new_clone.get("volumeAttributesClassName") is not None:
        new_clone["volumeAttributesClassName"] = old_clone.get("volumeAttributesClassName")
    if _canonical(new_clone) != _canonical(old_clone):
        errs.append(errors.forbidden("spec", IMMUTABLE_SPEC + "\n" +
                                     spec_diff(old_clone, new_clone, "spec")))
    old_size = pv.quantity(old_requests.get("storage", "0"))
    new_size = pv.quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
    status_size = pv.quantity(((old.get("status") or {}).get("capacity") or {}).get("storage", "0"))
    if None not in (old_size, new_size, status_size) and new_size < old_size \
            and new_size <= status_size:
        errs.append(errors.forbidden("spec.resources.requests.storage",
                                     "field can not be less than status.capacity"))
    if spec.get("volumeMode") != before.get("volumeMode"):
        errs.append(errors.invalid("volumeMode", spec.get("volumeMode"), FIELD_IMMUTABLE))
    return errs


def _canonical(spec: dict) -> dict:
    """The spec with its quantities canonical, so ``1Gi`` equals ``1024Mi`` (Go compares
    Quantities semantically)."""
    spec = copy.deepcopy(spec)
    resources = spec.get("resources")
    if isinstance(resources, dict):
        for key in ("requests", "limits"):
            pv.canonicalize_quantities(resources.get(key))
    return spec


def validate_status(status: dict) -> list:
    """``ValidatePersistentVolumeClaimStatusUpdate`` (the spec cannot change here)."""
    errs = []
    for name, value in sorted((status.get("capacity") or {}).items()):
        q = pv.quantity(value)
        if q is not None and q.value < 0:
            errs.append(errors.invalid(f"status.capacity[{name}]", str(q),
                                       "must be a valid resource quantity"))
    # upstream's path really is "allocatedResourceStatus"
    for name, value in sorted((status.get("allocatedResourceStatuses") or {}).items()):
        errs += _resource_key(name, "status.allocatedResourceStatus")
        if value not in RESIZE_STATUSES:
            errs.append(errors.not_supported("status.allocatedResourceStatus", name, RESIZE_STATUSES))
    for name, value in sorted((status.get("allocatedResources") or {}).items()):
        key_errs = _resource_key(name, "status.allocatedResources")
        if key_errs:
            errs += key_errs
            continue
        q = pv.quantity(value)
        if q is not None and q.value < 0:
            errs.append(errors.invalid(f"status.allocatedResources[{name}]", str(q),
                                       "must be a valid resource quantity"))
    return errs


def _resource_key(name: str, path: str) -> list:
    """``validatePersistentVolumeClaimResourceKey``: a native resource must be storage."""
    errs = [errors.invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    native = "/" not in name or "kubernetes.io/" in name       # helper.IsNativeResource
    if native and name != "storage":
        return [errors.not_supported(path, name, ["storage"])]
    return []
