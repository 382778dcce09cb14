"""DefaultStorageClass (upstream kubernetes/kubernetes:
plugin/pkg/admission/storage/storageclass/setdefault/admission.go and ``GetDefaultClass`` of
pkg/volume/util/storageclass.go, kube-apiserver 1.32).

A PersistentVolumeClaim created without a class (no ``spec.storageClassName``, not even
``""``, and no ``volume.beta.kubernetes.io/storage-class`` annotation) gets the default
StorageClass: one annotated ``storageclass.kubernetes.io/is-default-class: "true"`` (or the
beta annotation).  Several defaults are no error since 1.26: the newest wins, ties broken
by name.  With no default the claim is left alone.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores

DEFAULT_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                       "storageclass.beta.kubernetes.io/is-default-class")
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def newest_first(classes: list[dict]) -> list[dict]:
    """Upstream's order of several defaults: newest creationTimestamp first, then name."""
    by_name = sorted(classes, key=lambda c: c["metadata"]["name"])
    return sorted(by_name, key=lambda c: c["metadata"].get("creationTimestamp") or "",
                  reverse=True)


def is_default(storage_class: dict) -> bool:
    annotations = (storage_class.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(key) == "true" for key in DEFAULT_ANNOTATIONS)


def default_class(stores) -> dict | None:
    store = stores.store("storage.k8s.io", "v1", "storageclasses")
    defaults = [c for c in map(orjson.loads, store.list(None)["items"]) if is_default(c)]
    return newest_first(defaults)[0] if defaults else None


def has_class(pvc: dict) -> bool:
    """Upstream ``PersistentVolumeClaimHasClass``: an explicit class, even the empty one."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    return BETA_CLASS_ANNOTATION in annotations or \
        (pvc.get("spec") or {}).get("storageClassName") is not None


class DefaultStorageClass(Plugin, WantsStores):
    name = "DefaultStorageClass"
    mutating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def admit(self, attrs):
        if (attrs.resource != "persistentvolumeclaims" or attrs.group != "" or attrs.subresource
                or not isinstance(attrs.obj, dict) or has_class(attrs.obj)):
            return
        found = default_class(self.stores)
        if found is not None:
            attrs.obj.setdefault("spec", {})["storageClassName"] = found["metadata"]["name"]
