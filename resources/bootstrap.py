"""Bootstrap objects reconciled at every start (upstream ``controlplane`` bootstrap
controller): the system namespaces exist."""
from __future__ import annotations

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def ensure_system_namespaces(stores) -> None:
    store = stores.store("", "v1", "namespaces")
    ctx = RequestContext(field_manager="kube-apiserver")
    for name in SYSTEM_NAMESPACES:
        try:
            store.create(None, {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": name}}, ctx)
        except errors.AlreadyExists:
            pass
