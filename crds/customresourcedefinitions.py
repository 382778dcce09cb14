"""apiextensions.k8s.io/v1 CustomResourceDefinition (cluster-scoped): the kind that declares
custom resources.  Serving the resources a definition declares is ``crds.serving``'s
business; their schemas' runtime (pruning, defaulting, validating objects) ``crds.schema``'s.

Upstream: kubernetes/apiextensions-apiserver:pkg/registry/customresourcedefinition/
strategy.go (status reset on create and kept on update, the storage version recorded in
``status.storedVersions``, generation bumped by spec changes, no unconditional update) and
etcd.go (short names crd/crds, category api-extensions, and the
``customresourcecleanup.apiextensions.k8s.io`` finalizer added by the first DELETE together
with a Terminating condition); pkg/apis/apiextensions/v1/defaults.go for the defaults.
Validation lives in :mod:`crds.validation`; the conditions and the clean-up in
:mod:`crds.controllers`.
"""
from __future__ import annotations

from apiserver.openapi import definitions
from apiserver.registry.meta import now_rfc3339
from apiserver.registry.strategy import STATUS, Column, Strategy

from . import validation

GROUP = "apiextensions.k8s.io"
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _meta_doc(field: str) -> str:
    return ((definitions.get(_META) or {}).get("properties") or {}).get(field, {}).get(
        "description", "")


class CustomResourceDefinitionStrategy(Strategy):
    group = GROUP
    kind = "CustomResourceDefinition"
    plural = "customresourcedefinitions"
    namespaced = False
    short_names = ("crd", "crds")
    categories = ("api-extensions",)
    subresources = (STATUS,)
    schema_name = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    tracks_generation = True
    allow_unconditional_update = False      # upstream AllowUnconditionalUpdate: false
    kube_finalizer_names = False            # generic ObjectMeta validation, as upstream
    # upstream's default table convertor (k8s.io/apiserver pkg/registry/rest/table.go)
    columns = (Column("Name", "string", "name", _meta_doc("name")),
               Column("Created At", "date", "", _meta_doc("creationTimestamp")))

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj):
        """``SetDefaults_CustomResourceDefinition``: singular (lower-case kind), listKind
        (kind + "List"), conversion strategy None, a conversion webhook service's port 443,
        and storedVersions from the storage version when none are recorded."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict):
            kind = names.get("kind")
            if not names.get("singular") and isinstance(kind, str):
                names["singular"] = kind.lower()
            if not names.get("listKind") and isinstance(kind, str) and kind:
                names["listKind"] = kind + "List"
        if spec.get("conversion") is None:
            spec["conversion"] = {"strategy": "None"}
        conversion = spec.get("conversion")
        webhook = conversion.get("webhook") if isinstance(conversion, dict) else None
        client = webhook.get("clientConfig") if isinstance(webhook, dict) else None
        service = client.get("service") if isinstance(client, dict) else None
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("storedVersions"):
            storage = _storage_version(spec)
            if storage:
                status["storedVersions"] = [storage]

    def prepare_for_create(self, ctx, obj):
        """Status starts empty (the controllers fill it) but for ``storedVersions``: the
        storage version."""
        # acceptedNames' plural and kind are not omitempty upstream: they show as ""
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}}
        _record_storage_version(obj)

    def prepare_for_update(self, ctx, new, old):
        """The stored status is kept; a new storage version is appended to
        ``storedVersions`` (the storage migrator removes old ones through /status)."""
        super().prepare_for_update(ctx, new, old)
        _record_storage_version(new)

    def validate(self, ctx, obj):
        """``ValidateCustomResourceDefinition`` after the generic ObjectMeta checks."""
        return validation.validate_crd(obj)

    def validate_update(self, ctx, new, old):
        """``ValidateCustomResourceDefinitionUpdate``: the create rules (relaxed where the
        stored object already broke them) plus immutable group and plural, and scope and
        kind once Established."""
        return validation.validate_crd_update(new, old)

    def validate_status_update(self, ctx, new, old):
        """``ValidateUpdateCustomResourceDefinitionStatus``: the accepted names."""
        return validation.validate_crd_status(new)

    def blocking_finalizers(self, obj):
        """Until the first DELETE has added it, the clean-up finalizer holds a deletion
        open as if it were there (upstream's REST.Delete adds it before deleting)."""
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return []
        return [FINALIZER]

    def prepare_for_delete(self, ctx, obj):
        """The first DELETE: add the clean-up finalizer and say so in a Terminating
        condition; the finalizer controller deletes the instances, then the finalizer."""
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        meta["finalizers"] = finalizers
        set_condition(obj, "Terminating", "True", "InstanceDeletionPending",
                      "CustomResourceDefinition marked for deletion; CustomResource deletion "
                      "will begin soon")

    def table_row(self, obj):
        meta = obj.get("metadata") or {}
        return [meta.get("name", ""), meta.get("creationTimestamp") or ""]


# ---- helpers -----------------------------------------------------------------------------

def _storage_version(spec: dict) -> str | None:
    for version in spec.get("versions") or []:
        if isinstance(version, dict) and version.get("storage") is True:
            name = version.get("name")
            return name if isinstance(name, str) else None
    return None


def _record_storage_version(obj: dict) -> None:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    storage = _storage_version(spec)
    if not storage:
        return
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    stored = status.get("storedVersions")
    stored = list(stored) if isinstance(stored, list) else []
    if storage not in stored:
        stored.append(storage)
    status["storedVersions"] = stored


def find_condition(obj: dict, type_: str) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == type_:
            return cond
    return None


def is_condition_true(obj: dict, type_: str) -> bool:
    cond = find_condition(obj, type_)
    return bool(cond) and cond.get("status") == "True"


def set_condition(obj: dict, type_: str, status: str, reason: str, message: str) -> None:
    """Upstream ``SetCRDCondition``: replace or append; lastTransitionTime moves only when
    the status changes (or was never set)."""
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    existing = find_condition(obj, type_)
    if existing is None:
        conditions.append({"type": type_, "status": status, "lastTransitionTime": now_rfc3339(),
                           "reason": reason, "message": message})
        return
    if existing.get("status") != status or not existing.get("lastTransitionTime"):
        existing["lastTransitionTime"] = now_rfc3339()
    existing.update(status=status, reason=reason, message=message)
