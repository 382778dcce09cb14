"""Field checks the storage.k8s.io kinds share: CSI driver names, 1.32's "too long"
errors, StorageClass topologies and the inline PersistentVolumeSpec of a VolumeAttachment.

Upstream: kubernetes/kubernetes:pkg/apis/storage/validation/validation.go and the helpers it
calls in pkg/apis/core/validation/validation.go (``ValidateCSIDriverName``,
``ValidateTopologySelectorTerm``, ``ValidatePersistentVolumeSpec``).
"""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import is_dns1123_subdomain, is_qualified_name

CSI_DRIVER_NAME_MAX = 63


def too_long(path: str, limit: int) -> FieldError:
    """1.32's ``field.TooLong``: the value is omitted, the limit is counted in bytes."""
    unit = "byte" if limit == 1 else "bytes"
    return FieldError("FieldValueTooLong", path, None, f"may not be more than {limit} {unit}",
                      has_value=False)


def validate_csi_driver_name(name: str, path: str) -> list[FieldError]:
    """Core ``ValidateCSIDriverName``: non-empty, at most 63 bytes, a DNS-1123 subdomain
    once lower-cased (VolumeAttachment attachers, CSINode drivers, PV ``csi.driver``)."""
    errs = []
    if not name:
        errs.append(errors.required(path))
    if len(name.encode()) > CSI_DRIVER_NAME_MAX:
        errs.append(too_long(path, CSI_DRIVER_NAME_MAX))
    errs += [errors.invalid(path, name, m) for m in is_dns1123_subdomain(name.lower())]
    return errs


# ---------------------------------------------------------------- StorageClass topologies

def validate_allowed_topologies(terms: list | None, path: str = "allowedTopologies") -> list[FieldError]:
    """``validateAllowedTopologies``: every term valid (``ValidateTopologySelectorTerm``) and
    no two terms alike.  Upstream compares each term with a slice that starts out holding
    ``len(terms)`` empty placeholders, so a term without expressions is always a duplicate."""
    errs: list[FieldError] = []
    seen: list[dict] = []
    for i, term in enumerate(terms or []):
        term_path = f"{path}[{i}]"
        expr_map, term_errs = _topology_term(term if isinstance(term, dict) else {}, term_path)
        errs += term_errs
        if not expr_map or expr_map in seen:
            errs.append(errors.duplicate(term_path + ".matchLabelExpressions", ""))
        seen.append(expr_map)
    return errs


def _topology_term(term: dict, path: str) -> tuple[dict, list[FieldError]]:
    errs: list[FieldError] = []
    expr_map: dict = {}
    for i, req in enumerate(term.get("matchLabelExpressions") or []):
        req = req if isinstance(req, dict) else {}
        p = f"{path}.matchLabelExpressions[{i}]"
        key, values = req.get("key") or "", list(req.get("values") or [])
        if not values:
            errs.append(errors.required(p + ".values"))
        value_set: set = set()
        for j, value in enumerate(values):
            if value in value_set:
                errs.append(errors.duplicate(f"{p}.values[{j}]", value))
            value_set.add(value)
        errs += [errors.invalid(p + ".key", key, m) for m in is_qualified_name(key)]
        if key in expr_map:
            errs.append(errors.duplicate(p + ".key", key))
        expr_map[key] = value_set
    return expr_map, errs


# ---------------------------------------------------------------- inline PersistentVolumeSpec

# upstream ValidatePersistentVolumeSpec checks the volume sources in this order
PV_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker",
              "nfs", "rbd", "quobyte", "cinder", "cephfs", "iscsi", "fc", "flexVolume",
              "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume",
              "azureDisk", "scaleIO", "local", "storageos", "csi")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
INLINE_ONLY = "may not be specified in the context of inline volumes"


def validate_inline_pv_spec(spec: dict, path: str) -> list[FieldError]:
    """``ValidatePersistentVolumeSpec`` with ``validateInlinePersistentVolumeSpec`` (a
    VolumeAttachment's ``source.inlineVolumeSpec``, translated from a pod's inline volume
    for CSI migration): no claimRef or capacity, a CSI source, valid access modes.  Only
    the CSI source is checked in depth; the in-tree sources are counted, not validated."""
    errs: list[FieldError] = []
    if spec.get("claimRef") is not None:
        errs.append(errors.forbidden(path + ".claimRef", INLINE_ONLY))
    if spec.get("capacity"):
        errs.append(errors.forbidden(path + ".capacity", INLINE_ONLY))
    if spec.get("csi") is None:
        errs.append(errors.required(path + ".csi",
                                    "has to be specified in the context of inline volumes"))
    modes = list(spec.get("accessModes") or [])
    if not modes:
        errs.append(errors.required(path + ".accessModes"))
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(errors.not_supported(path + ".accessModes", mode, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and any(m != "ReadWriteOncePod" for m in modes):
        errs.append(errors.forbidden(path + ".accessModes",
                                     "may not use ReadWriteOncePod with other access modes"))
    policy = spec.get("persistentVolumeReclaimPolicy") or ""
    if policy and policy != "Retain":
        errs.append(errors.forbidden(path + ".persistentVolumeReclaimPolicy",
                                     "may only be Retain in the context of inline volumes"))
    class_name = spec.get("storageClassName") or ""
    if class_name:
        errs += [errors.invalid(path + ".storageClassName", class_name, m)
                 for m in is_dns1123_subdomain(class_name)]
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(errors.not_supported(path + ".volumeMode", mode, VOLUME_MODES))
    errs += _volume_sources(spec, path)
    return errs


def _volume_sources(spec: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for source in PV_SOURCES:
        if spec.get(source) is None:
            continue
        if count:
            errs.append(errors.forbidden(f"{path}.{source}", "may not specify more than 1 volume type"))
            continue
        count += 1
        if source == "csi":
            csi = spec["csi"] if isinstance(spec["csi"], dict) else {}
            errs += validate_csi_driver_name(csi.get("driver") or "", path + ".csi.driver")
            if not csi.get("volumeHandle"):
                errs.append(errors.required(path + ".csi.volumeHandle"))
    if not count:
        errs.append(errors.required(path, "must specify a volume type"))
    return errs
