"""DefaultIngressClass (upstream kubernetes/kubernetes:
plugin/pkg/admission/network/defaultingressclass/admission.go, kube-apiserver 1.32).

An Ingress created with no ``spec.ingressClassName`` and no ``kubernetes.io/ingress.class``
annotation gets the default IngressClass: one annotated
``ingressclass.kubernetes.io/is-default-class: "true"``; of several the newest (ties by name).
With no default the Ingress is left alone.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from resources.admission.default_storage_class import newest_first

GROUP = "networking.k8s.io"
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def default_class(stores) -> dict | None:
    store = stores.store(GROUP, "v1", "ingressclasses")
    defaults = [c for c in map(orjson.loads, store.list(None)["items"])
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"]
    return newest_first(defaults)[0] if defaults else None


class DefaultIngressClass(Plugin, WantsStores):
    name = "DefaultIngressClass"
    mutating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def admit(self, attrs):
        if (attrs.resource != "ingresses" or attrs.group != GROUP or attrs.subresource
                or not isinstance(attrs.obj, dict)):
            return
        spec = attrs.obj.setdefault("spec", {})
        annotations = (attrs.obj.get("metadata") or {}).get("annotations") or {}
        if spec.get("ingressClassName") is not None or CLASS_ANNOTATION in annotations:
            return
        found = default_class(self.stores)
        if found is not None:
            spec["ingressClassName"] = found["metadata"]["name"]
