"""core/v1 Namespace.

Deleting a namespace marks it Terminating (deletionTimestamp, status.phase) and keeps it
while its ``kubernetes`` finalizer (``spec.finalizers``) is there.  Deleting its content and
then removing the finalizer is the namespace controller's job
(``resources.controllers.namespace``), which runs beside the server and, as upstream's,
finishes every Terminating namespace it finds, also after a restart.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from resources.bootstrap import ensure_default_service_account

FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    kind = "Namespace"
    plural = "namespaces"
    return_deleted_object = True      # upstream ReturnDeletedObject
    namespaced = False
    short_names = ("ns",)
    subresources = (STATUS,)
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
