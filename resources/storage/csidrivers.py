"""storage.k8s.io/v1 CSIDriver (cluster-scoped): how Kubernetes talks to one CSI driver.

Upstream: ``SetDefaults_CSIDriver`` (kubernetes/kubernetes:pkg/apis/storage/v1/defaults.go),
``ValidateCSIDriver``/``ValidateCSIDriverUpdate``
(kubernetes/kubernetes:pkg/apis/storage/validation/validation.go),
kubernetes/kubernetes:pkg/registry/storage/csidriver/strategy.go (generation starts at 1 and
moves with the spec) and ``printCSIDriver``
(kubernetes/kubernetes:pkg/printers/internalversion/printers.go).

In 1.32 ``attachRequired`` and ``volumeLifecycleModes`` are immutable; ``podInfoOnMount`` and
``fsGroupPolicy`` became mutable in 1.29, ``storageCapacity`` in 1.23.
"""
from __future__ import annotations

import json

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import GoText, validate_immutable
from resources.core.columns import column

_SPEC = "io.k8s.api.storage.v1.CSIDriverSpec"
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")   # sorted, as upstream lists
LIFECYCLE_MODES = ("Persistent", "Ephemeral")
MIN_TOKEN_SECONDS = 10 * 60
MAX_TOKEN_SECONDS = 1 << 32
# spec fields 1.32 defaults and then requires (SELinuxMountReadWriteOncePod is on by default)
_REQUIRED_BOOLS = (("attachRequired", "spec.attachedRequired"),   # upstream's path has the typo
                   ("podInfoOnMount", "spec.podInfoOnMount"),
                   ("storageCapacity", "spec.storageCapacity"),
                   ("seLinuxMount", "spec.seLinuxMount"))


class CSIDriverStrategy(Strategy):
    group = "storage.k8s.io"
    kind = "CSIDriver"
    plural = "csidrivers"
    namespaced = False
    schema_name = "io.k8s.api.storage.v1.CSIDriver"
    tracks_generation = True
    allow_unconditional_update = False
    columns = (NAME_COLUMN,
               column("AttachRequired", _SPEC, "attachRequired", type="boolean"),
               column("PodInfoOnMount", _SPEC, "podInfoOnMount", type="boolean"),
               column("StorageCapacity", _SPEC, "storageCapacity", type="boolean"),
               column("TokenRequests", _SPEC, "tokenRequests"),
               column("RequiresRepublish", _SPEC, "requiresRepublish", type="boolean"),
               column("Modes", _SPEC, "volumeLifecycleModes"),
               AGE_COLUMN)

    def default(self, obj):
        """``SetDefaults_CSIDriver`` (1.32, default feature gates)."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        for key, value in (("attachRequired", True), ("podInfoOnMount", False),
                           ("storageCapacity", False), ("fsGroupPolicy", "ReadWriteOnceWithFSType"),
                           ("requiresRepublish", False), ("seLinuxMount", False)):
            if spec.get(key) is None:
                spec[key] = value
        if not spec.get("volumeLifecycleModes"):
            spec["volumeLifecycleModes"] = ["Persistent"]

    def validate(self, ctx, obj):
        return validate_csi_driver_spec(obj.get("spec") or {})

    def validate_update(self, ctx, new, old):
        """``ValidateCSIDriverUpdate``: the spec checks again, and attachRequired and
        volumeLifecycleModes may not change."""
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        errs = validate_csi_driver_spec(spec)
        errs += validate_immutable(spec.get("attachRequired"), old_spec.get("attachRequired"),
                                   "spec.attachedRequired")
        modes = spec.get("volumeLifecycleModes")
        errs += validate_immutable(modes or [], old_spec.get("volumeLifecycleModes") or [],
                                   "spec.volumeLifecycleModes", shown=_go_modes(modes))
        return errs

    def table_row(self, obj):
        """``printCSIDriver``: unset booleans print as their defaults, tokenRequests as the
        audiences (``<unset>`` when absent), modes joined (``<none>`` when empty)."""
        spec = obj.get("spec") or {}
        requests = spec.get("tokenRequests")
        tokens = "<unset>" if requests is None else ",".join(
            (r or {}).get("audience") or "" for r in requests)
        modes = ",".join(spec.get("volumeLifecycleModes") or []) or "<none>"
        attach = spec.get("attachRequired")
        return [obj["metadata"]["name"], True if attach is None else bool(attach),
                bool(spec.get("podInfoOnMount")), bool(spec.get("storageCapacity")), tokens,
                bool(spec.get("requiresRepublish")), modes, age(obj)]


def validate_csi_driver_spec(spec: dict) -> list:
    """``validateCSIDriverSpec``."""
    errs = [errors.required(path) for key, path in _REQUIRED_BOOLS if spec.get(key) is None]
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        errs.append(errors.not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    errs += _validate_token_requests(spec.get("tokenRequests") or [])
    for mode in spec.get("volumeLifecycleModes") or []:
        if mode not in LIFECYCLE_MODES:
            errs.append(errors.not_supported("spec.volumeLifecycleModes", mode, LIFECYCLE_MODES))
    return errs


def _validate_token_requests(requests: list) -> list:
    """``validateTokenRequests``: distinct audiences, expirations between 10 minutes and
    2^32 seconds."""
    errs, audiences = [], set()
    for i, request in enumerate(requests):
        request = request if isinstance(request, dict) else {}
        path = f"spec.tokenRequests[{i}]"
        audience = request.get("audience") or ""
        if audience in audiences:
            errs.append(errors.duplicate(path + ".audience", audience))
            continue
        audiences.add(audience)
        seconds = request.get("expirationSeconds")
        if not isinstance(seconds, int):
            continue
        if seconds < MIN_TOKEN_SECONDS:
            errs.append(errors.invalid(path + ".expirationSeconds", seconds,
                                       "may not specify a duration less than 10 minutes"))
        if seconds > MAX_TOKEN_SECONDS:
            errs.append(errors.invalid(path + ".expirationSeconds", seconds,
                                       "may not specify a duration larger than 2^32 seconds"))
    return errs


def _go_modes(modes) -> GoText:
    """Go ``%#v`` of a ``[]storage.VolumeLifecycleMode``."""
    if modes is None:
        return GoText("[]storage.VolumeLifecycleMode(nil)")
    return GoText("[]storage.VolumeLifecycleMode{" + ", ".join(json.dumps(m) for m in modes) + "}")
