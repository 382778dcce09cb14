"""core/v1 Namespace.

Deleting a namespace marks it Terminating (deletionTimestamp, status.phase), deletes
everything in it, then removes it — upstream's namespace controller and its ``kubernetes``
finalizer, done here by ``after_delete_requested`` through the stores.
"""
from __future__ import annotations

import threading

from apiserver.registry.context import RequestContext
from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors

FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    kind = "Namespace"
    plural = "namespaces"
    return_deleted_object = True      # upstream ReturnDeletedObject
    namespaced = False
    short_names = ("ns",)
    subresources = ("status",)
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

    def prepare_for_create(self, obj):
        obj["status"] = {"phase": "Active"}

    def after_create(self, obj, stores):
        """Upstream's serviceaccounts-controller gives every new namespace a ``default``
        ServiceAccount; done here in the create's wake."""
        from resources.bootstrap import ensure_default_service_account
        ensure_default_service_account(stores, obj["metadata"]["name"])

    def prepare_for_delete(self, obj):
        obj.setdefault("status", {})["phase"] = "Terminating"

    def blocking_finalizers(self, obj):
        return list((obj.get("spec") or {}).get("finalizers") or [])

    def table_row(self, obj):
        return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), age(obj)]

    def after_delete_requested(self, obj, stores):
        if not obj["metadata"].get("deletionTimestamp"):
            return
        # Content removal may take a while: do it off the request thread, as upstream's
        # namespace controller does asynchronously.
        threading.Thread(target=_finalize, args=(obj["metadata"]["name"], stores),
                         name=f"namespace-finalizer-{obj['metadata']['name']}", daemon=True).start()


def _finalize(name: str, stores) -> None:
    from django.db import connection
    ctx = RequestContext(field_manager="namespace-controller")
    try:
        ns_store = stores.store("", "v1", "namespaces")
        for store in stores.all():
            if not store.strategy.namespaced:
                continue
            store.delete_collection(name, {"propagationPolicy": "Background"}, ctx)
        ns_store.guaranteed_update(None, name, _drop_finalizer, ctx)
    except errors.NotFound:
        pass
    finally:
        connection.close()      # this thread ends: give its connection back now


def _drop_finalizer(obj):
    spec = obj.setdefault("spec", {})
    spec["finalizers"] = [f for f in spec.get("finalizers", []) if f != FINALIZER]
    return obj
