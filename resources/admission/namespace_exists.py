"""NamespaceExists (upstream kubernetes/kubernetes:plugin/pkg/admission/namespace/exists/admission.go).

Validating: a create, update or delete of a namespaced object (anything but a Namespace)
is refused with the NotFound of its namespace (``namespaces "<ns>" not found``) when that
namespace does not exist.  Upstream asks its informer, then storage; here the Namespace
Store's storage answers directly.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors


def namespace_exists(stores, namespace: str) -> bool:
    store = stores.store("", "v1", "namespaces")
    return store.storage.get(store.resource, "", namespace) is not None


class NamespaceExists(Plugin, WantsStores):
    name = "NamespaceExists"
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE", "DELETE")

    def validate(self, attrs):
        if not attrs.namespace or (attrs.kind == "Namespace" and attrs.group == ""):
            return
        if not namespace_exists(self.stores, attrs.namespace):
            raise errors.NotFound.for_object("namespaces", "", attrs.namespace)
