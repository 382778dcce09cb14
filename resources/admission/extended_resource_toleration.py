"""ExtendedResourceToleration (upstream kubernetes/kubernetes:plugin/pkg/admission/extendedresourcetoleration/admission.go).

Mutating, on create and update of Pods (not subresources): for every extended resource
the pod's containers or init containers request (a resource name with a domain prefix
outside ``kubernetes.io/``, not ``requests.``-prefixed, that is a qualified name once
prefixed with ``requests.``), the pod gets the toleration ``{key: <resource>, operator:
Exists, effect: NoSchedule}``, in sorted resource order.  Nodes offering such resources
are tainted with the resource name, so only pods that ask for it land there.

Adding a toleration follows upstream ``AddOrUpdateTolerationInPod``: one with the same
key, effect, operator and value is replaced (or left alone when equal); else appended.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.runtime.validation import is_qualified_name

REQUESTS_PREFIX = "requests."
NATIVE_DOMAIN = "kubernetes.io/"


def is_extended_resource_name(name: str) -> bool:
    """Upstream ``helper.IsExtendedResourceName``."""
    native = "/" not in name or NATIVE_DOMAIN in name
    if native or name.startswith(REQUESTS_PREFIX):
        return False
    return not is_qualified_name(REQUESTS_PREFIX + name)


def _requested(pod: dict) -> set[str]:
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    names = set()
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or ():
            if not isinstance(container, dict):
                continue
            requests = (container.get("resources") or {}).get("requests") or {}
            if isinstance(requests, dict):
                names.update(n for n in requests if is_extended_resource_name(n))
    return names


def _same_identity(a: dict, b: dict) -> bool:
    """Upstream ``Toleration.MatchToleration``: key, effect, operator and value."""
    return all(a.get(f, "") == b.get(f, "") for f in ("key", "effect", "operator", "value"))


def _normal(t: dict) -> tuple:
    """A toleration as upstream's struct compares: absent strings are empty."""
    return tuple(t.get(f) or "" for f in ("key", "operator", "value", "effect")) + (
        t.get("tolerationSeconds"),)


def add_or_update_toleration(spec: dict, toleration: dict) -> None:
    current = spec.get("tolerations") if isinstance(spec.get("tolerations"), list) else []
    out, replaced = [], False
    for existing in current:
        if isinstance(existing, dict) and _same_identity(toleration, existing):
            if _normal(existing) == _normal(toleration):
                return
            out.append(dict(toleration))
            replaced = True
            continue
        out.append(existing)
    if not replaced:
        out.append(dict(toleration))
    spec["tolerations"] = out


class ExtendedResourceToleration(Plugin):
    name = "ExtendedResourceToleration"
    mutating = True

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def admit(self, attrs):
        if attrs.subresource or attrs.group != "" or attrs.resource != "pods":
            return
        if not isinstance(attrs.obj, dict):
            return
        for resource in sorted(_requested(attrs.obj)):
            spec = attrs.obj.setdefault("spec", {})
            add_or_update_toleration(spec, {"key": resource, "operator": "Exists",
                                            "effect": "NoSchedule"})
