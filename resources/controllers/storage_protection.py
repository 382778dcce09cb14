"""The pvc-protection and pv-protection controllers: remove the finalizers the
StorageObjectInUseProtection admission plugin adds, once the object is being deleted and no
longer in use.

Upstream: kubernetes/kubernetes:pkg/controller/volume/pvcprotection/pvc_protection_controller.go
(a claim is in use while a pod of its namespace that is not Succeeded or Failed names it in
``spec.volumes[].persistentVolumeClaim.claimName``, or through a generic ephemeral volume
whose claim is ``<pod>-<volume>``) and pkg/controller/volume/pvprotection/
pv_protection_controller.go (a volume is in use while its phase is Bound).  Upstream runs
them in kube-controller-manager; here they run in the server process like the namespace
controller, until the controller-manager issue moves them.

A pass does nothing unless claims, volumes or pods changed since the last one (one indexed
read of the change log per kind), so an idle server does not re-read them every second.
"""
from __future__ import annotations

import logging

import orjson

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from apiserver.storage.base import Compacted
from resources.controllers.base import POLL_SECONDS, PollingController

log = logging.getLogger(__name__)

MANAGER = "pvc-protection-controller"
PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"
DONE_PHASES = ("Succeeded", "Failed")


def claims_in_use(pods: list[dict]) -> set[tuple[str, str]]:
    """(namespace, claim) pairs that running or pending pods use."""
    used = set()
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in DONE_PHASES:
            continue
        meta = pod.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                used.add((ns, claim))
            elif volume.get("ephemeral") is not None:
                used.add((ns, f"{name}-{volume.get('name', '')}"))
    return used


def _without(finalizer: str):
    def drop(obj: dict) -> dict:
        meta = obj.setdefault("metadata", {})
        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
        return obj
    return drop


def _deleting(obj: dict, finalizer: str) -> bool:
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or [])


class StorageProtectionController(PollingController):
    name = "storage-protection-controller"

    def __init__(self, stores, *, poll_seconds: float = POLL_SECONDS):
        self.stores = stores
        self.claims = stores.store("", "v1", "persistentvolumeclaims")
        self.volumes = stores.store("", "v1", "persistentvolumes")
        self.pods = stores.store("", "v1", "pods")
        self.cursor = None
        super().__init__(poll_seconds=poll_seconds)

    def _unchanged(self) -> bool:
        if self.cursor is None:
            return False
        storage = self.claims.storage
        try:
            return not any(storage.changes_after(self.cursor, 1, resource=s.resource)
                           for s in (self.claims, self.volumes, self.pods))
        except Compacted:
            return False

    def sync(self) -> int:
        """Drop the protection finalizer of every deleted claim no pod uses and every
        deleted volume that is not Bound; returns how many were released."""
        if self._unchanged():
            return 0
        cursor = self.claims.storage.current_revision()
        ctx = system_context(MANAGER, self.stores)
        done = 0
        claims = [orjson.loads(d) for d in self.claims.list(None)["items"]]
        deleting = [c for c in claims if _deleting(c, PVC_FINALIZER)]
        if deleting:
            used = claims_in_use([orjson.loads(d) for d in self.pods.list(None)["items"]])
            for claim in deleting:
                meta = claim["metadata"]
                if (meta.get("namespace", ""), meta["name"]) in used:
                    continue
                done += self._release(self.claims, meta.get("namespace"), meta["name"],
                                      PVC_FINALIZER, ctx)
        for doc in self.volumes.list(None)["items"]:
            volume = orjson.loads(doc)
            if _deleting(volume, PV_FINALIZER) and \
                    (volume.get("status") or {}).get("phase") != "Bound":
                done += self._release(self.volumes, None, volume["metadata"]["name"],
                                      PV_FINALIZER, ctx)
        self.cursor = cursor
        return done

    @staticmethod
    def _release(store, namespace, name, finalizer, ctx) -> int:
        try:
            store.guaranteed_update(namespace, name, _without(finalizer), ctx)
            return 1
        except errors.NotFound:
            return 0
        except errors.APIError as err:     # the next pass tries again
            log.warning("%s %s: finalizer not removed yet (%s)", store.resource, name,
                        err.reason)
            return 0


def start_storage_protection_controller(hook) -> None:
    """Post-start hook: release protected claims and volumes until the server stops."""
    controller = StorageProtectionController(hook.stores)
    controller.start(hook.stop, storages=[controller.claims.storage])
