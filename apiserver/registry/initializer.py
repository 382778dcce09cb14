"""Handing server dependencies to the plugins and kinds that ask for them.

A kind's Strategy or an admission plugin declares what it needs by implementing one of the
``Wants*`` interfaces below; the server's :class:`Initializer` calls the setter once, when
the kind is installed or the plugin is built.  Nothing reaches for a module global.
Upstream: kubernetes/apiserver:pkg/admission/initializer/interfaces.go and initializer.go
(``WantsExternalKubeClientSet``, ``WantsAuthorizer`` …), which do the same for admission.
"""
from __future__ import annotations

from dataclasses import dataclass


class WantsStores:
    """Needs the serving StoreRegistry (to read or write other kinds)."""

    def set_stores(self, stores) -> None:
        raise NotImplementedError


class WantsAuthorizer:
    """Needs the server's authorizer (access reviews ask it what a request would)."""

    def set_authorizer(self, authorizer) -> None:
        raise NotImplementedError


class WantsOptions:
    """Needs the serving options (kube-apiserver flags: service CIDR, secure port …)."""

    def set_options(self, options) -> None:
        raise NotImplementedError


class WantsTokenIssuer:
    """Needs the service-account token issuer (signing key, issuer, lifetime cap)."""

    def set_token_issuer(self, issuer) -> None:
        raise NotImplementedError


class WantsAuthenticator:
    """Needs the server's authenticator (TokenReview asks it about a token)."""

    def set_authenticator(self, authenticator) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Initializer:
    stores: object = None
    authorizer: object = None
    options: object = None
    token_issuer: object = None
    authenticator: object = None

    def initialize(self, target) -> None:
        if isinstance(target, WantsStores):
            target.set_stores(self.stores)
        if isinstance(target, WantsAuthorizer):
            target.set_authorizer(self.authorizer)
        if isinstance(target, WantsOptions):
            target.set_options(self.options)
        if isinstance(target, WantsTokenIssuer):
            target.set_token_issuer(self.token_issuer)
        if isinstance(target, WantsAuthenticator):
            target.set_authenticator(self.authenticator)
