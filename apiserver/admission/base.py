"""Admission attributes, the plugin contract, the registry of plugins and the chain.

Upstream: k8s.io/apiserver ``pkg/admission/interfaces.go``, ``plugins.go`` and ``chain.go``.
The mutating phase (``admit``) runs in the endpoint handler after decoding and defaulting;
the validating phase (``validate``) runs inside the Store just before the write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
    # the operation's options (CreateOptions, UpdateOptions, DeleteOptions) as sent
    options: dict | None = None
    # shared with the request: text appended here reaches the client as Warning headers
    warnings: list = field(default_factory=list)
    # audit annotations a plugin records ("pod-security.kubernetes.io/enforce-policy" …)
    annotations: dict = field(default_factory=dict)
    uid: str = ""             # the request's UID (AdmissionReview.request.uid)
    # (group, version, kind, resource) the request named when it differs from the object's
    # version above (a kind served in several versions converts to one stored version, and
    # the plugins see that version's object): webhooks and policies match and report this
    # one as upstream's attributes' kind and resource (see :meth:`request_gvk`)
    request: tuple | None = None

    def request_gvk(self) -> tuple:
        """(group, version, kind, resource) of the request as the client named it."""
        return self.request or (self.group, self.version, self.kind, self.resource)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


class Plugin:
    """Override ``admit`` (mutating) and/or ``validate``; raise an APIError to refuse."""

    name = ""
    mutating = False
    validating = False

    def configure(self, config: dict | None) -> None:
        """Called once, before the initializer: the plugin's document from
        ``--admission-control-config-file`` (``None`` when none was given).  Raise
        ``ValueError`` to refuse a bad one; the server then does not start."""

    def handles(self, operation: str) -> bool:
        return True

    def admit(self, attrs: Attributes) -> None:
        """Mutating phase: may change ``attrs.obj``."""

    def validate(self, attrs: Attributes) -> None:
        """Validating phase: may only refuse."""


# kube-apiserver 1.32's plugins that are on unless disabled: every plugin of ORDER except
# upstream's DefaultOffAdmissionPlugins (pkg/kubeapiserver/options/plugins.go).
DEFAULT_ON = ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "TaintNodesByCondition",
              "PodSecurity", "Priority", "DefaultTolerationSeconds", "DefaultStorageClass",
              "StorageObjectInUseProtection", "PersistentVolumeClaimResize", "RuntimeClass",
              "CertificateApproval", "CertificateSigning", "ClusterTrustBundleAttest",
              "CertificateSubjectRestriction", "DefaultIngressClass", "MutatingAdmissionPolicy",
              "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy",
              "ValidatingAdmissionWebhook", "ResourceQuota")

# The registry of plugin factories: filled by apps' ready() before any server is built.
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


def resolve(enable=(), disable=()) -> tuple[tuple, tuple]:
    """(plugins to run, upstream defaults this server does not implement) for the
    ``--enable-admission-plugins`` / ``--disable-admission-plugins`` lists.

    A name upstream does not know is an error, as upstream's ``ValidatePluginNames``; a
    plugin asked for by name that no app registered is an error too.  Defaults that are not
    implemented yet are returned so the server can say so at start."""
    for flag, names in (("enable-admission-plugins", enable), ("disable-admission-plugins", disable)):
        for name in names:
            if name not in ORDER:
                raise ValueError(f'{flag} plugin "{name}" is unknown')
    missing = [n for n in enable if n not in _factories]
    if missing:
        raise ValueError("admission plugins not implemented by this server: " + ", ".join(missing))
    wanted = {n for n in DEFAULT_ON if n not in disable} | set(enable)
    on = tuple(n for n in ORDER if n in wanted and n in _factories)
    absent = tuple(n for n in ORDER if n in wanted and n not in _factories)
    return on, absent


class Chain:
    """The enabled plugins, built once, in upstream order (upstream ``chainAdmissionHandler``).

    ``initializer`` hands each plugin what it declares it wants (stores, authorizer …)."""

    def __init__(self, names=(), initializer=None, configs=None):
        unknown = [n for n in names if n not in _factories]
        if unknown:
            raise ValueError("admission plugins not registered: " + ", ".join(unknown))
        wanted = set(names)
        self.names = tuple(n for n in ORDER if n in wanted)
        self.plugins = [_factories[n]() for n in self.names]
        for name, plugin in zip(self.names, self.plugins):
            try:
                plugin.configure((configs or {}).get(name))
            except ValueError as exc:     # upstream plugins.go InitPlugin's wording
                raise ValueError(f'couldn\'t init admission plugin "{name}": {exc}') from None
        if initializer is not None:
            for plugin in self.plugins:
                initializer.initialize(plugin)

    def admit(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            if plugin.mutating and plugin.handles(attrs.operation):
                plugin.admit(attrs)

    def validate(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            if plugin.validating and plugin.handles(attrs.operation):
                plugin.validate(attrs)
