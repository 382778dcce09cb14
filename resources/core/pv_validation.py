"""What PersistentVolumes and PersistentVolumeClaims share: access modes, volume modes,
quantities, storage classes, and a PersistentVolume's sources and node affinity.

Follows kubernetes/kubernetes:pkg/apis/core/validation/validation.go
(``ValidatePersistentVolumeSpec`` and the ``validate*PersistentVolumeSource`` functions it
calls, ``validateVolumeNodeAffinity``/``ValidateNodeSelector``) with upstream's paths and
messages — including its quirks: a GCE disk is validated under ``spec.persistentDisk``, a
FlexVolume is never refused as "more than 1 volume type".  Each source gets its required
fields checked (not every format rule of every storage plugin).  Printing helpers follow
kubernetes/kubernetes:pkg/apis/core/helper/helpers.go (``GetAccessModesAsString``,
``GetPersistentVolumeClass``, ``GetPersistentVolumeClaimClass``).

May import: apiserver.runtime, resources.core.pod_defaults.
"""
from __future__ import annotations

import json
import posixpath

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.quantity import QuantityError, parse_quantity
from apiserver.runtime.validation import (GoText, go_strings, inclusive_range_error,
                                          is_dns1123_label, is_dns1123_subdomain,
                                          is_qualified_name, is_valid_label_value)
from resources.core.pod_defaults import default_volume

# sets.List(...) order: sorted
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                   "FileOrCreate", "Socket")
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
NOT_POSITIVE = "must be greater than zero"
_MODE_ABBREVIATIONS = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"),
                       ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


# ---------------------------------------------------------------- shared by PV and PVC

