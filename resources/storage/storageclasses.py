"""storage.k8s.io/v1 StorageClass (cluster-scoped): how volumes of a class are provisioned.

Upstream: ``SetDefaults_StorageClass`` (kubernetes/kubernetes:pkg/apis/storage/v1/defaults.go),
``ValidateStorageClass``/``ValidateStorageClassUpdate``
(kubernetes/kubernetes:pkg/apis/storage/validation/validation.go),
kubernetes/kubernetes:pkg/registry/storage/storageclass/strategy.go and ``printStorageClass``
(kubernetes/kubernetes:pkg/printers/internalversion/printers.go).
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_qualified_name, validate_immutable
from resources.core.columns import column
from resources.storage.validation import too_long, validate_allowed_topologies

_DEF = "io.k8s.api.storage.v1.StorageClass"
# upstream storageutil.IsDefaultAnnotation accepts the GA and the beta annotation
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
RECLAIM_POLICIES = ("Delete", "Retain")                 # sorted, as upstream lists them
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
MAX_PARAMETERS = 512
MAX_PARAMETERS_BYTES = 256 * 1024


class StorageClassStrategy(Strategy):
    group = "storage.k8s.io"
    kind = "StorageClass"
    plural = "storageclasses"
    namespaced = False
    short_names = ("sc",)
    schema_name = _DEF
    columns = (NAME_COLUMN,
               column("Provisioner", _DEF, "provisioner"),
               column("ReclaimPolicy", _DEF, "reclaimPolicy"),
               column("VolumeBindingMode", _DEF, "volumeBindingMode"),
               column("AllowVolumeExpansion", _DEF, "allowVolumeExpansion"),
               AGE_COLUMN)

    def default(self, obj):
        """``SetDefaults_StorageClass``: reclaimPolicy Delete and volumeBindingMode Immediate
        when unset (both are pointers upstream, so an explicit "" stays)."""
        if obj.get("reclaimPolicy") is None:
            obj["reclaimPolicy"] = "Delete"
        if obj.get("volumeBindingMode") is None:
            obj["volumeBindingMode"] = "Immediate"

    def validate(self, ctx, obj):
        """``ValidateStorageClass``: a qualified-name provisioner, bounded parameters, known
        reclaim policy and binding mode, well-formed allowed topologies."""
        errs = _validate_provisioner(obj.get("provisioner") or "")
        errs += _validate_parameters(obj.get("parameters"))
        policy = obj.get("reclaimPolicy")
        if policy and policy not in RECLAIM_POLICIES:
            errs.append(errors.not_supported("reclaimPolicy", policy, RECLAIM_POLICIES))
        mode = obj.get("volumeBindingMode")
        if mode is None:
            errs.append(errors.required("volumeBindingMode"))
        elif mode not in BINDING_MODES:
            errs.append(errors.not_supported("volumeBindingMode", mode, BINDING_MODES))
        errs += validate_allowed_topologies(obj.get("allowedTopologies"))
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateStorageClassUpdate`` after the create checks: parameters, provisioner,
        reclaimPolicy and volumeBindingMode are fixed once the class exists."""
        errs = self.validate(ctx, new)
        # upstream reflect.DeepEqual tells a nil map from an empty one; we do not, so an
        # apply that writes "parameters: {}" over none is not refused
        if (new.get("parameters") or {}) != (old.get("parameters") or {}):
            errs.append(errors.forbidden("parameters", "updates to parameters are forbidden."))
        if (new.get("provisioner") or "") != (old.get("provisioner") or ""):
            errs.append(errors.forbidden("provisioner", "updates to provisioner are forbidden."))
        if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(errors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        errs += validate_immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"),
                                   "volumeBindingMode")
        return errs

    def table_row(self, obj):
        """``printStorageClass``: the default class is shown as "<name> (default)"."""
        name = obj["metadata"]["name"]
        if is_default_class(obj):
            name += " (default)"
        policy, mode = obj.get("reclaimPolicy"), obj.get("volumeBindingMode")
        return [name, obj.get("provisioner") or "", "Delete" if policy is None else policy,
                "Immediate" if mode is None else mode, bool(obj.get("allowVolumeExpansion")),
                age(obj)]


def is_default_class(obj: dict) -> bool:
    """Upstream ``IsDefaultAnnotation``: either default-class annotation set to "true"."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)


def _validate_provisioner(provisioner: str) -> list:
    if not provisioner:
        return [errors.required("provisioner")]
    lowered = provisioner.lower()
    return [errors.invalid("provisioner", lowered, m) for m in is_qualified_name(lowered)]


def _validate_parameters(params: dict | None) -> list:
    """``validateParameters`` (empty maps allowed for StorageClasses)."""
    params = params or {}
    if len(params) > MAX_PARAMETERS:
        return [too_long("parameters", MAX_PARAMETERS)]
    errs, total = [], 0
    for key in sorted(params):
        if not key:
            errs.append(errors.invalid("parameters", key, "field can not be empty."))
        total += len(key.encode()) + len(str(params[key]).encode())
    if total > MAX_PARAMETERS_BYTES:
        errs.append(too_long("parameters", MAX_PARAMETERS_BYTES))
    return errs
