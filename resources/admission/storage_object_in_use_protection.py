"""StorageObjectInUseProtection (upstream kubernetes/kubernetes:
plugin/pkg/admission/storage/storageobjectinuseprotection/admission.go, kube-apiserver 1.32).

Every PersistentVolume created gets the ``kubernetes.io/pv-protection`` finalizer and every
PersistentVolumeClaim ``kubernetes.io/pvc-protection`` (once), so that neither goes away
while in use; the pv/pvc-protection controllers remove them.  Subresources are left alone.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin

FINALIZERS = {"persistentvolumes": "kubernetes.io/pv-protection",
              "persistentvolumeclaims": "kubernetes.io/pvc-protection"}


class StorageObjectInUseProtection(Plugin):
    name = "StorageObjectInUseProtection"
    mutating = True

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def admit(self, attrs):
        finalizer = FINALIZERS.get(attrs.resource)
        if (finalizer is None or attrs.group != "" or attrs.subresource
                or not isinstance(attrs.obj, dict)):
            return
        meta = attrs.obj.setdefault("metadata", {})
        finalizers = meta.get("finalizers") if isinstance(meta.get("finalizers"), list) else []
        if finalizer not in finalizers:
            meta["finalizers"] = finalizers + [finalizer]
