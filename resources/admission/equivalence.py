"""Equivalent resources and the object as another version shows it: what ``matchPolicy:
Equivalent`` needs (webhooks and ValidatingAdmissionPolicy).

Upstream: kubernetes/apimachinery:pkg/runtime/mapper.go (``EquivalentResourceRegistry``:
resources are equivalent when they share a storage identity, which kube-apiserver takes from
the storage prefix — kubernetes/apiserver:pkg/server/config.go — and apiextensions-apiserver
from the CRD, so every served version of one definition is equivalent), the generic webhook
dispatcher's ``ShouldCallHook`` (kubernetes/apiserver:pkg/admission/plugin/webhook/generic/
webhook.go) and ``VersionedAttributes`` (pkg/admission/attributes.go, ``ConvertToGVK``).

Here the storage identity is the Store's storage resource: a kind served in several versions
has one Store per version over one stored row (apiserver.registry.conversion), so its
versions are equivalent (HorizontalPodAutoscalers autoscaling/v1 and v2; events.k8s.io/v1
and core/v1 Events; a CRD's served versions).  Admission sees the stored version's object (our
"internal" version); :func:`versioned` converts it to the version a webhook or policy
matched through the Stores' conversion hooks, and :func:`from_versioned` back.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from apiserver.runtime import errors


@dataclass(frozen=True)
class Match:
    """What a webhook or policy matched (upstream ``WebhookInvocation``): the resource and
    kind its object is shown in."""

    group: str
    version: str
    resource: str
    subresource: str
    kind: str

    def gvr(self) -> dict:
        return {"group": self.group, "version": self.version, "resource": self.resource}

    def gvk(self) -> dict:
        return {"group": self.group, "version": self.version, "kind": self.kind}


def request_match(attrs) -> Match:
    """The request's own resource and kind (upstream attrs.GetResource / GetKind)."""
    group, version, kind, resource = attrs.request_gvk()
    return Match(group, version, resource, attrs.subresource, kind)


def _kind_of(strategy, subresource: str) -> str | None:
    """upstream KindFor(resource, subresource): the subresource's own kind when it has one
    (scale is autoscaling/v1 Scale in every version, so it is no kind of this resource's)."""
    if not subresource:
        return strategy.kind
    sub = strategy.subresource(subresource)
    if sub is None:
        return None
    kind = getattr(sub, "kind", None)
    return kind[2] if kind else strategy.kind


def equivalents(stores, attrs) -> list[Match]:
    """Every other resource that serves the request's objects (upstream
    EquivalentResourcesFor), in a stable order: group, then version, then resource."""
    group, version, _, resource = attrs.request_gvk()
    own = stores.store(group, version, resource) if stores is not None else None
    if own is None:
        return []
    out = []
    for store in stores.all():
        s = store.strategy
        if store.resource != own.resource or (s.group, s.version, s.plural) == (
                group, version, resource):
            continue
        kind = _kind_of(s, attrs.subresource)
        if kind is not None:
            out.append(Match(s.group, s.version, s.plural, attrs.subresource, kind))
    return sorted(out, key=lambda m: (m.group, m.version, m.resource))


def _convertible(match: Match, store) -> bool:
    # the object is the resource's own kind (main resource or status); other subresources
    # (scale, binding, eviction …) carry a kind of their own, the same in every version
    return match.kind == store.strategy.kind


def versioned(stores, attrs, match: Match, obj: dict | None) -> dict | None:
    """``obj`` (attrs' version, the stored one) as ``match``'s version shows it: a copy
    when it has to be converted, else ``obj`` itself (upstream ConvertToGVK)."""
    if obj is None or (match.group, match.version) == (attrs.group, attrs.version):
        return obj
    target = stores.store(match.group, match.version, match.resource)
    if target is None or not _convertible(match, target):
        return obj
    if not hasattr(target, "from_storage"):
        # the stored version itself, reached from a request in another version
        return obj
    return target.from_storage(copy.deepcopy(dict(obj)))


def from_versioned(stores, attrs, match: Match, new: dict) -> dict:
    """A mutated ``match``-version object back in attrs' version (upstream converts the
    patched versioned object back into the internal one)."""
    if (match.group, match.version) == (attrs.group, attrs.version):
        return new
    target = stores.store(match.group, match.version, match.resource)
    if target is None or not _convertible(match, target) or not hasattr(target, "to_storage"):
        return new
    return target.to_storage(new)


def unknown_kind(match: Match) -> errors.APIError:
    return errors.InternalError(f"unable to convert to {match.group}/{match.version}, "
                                f"Resource={match.resource}: unknown kind")
