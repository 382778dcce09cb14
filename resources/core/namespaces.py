"""core/v1 Namespace.

Deleting a namespace marks it Terminating (deletionTimestamp, status.phase) and keeps it
while its ``kubernetes`` finalizer (``spec.finalizers``) is there.  Deleting its content and
then removing the finalizer is the namespace controller's job, which runs in the controller
manager (``workers/controllers/namespace.py``) as upstream's runs in kube-controller-manager:
without one a deleted namespace stays Terminating.

``PUT namespaces/{name}/finalize`` writes ``spec.finalizers`` (and metadata) while the status
stays (upstream kubernetes/kubernetes:pkg/registry/core/namespace/storage/storage.go
``FinalizeREST`` and strategy.go ``namespaceFinalizeStrategy``; the names are checked as
pkg/apis/core/validation/validation.go ``ValidateNamespaceFinalizeUpdate`` does).
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import (AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy,
                                         Subresource)
from apiserver.runtime import errors
from apiserver.runtime.validation import STANDARD_FINALIZERS, is_qualified_name
from resources.bootstrap import ensure_default_service_account

FINALIZER = "kubernetes"
FINALIZE = Subresource("finalize", verbs=("update",))   # FinalizeREST is an Updater only


class NamespaceStrategy(Strategy):
    kind = "Namespace"
    plural = "namespaces"
    return_deleted_object = True      # upstream ReturnDeletedObject
    namespaced = False
    short_names = ("ns",)
    # upstream's namespace REST storage has no DeleteCollection
    verbs = ("create", "delete", "get", "list", "patch", "update", "watch")
    subresources = (STATUS, FINALIZE)
    schema_name = "io.k8s.api.core.v1.Namespace"
    name_rule = "label"
    selectable_fields = {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")}
    columns = (NAME_COLUMN,
               Column("Status", description="The status of the namespace"),
               AGE_COLUMN)

    def default(self, obj):
        # upstream: metadata.labels["kubernetes.io/metadata.name"] is always the name
        name = obj.get("metadata", {}).get("name")
        if name:
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {}).setdefault("finalizers", [FINALIZER])
        obj.setdefault("status", {}).setdefault("phase", "Active")

    def prepare_for_create(self, ctx, obj):
        obj["status"] = {"phase": "Active"}

    def validate(self, ctx, obj):
        """``ValidateNamespace``: each of ``spec.finalizers`` is a valid finalizer name
        (upstream reports them all at the unindexed ``spec.finalizers``)."""
        finalizers = (obj.get("spec") or {}).get("finalizers") or []
        return [e for f in finalizers for e in finalizer_name_errors(f, "spec.finalizers")]

    def validate_update(self, ctx, new, old):
        """A ``/finalize`` write (which, like every write to the main resource, keeps the
        stored status: the base ``prepare_for_update``) checks each finalizer it sets."""
        if ctx.subresource == "finalize":
            finalizers = (new.get("spec") or {}).get("finalizers") or []
            return [e for i, f in enumerate(finalizers)
                    for e in finalizer_name_errors(f, f"spec.finalizers[{i}]")]
        return []

    def after_create(self, ctx, obj):
        """Upstream's serviceaccounts-controller gives every new namespace a ``default``
        ServiceAccount; done here in the create's wake."""
        ensure_default_service_account(ctx.stores, obj["metadata"]["name"])

    def prepare_for_delete(self, ctx, obj):
        obj.setdefault("status", {})["phase"] = "Terminating"

    def blocking_finalizers(self, obj):
        return list((obj.get("spec") or {}).get("finalizers") or [])

    def table_row(self, obj):
        return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), age(obj)]


def finalizer_name_errors(name: str, path: str) -> list:
    """``validateFinalizerName``: a qualified name, and one of the standard finalizers
    unless it is domain-qualified."""
    errs = [errors.invalid(path, name, m) for m in is_qualified_name(str(name))]
    if "/" not in str(name) and name not in STANDARD_FINALIZERS:
        errs.append(errors.invalid(path, name, "name is neither a standard finalizer name nor "
                                               "is it fully qualified"))
    return errs
