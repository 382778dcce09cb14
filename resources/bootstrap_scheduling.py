"""Bootstrap PriorityClasses reconciled at every start (upstream
``pkg/registry/scheduling/rest/storage_scheduling.go``: ``AddSystemPriorityClasses``):
system-node-critical and system-cluster-critical exist with their fixed values."""
from __future__ import annotations

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.scheduling.priorityclasses import SYSTEM_PRIORITY_CLASSES


def ensure_system_priority_classes(stores) -> None:
    """Create the missing system classes; existing ones are left alone, as upstream does
    (their value is immutable and validation keeps it right)."""
    store = stores.store("scheduling.k8s.io", "v1", "priorityclasses")
    if store is None:
        return
    ctx = RequestContext(field_manager="kube-apiserver")
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        try:
            store.create(None, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                "metadata": {"name": name}, "value": value,
                                "description": description}, ctx)
        except errors.AlreadyExists:
            pass
