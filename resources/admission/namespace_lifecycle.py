"""NamespaceLifecycle (upstream kubernetes/apiserver:pkg/admission/plugin/namespace/lifecycle/admission.go).

Refuses to create objects in a namespace that does not exist or is terminating, and
refuses to delete the immortal namespaces (default, kube-system, kube-public).
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors

IMMORTAL = ("default", "kube-system", "kube-public")


class NamespaceLifecycle(Plugin, WantsStores):
    name = "NamespaceLifecycle"
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def validate(self, attrs):
        if attrs.kind == "Namespace" and attrs.group == "" and not attrs.subresource:
            if attrs.operation == "DELETE" and attrs.name in IMMORTAL:
                raise errors.Forbidden(
                    f'namespaces "{attrs.name}" is forbidden: this namespace may not be deleted',
                    details={"name": attrs.name, "kind": "namespaces"})
            return
        if attrs.operation != "CREATE" or not attrs.namespace:
            return
        store = self.stores.store("", "v1", "namespaces")
        found = store.storage.get(store.resource, "", attrs.namespace)
        if found is None:
            raise errors.NotFound(f'namespaces "{attrs.namespace}" not found',
                                  details={"name": attrs.namespace, "kind": "namespaces"})
        if '"deletionTimestamp"' in found[0]:
            raise errors.Forbidden(
                f'{attrs.resource} "{attrs.name}" is forbidden: unable to create new content in '
                f'namespace {attrs.namespace} because it is being terminated',
                details={"name": attrs.name, "kind": attrs.resource},
                causes=[errors.Cause("NamespaceTerminating",
                                     f"namespace {attrs.namespace} is being terminated",
                                     "metadata.namespace")])
