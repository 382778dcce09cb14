"""NamespaceAutoProvision (upstream kubernetes/kubernetes:plugin/pkg/admission/namespace/autoprovision/admission.go).

Mutating, on create only: an object created in a namespace that does not exist yet makes
the server create that Namespace first (as the server itself, like upstream's loopback
client).  Dry runs and Namespaces themselves are left alone; a Namespace that appears
meanwhile (AlreadyExists) is fine; any other failure refuses the request through
``admission.NewForbidden`` (a Forbidden error is passed on unchanged).
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.registry.context import system_context
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from resources.admission.namespace_exists import namespace_exists
from resources.admission.refusals import new_forbidden

MANAGER = "kube-apiserver"


class NamespaceAutoProvision(Plugin, WantsStores):
    name = "NamespaceAutoProvision"
    mutating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def admit(self, attrs):
        if attrs.dry_run or not attrs.namespace or (attrs.kind == "Namespace" and attrs.group == ""):
            return
        if namespace_exists(self.stores, attrs.namespace):
            return
        store = self.stores.store("", "v1", "namespaces")
        try:
            store.create(None, {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": attrs.namespace}},
                         system_context(MANAGER, self.stores))
        except errors.AlreadyExists:
            return
        except errors.Forbidden:
            raise
        except errors.APIError as exc:
            raise new_forbidden(attrs, exc.message) from None
