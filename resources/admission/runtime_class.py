"""RuntimeClass (upstream kubernetes/kubernetes:plugin/pkg/admission/runtimeclass/admission.go
and ``MergeTolerations`` of pkg/util/tolerations/tolerations.go, kube-apiserver 1.32).

On the CREATE of a Pod naming ``spec.runtimeClassName``:

* the class must exist: ``pod rejected: RuntimeClass "x" not found``;
* mutating: the class's ``overhead.podFixed`` becomes ``spec.overhead`` (a pod that already
  sets a different one: ``pod rejected: Pod's Overhead doesn't match RuntimeClass's defined
  Overhead``); the class's ``scheduling.nodeSelector`` is merged into the pod's (a key the
  pod sets to another value: ``conflict: runtimeClass.scheduling.nodeSelector[k] = a;
  pod.spec.nodeSelector[k] = b``) and its tolerations are merged with the pod's, a
  toleration covered by a broader one being dropped;
* validating: a pod overhead must equal the class's (``pod rejected: Pod Overhead set
  without corresponding RuntimeClass defined Overhead`` when the class defines none or no
  class is named).
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors

from resources.admission.refusals import forbidden
from resources.admission.tolerations import merge_tolerations
from apiserver.runtime.quantity import QuantityError, parse_quantity

MISMATCH = "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
UNEXPECTED = "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"


def _forbidden(attrs, message: str) -> errors.Forbidden:
    """Upstream ``admission.NewForbidden`` with the request's or the object's name (no
    generateName fallback: these plugins name what they were given)."""
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name") or ""
    return forbidden(attrs.resource, attrs.group, name, message)


def _same_resources(a: dict, b: dict) -> bool:
    """``apiequality.Semantic.DeepEqual`` of two ResourceLists: same names, equal amounts."""
    if set(a) != set(b):
        return False
    try:
        return all(parse_quantity(a[k]) == parse_quantity(b[k]) for k in a)
    except QuantityError:
        return a == b


class RuntimeClass(Plugin, WantsStores):
    name = "RuntimeClass"
    mutating = True
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def _prepare(self, attrs):
        """(pod spec, RuntimeClass or None), or None for requests this plugin ignores."""
        if (attrs.resource != "pods" or attrs.group != "" or attrs.subresource
                or not isinstance(attrs.obj, dict)):
            return None
        spec = attrs.obj.setdefault("spec", {})
        name = spec.get("runtimeClassName")
        if name is None:
            return spec, None
        store = self.stores.store("node.k8s.io", "v1", "runtimeclasses")
        try:
            return spec, orjson.loads(store.get(None, name))
        except errors.NotFound:
            raise _forbidden(attrs, f'pod rejected: RuntimeClass "{name}" not found') from None

    def admit(self, attrs):
        prepared = self._prepare(attrs)
        if prepared is None or prepared[1] is None:
            return
        spec, runtime_class = prepared
        overhead = runtime_class.get("overhead")
        if isinstance(overhead, dict):
            fixed = overhead.get("podFixed") or {}
            if spec.get("overhead") and not _same_resources(fixed, spec["overhead"]):
                raise _forbidden(attrs, MISMATCH)
            if fixed:
                spec["overhead"] = dict(fixed)
            else:
                spec.pop("overhead", None)
        scheduling = runtime_class.get("scheduling")
        if isinstance(scheduling, dict):
            self._schedule(attrs, spec, scheduling)

    @staticmethod
    def _schedule(attrs, spec: dict, scheduling: dict) -> None:
        wanted = scheduling.get("nodeSelector") or {}
        selector = spec.get("nodeSelector")
        if selector is None:
            selector = dict(wanted) if wanted else None
        else:
            for key, value in wanted.items():
                if key in selector and selector[key] != value:
                    raise _forbidden(attrs, f"conflict: runtimeClass.scheduling.nodeSelector"
                                            f"[{key}] = {value}; pod.spec.nodeSelector[{key}] "
                                            f"= {selector[key]}")
                selector[key] = value
        if selector is not None:
            spec["nodeSelector"] = selector
        merged = merge_tolerations(spec.get("tolerations") or [],
                                   scheduling.get("tolerations") or [])
        if merged:
            spec["tolerations"] = merged

    def validate(self, attrs):
        prepared = self._prepare(attrs)
        if prepared is None:
            return
        spec, runtime_class = prepared
        if not spec.get("overhead"):
            return
        overhead = (runtime_class or {}).get("overhead")
        if not isinstance(overhead, dict):
            raise _forbidden(attrs, UNEXPECTED)
        if not _same_resources(overhead.get("podFixed") or {}, spec["overhead"]):
            raise _forbidden(attrs, MISMATCH)
