"""Admission attributes, the plugin contract, the registry of plugins and the chain.

Upstream: k8s.io/apiserver ``pkg/admission/interfaces.go``, ``plugins.go`` and ``chain.go``.
The mutating phase (``admit``) runs in the endpoint handler after decoding and defaulting;
the validating phase (``validate``) runs inside the Store just before the write.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# kube-apiserver 1.32's fixed execution order (pkg/kubeapiserver/options/plugins.go); a
# plugin's position here, not its position in the flag, decides when it runs.
ORDER = (
    "AlwaysAdmit", "NamespaceAutoProvision", "NamespaceLifecycle", "NamespaceExists",
    "LimitPodHardAntiAffinityTopology", "LimitRanger", "ServiceAccount", "NodeRestriction",
    "TaintNodesByCondition", "AlwaysPullImages", "ImagePolicyWebhook", "PodSecurity",
    "PodNodeSelector", "Priority", "DefaultTolerationSeconds", "PodTolerationRestriction",
    "EventRateLimit", "ExtendedResourceToleration", "DefaultStorageClass",
    "StorageObjectInUseProtection", "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    "DenyServiceExternalIPs", "MutatingAdmissionPolicy", "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook", "ResourceQuota", "AlwaysDeny",
)


@dataclass
class Attributes:
    """What a plugin sees (upstream ``admission.Attributes``)."""

    operation: str            # CREATE | UPDATE | DELETE | CONNECT
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    obj: dict | None          # the incoming object (mutable in ``admit``)
    old: dict | None
    user: object = None
    dry_run: bool = False


class Plugin:
    """Override ``admit`` (mutating) and/or ``validate``; raise an APIError to refuse."""

    name = ""
    mutating = False
    validating = False

    def handles(self, operation: str) -> bool:
        return True

    def admit(self, attrs: Attributes) -> None:
        """Mutating phase: may change ``attrs.obj``."""

    def validate(self, attrs: Attributes) -> None:
        """Validating phase: may only refuse."""


_factories: dict[str, Callable[[], Plugin]] = {}


def register(name: str, factory: Callable[[], Plugin]) -> None:
    if name in _factories:
        raise ValueError(f"admission plugin {name!r} is registered twice: "
                         f"{_factories[name]!r} and {factory!r}")
    if name not in ORDER:
        raise ValueError(f"admission plugin {name!r} has no place in the upstream order")
    _factories[name] = factory


def registered() -> list[str]:
    return [n for n in ORDER if n in _factories]


class Chain:
    """The enabled plugins, instantiated once, in upstream order."""

    def __init__(self, names):
        wanted = set(names)
        self.plugins = [_factories[n]() for n in ORDER if n in wanted and n in _factories]

    def admit(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            if plugin.mutating and plugin.handles(attrs.operation):
                plugin.admit(attrs)

    def validate(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            if plugin.validating and plugin.handles(attrs.operation):
                plugin.validate(attrs)


class _Holder:
    chain = Chain(())


def configure(names) -> Chain:
    """Install the process-wide chain (called once at start from the options)."""
    _Holder.chain = Chain(names)
    return _Holder.chain


def chain() -> Chain:
    return _Holder.chain
