"""PersistentVolumeClaimResize (upstream kubernetes/kubernetes:
plugin/pkg/admission/storage/persistentvolume/resize/admission.go, kube-apiserver 1.32).

An UPDATE of a PersistentVolumeClaim (not a subresource) that grows
``spec.resources.requests.storage`` is allowed only for a claim that was ``Bound`` (``Only
bound persistent volume claims can be expanded``) and whose class — the beta annotation
first, then ``spec.storageClassName``, unchanged by the update — is a StorageClass with
``allowVolumeExpansion: true`` (``only dynamically provisioned pvc can be resized and the
storageclass that provisions the pvc must support resize``).  Shrinking or keeping the size
is not this plugin's business.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors

from resources.admission.refusals import forbidden
from apiserver.runtime.quantity import QuantityError, parse_quantity

BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _forbidden(attrs, message: str) -> errors.Forbidden:
    """Upstream ``admission.NewForbidden`` with the request's or the object's name (no
    generateName fallback: these plugins name what they were given)."""
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name") or ""
    return forbidden(attrs.resource, attrs.group, name, message)


def requested_storage(pvc: dict):
    """The claim's ``requests.storage`` as a number (0 when missing, as a zero Quantity)."""
    resources = (pvc.get("spec") or {}).get("resources") or {}
    requests = resources.get("requests") if isinstance(resources, dict) else None
    try:
        return parse_quantity((requests or {})["storage"]).value
    except (KeyError, TypeError, QuantityError):
        return 0


def claim_class(pvc: dict) -> str:
    """Upstream ``GetPersistentVolumeClaimClass``."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return annotations[BETA_CLASS_ANNOTATION] or ""
    return (pvc.get("spec") or {}).get("storageClassName") or ""


class PersistentVolumeClaimResize(Plugin, WantsStores):
    name = "PersistentVolumeClaimResize"
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation == "UPDATE"

    def validate(self, attrs):
        if (attrs.resource != "persistentvolumeclaims" or attrs.group != "" or attrs.subresource
                or not isinstance(attrs.obj, dict) or not isinstance(attrs.old, dict)):
            return
        if requested_storage(attrs.obj) <= requested_storage(attrs.old):
            return
        if (attrs.old.get("status") or {}).get("phase") != "Bound":
            raise _forbidden(attrs, "Only bound persistent volume claims can be expanded")
        if not self._allows_resize(attrs.obj, attrs.old):
            raise _forbidden(attrs, "only dynamically provisioned pvc can be resized and the "
                                    "storageclass that provisions the pvc must support resize")

    def _allows_resize(self, pvc: dict, old: dict) -> bool:
        name = claim_class(pvc)
        if not name or name != claim_class(old):
            return False
        store = self.stores.store("storage.k8s.io", "v1", "storageclasses")
        try:
            storage_class = orjson.loads(store.get(None, name))
        except errors.NotFound:
            return False
        return storage_class.get("allowVolumeExpansion") is True