def validate_access_modes(modes, path: str, required_detail: str = "") -> list[FieldError]:
    """Required, each one known, and ReadWriteOncePod only on its own."""
    modes = modes if isinstance(modes, list) else []
    errs = [] if modes else [errors.required(path, required_detail)]
    once_pod = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(errors.not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            once_pod = True
        else:
            other = True
    if once_pod and other:
        errs.append(errors.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_volume_mode(mode, path: str) -> list[FieldError]:
    if mode is not None and mode not in VOLUME_MODES:
        return [errors.not_supported(path, mode, VOLUME_MODES)]
    return []


def validate_class_name(value, path: str) -> list[FieldError]:
    """``ValidateClassName``: a DNS-1123 subdomain."""
    return [errors.invalid(path, value, m) for m in is_dns1123_subdomain(str(value))]


def quantity(value):
    """The parsed quantity, or None when it does not parse."""
    try:
        return parse_quantity(value)
    except (QuantityError, TypeError):
        return None


def validate_positive_quantity(value, path: str) -> list[FieldError]:
    """``ValidatePositiveQuantityValue`` (a malformed one is a decoding error upstream)."""
    q = quantity(value)
    if q is None:
        return [errors.invalid(path, value, "must be a valid resource quantity")]
    return [] if q.value > 0 else [errors.invalid(path, str(q), NOT_POSITIVE)]


def canonicalize_quantities(values) -> None:
    """Quantities are stored in their canonical form (``1024Mi`` → ``1Gi``), as Go writes
    a ``resource.Quantity`` back."""
    if isinstance(values, dict):
        for key, value in values.items():
            q = quantity(value)
            if q is not None:
                values[key] = str(q)


def access_modes_text(modes) -> str:
    """``GetAccessModesAsString``: ``RWO,ROX,RWX,RWOP`` in that order, duplicates once."""
    present = set(modes or [])
    return ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in present)


def storage_class(obj: dict) -> str:
    """The beta annotation first, then ``spec.storageClassName``."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return annotations[BETA_STORAGE_CLASS]
    return (obj.get("spec") or {}).get("storageClassName") or ""


def go_resource_list(values) -> GoText:
    """A ``core.ResourceList`` in a message: ``%#v`` for nil and empty maps; otherwise a
    simplified ``name:"quantity"`` rendering (Go prints each Quantity's internals)."""
    if values is None:
        return GoText("core.ResourceList(nil)")
    items = ", ".join(f"{json.dumps(k)}:{json.dumps(str(v))}" for k, v in sorted(values.items()))
    return GoText("core.ResourceList{" + items + "}")


# ---------------------------------------------------------------- PersistentVolume sources

def default_sources(spec: dict) -> None:
    """The source defaults a PersistentVolume shares with a Pod volume (hostPath type,
    iSCSI interface, RBD pool/user/keyring, ScaleIO and Azure disk settings)."""
    sources = {k: spec[k] for k in ("hostPath", "iscsi", "rbd", "scaleIO", "azureDisk")
               if isinstance(spec.get(k), dict)}
    if sources:
        default_volume(sources)      # fills the nested dicts in place


def _required(*keys):
    def check(src: dict, path: str) -> list[FieldError]:
        return [errors.required(f"{path}.{k}") for k in keys if not src.get(k)]
    return check


def _no_backsteps(value: str, path: str) -> list[FieldError]:
    if ".." in value.replace("\\", "/").split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def _host_path(src: dict, path: str) -> list[FieldError]:
    if not src.get("path"):
        return [errors.required(f"{path}.path")]
    errs = _no_backsteps(src["path"], f"{path}.path")
    if src.get("type") is not None and src["type"] not in HOST_PATH_TYPES:
        errs.append(errors.not_supported(f"{path}.type", src["type"], HOST_PATH_TYPES))
    return errs


def _local(src: dict, path: str) -> list[FieldError]:
    if not src.get("path"):
        return [errors.required(f"{path}.path")]
    return _no_backsteps(src["path"], f"{path}.path")


def _nfs(src: dict, path: str) -> list[FieldError]:
    errs = _required("server", "path")(src, path)
    if not posixpath.isabs(src.get("path") or ""):
        errs.append(errors.invalid(f"{path}.path", src.get("path") or "", "must be an absolute path"))
    return errs


def _partitioned(key: str):
    def check(src: dict, path: str) -> list[FieldError]:
        errs = _required(key)(src, path)
        part = src.get("partition")
        if isinstance(part, int) and not 0 <= part <= 255:
            errs.append(errors.invalid(f"{path}.partition", part, inclusive_range_error(1, 255)))
        return errs
    return check


def _iscsi(src: dict, path: str) -> list[FieldError]:
    errs = _required("targetPortal", "iqn")(src, path)
    lun = src.get("lun")
    if isinstance(lun, int) and not 0 <= lun <= 255:
        errs.append(errors.invalid(f"{path}.lun", lun, inclusive_range_error(0, 255)))
    return errs


def _fc(src: dict, path: str) -> list[FieldError]:
    wwns, wwids = src.get("targetWWNs") or [], src.get("wwids") or []
    if not wwns and not wwids:
        return [errors.required(f"{path}.targetWWNs",
                                "must specify either targetWWNs or wwids, but not both")]
    if wwns and wwids:
        return [errors.invalid(f"{path}.targetWWNs", go_strings(wwns),
                               "targetWWNs and wwids can not be specified simultaneously")]
    if wwns and src.get("lun") is None:
        return [errors.required(f"{path}.lun", "lun is required if targetWWNs is specified")]
    return []


def _flocker(src: dict, path: str) -> list[FieldError]:
    name, uuid = src.get("datasetName"), src.get("datasetUUID")
    if not name and not uuid:
        return [errors.required(path, "one of datasetName and datasetUUID is required")]
    if name and uuid:
        return [errors.invalid(path, "resource",
                               "datasetName and datasetUUID can not be specified simultaneously")]
    if name and "/" in name:
        return [errors.invalid(f"{path}.datasetName", name, "must not contain '/'")]
    return []


def _storageos(src: dict, path: str) -> list[FieldError]:
    name = src.get("volumeName")
    if not name:
        errs = [errors.required(f"{path}.volumeName")]
    else:
        errs = [errors.invalid(f"{path}.volumeName", name, m) for m in is_dns1123_label(name)]
    if src.get("volumeNamespace"):
        ns = src["volumeNamespace"]
        errs += [errors.invalid(f"{path}.volumeNamespace", ns, m) for m in is_dns1123_label(ns)]
    return errs


def _secret_ref(ref: dict, path: str) -> list[FieldError]:
    """``validatePVSecretReference``: name a DNS subdomain, namespace a DNS label."""
    errs = []
    for key, check in (("name", is_dns1123_subdomain), ("namespace", is_dns1123_label)):
        value = ref.get(key)
        if not value:
            errs.append(errors.required(f"{path}.{key}"))
        else:
            errs += [errors.invalid(f"{path}.{key}", value, m) for m in check(value)]
    return errs


def validate_csi_driver_name(driver, path: str) -> list[FieldError]:
    """``ValidateCSIDriverName``: required, at most 63 bytes, a (lower-cased) DNS subdomain."""
    driver = driver or ""
    errs = [] if driver else [errors.required(path)]
    if len(driver.encode()) > 63:
        # 1.32's field.TooLong wording
        errs.append(FieldError("FieldValueTooLong", path, None, "may not be more than 63 bytes",
                               has_value=False))
    errs += [errors.invalid(path, driver, m) for m in is_dns1123_subdomain(driver.lower())]
    return errs


def _csi(src: dict, path: str) -> list[FieldError]:
    errs = validate_csi_driver_name(src.get("driver"), f"{path}.driver")
    if not src.get("volumeHandle"):
        errs.append(errors.required(f"{path}.volumeHandle"))
    for key in ("controllerPublishSecretRef", "controllerExpandSecretRef",
                "nodePublishSecretRef", "nodeExpandSecretRef"):
        if isinstance(src.get(key), dict):
            errs += _secret_ref(src[key], f"{path}.{key}")
    return errs


# (spec key, path its errors use, validator), in ValidatePersistentVolumeSpec's order
SOURCES = (
    ("hostPath", "hostPath", _host_path),
    ("gcePersistentDisk", "persistentDisk", _partitioned("pdName")),
    ("awsElasticBlockStore", "awsElasticBlockStore", _partitioned("volumeID")),
    ("glusterfs", "glusterfs", _required("endpoints", "path")),
    ("flocker", "flocker", _flocker),
    ("nfs", "nfs", _nfs),
    ("rbd", "rbd", _required("monitors", "image")),
    ("quobyte", "quobyte", _required("registry", "volume")),
    ("cephfs", "cephfs", _required("monitors")),
    ("iscsi", "iscsi", _iscsi),
    ("cinder", "cinder", _required("volumeID")),
    ("fc", "fc", _fc),
    ("flexVolume", "flexVolume", _required("driver")),
    ("azureFile", "azureFile", _required("secretName", "shareName")),
    ("vsphereVolume", "vsphereVolume", _required("volumePath")),
    ("photonPersistentDisk", "photonPersistentDisk", _required("pdID")),
    ("portworxVolume", "portworxVolume", _required("volumeID")),
    ("azureDisk", "azureDisk", _required("diskName", "diskURI")),
    ("scaleIO", "scaleIO", _required("gateway", "system", "volumeName")),
    ("local", "local", _local),
    ("storageos", "storageos", _storageos),
    ("csi", "csi", _csi),
)
SOURCE_KEYS = tuple(key for key, _, _ in SOURCES)


def validate_sources(spec: dict, path: str, node_affinity_set: bool) -> list[FieldError]:
    """Exactly one volume source, each checked; a local volume needs node affinity."""
    errs: list[FieldError] = []
    count = 0
    for key, err_key, check in SOURCES:
        src = spec.get(key)
        if src is None:
            continue
        if count and key != "flexVolume":      # upstream never refuses a second flexVolume
            errs.append(errors.forbidden(f"{path}.{key}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs += check(src if isinstance(src, dict) else {}, f"{path}.{err_key}")
        if key == "local" and not node_affinity_set:
            errs.append(errors.required(f"{path}.nodeAffinity", "Local volume requires node affinity"))
    if count == 0:
        errs.append(errors.required(path, "must specify a volume type"))
    return errs


# ---------------------------------------------------------------- node affinity

def validate_volume_node_affinity(affinity, path: str) -> list[FieldError]:
    """``validateVolumeNodeAffinity``: ``required`` must be there and be a valid selector."""
    required = affinity.get("required") if isinstance(affinity, dict) else None
    if not isinstance(required, dict):
        return [errors.required(f"{path}.required", "must specify required node constraints")]
    return validate_node_selector(required, f"{path}.required")


def validate_node_selector(selector: dict, path: str) -> list[FieldError]:
    """``ValidateNodeSelector``: at least one term; expressions and fields well formed."""
    terms = selector.get("nodeSelectorTerms")
    if not terms:
        return [errors.required(f"{path}.nodeSelectorTerms",
                                "must have at least one node selector term")]
    errs: list[FieldError] = []
    for i, term in enumerate(terms if isinstance(terms, list) else []):
        term = term if isinstance(term, dict) else {}
        for j, req in enumerate(term.get("matchExpressions") or []):
            errs += _node_selector_requirement(req, f"{path}.nodeSelectorTerms[{i}].matchExpressions[{j}]")
        for j, req in enumerate(term.get("matchFields") or []):
            errs += _node_field_requirement(req, f"{path}.nodeSelectorTerms[{i}].matchFields[{j}]")
    return errs


def _node_selector_requirement(req: dict, path: str) -> list[FieldError]:
    op, values, key = req.get("operator"), req.get("values") or [], req.get("key") or ""
    errs: list[FieldError] = []
    if op in ("In", "NotIn") and not values:
        errs.append(errors.required(f"{path}.values",
                                    "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist") and values:
        errs.append(errors.forbidden(f"{path}.values",
                                     "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif op in ("Gt", "Lt") and len(values) != 1:
        errs.append(errors.required(f"{path}.values",
                                    "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    elif op not in _SELECTOR_OPS:
        errs.append(errors.invalid(f"{path}.operator", op or "", "not a valid selector operator"))
    errs += [errors.invalid(f"{path}.key", key, m) for m in is_qualified_name(key)]
    for i, value in enumerate(values):
        errs += [errors.invalid(f"{path}.values[{i}]", value, m) for m in is_valid_label_value(str(value))]
    return errs


def _node_field_requirement(req: dict, path: str) -> list[FieldError]:
    op, values = req.get("operator"), req.get("values") or []
    errs: list[FieldError] = []
    if op in ("In", "NotIn"):
        if len(values) != 1:
            errs.append(errors.required(f"{path}.values", "must be only one value when `operator` "
                                                          "is 'In' or 'NotIn' for node field selector"))
    else:
        errs.append(errors.invalid(f"{path}.operator", op or "",
                                   "not a valid selector operator"))
    if req.get("key") != "metadata.name":
        errs.append(errors.invalid(f"{path}.key", req.get("key") or "",
                                   "not a valid field selector key"))
    return errs
