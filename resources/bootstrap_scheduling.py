"""Bootstrap PriorityClasses reconciled at every start (upstream kubernetes/kubernetes:
pkg/registry/scheduling/rest/storage_scheduling.go ``AddSystemPriorityClasses``):
system-node-critical and system-cluster-critical exist with their fixed values."""
from __future__ import annotations

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.scheduling.priorityclasses import SYSTEM_PRIORITY_CLASSES


def ensure_system_priority_classes(hook) -> None:
    """Create the missing system classes; existing ones are left alone, as upstream does
    (their value is immutable and validation keeps it right).  ``hook`` is the post-start
    HookContext."""
    store = hook.stores.store("scheduling.k8s.io", "v1", "priorityclasses")
    if store is None:
        return
    ctx = system_context("kube-apiserver")
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        try:
            store.create(None, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                "metadata": {"name": name}, "value": value,
                                "description": description}, ctx)
        except errors.AlreadyExists:
            pass
