"""The authentication mechanisms by name, and the authenticator the flags describe.

Each mechanism is a module of this package with a ``from_options(deps)`` factory that returns
its authenticator, or None when its flags leave it off.  :func:`build` composes them in
kube-apiserver's order (kubernetes/kubernetes:pkg/kubeapiserver/authenticator/config.go
``Config.New``): the front proxy's headers, BasicAuth, x509, then bearer tokens — the token
file, service-account tokens (legacy, then bound), bootstrap tokens, OIDC / JWT issuers, the
TokenReview webhook — behind a cache, and anonymous last.

May import: apiserver.authentication, apiserver.options.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Callable

from apiserver.authentication.anonymous import PUBLIC_PATHS, AnonymousAuthenticator
from apiserver.authentication.base import TokenUnion, Union
from apiserver.authentication.bearer import AudienceAgnostic, BearerTokenAuthenticator
from apiserver.authentication.token_cache import TokenCache

log = logging.getLogger("apiserver.authentication")

# (name, stage, factory): "request" mechanisms read the request, "token" ones a bearer
# token; within a stage, in this order.  ``audience_agnostic`` tokens know no audiences.
MECHANISMS = (
    ("RequestHeader", "request", "apiserver.authentication.requestheader:from_options"),
    ("BasicAuth", "request", "apiserver.authentication.basic:from_options"),
    ("X509", "request", "apiserver.authentication.x509:from_options"),
    ("TokenFile", "token", "apiserver.authentication.token_file:from_options"),
    ("ServiceAccount", "token", "apiserver.authentication.serviceaccount:from_options"),
    ("BootstrapToken", "token", "apiserver.authentication.bootstrap:from_options"),
    ("OIDC", "token", "apiserver.authentication.jwt:from_options"),
    ("Webhook", "token", "apiserver.authentication.webhook:from_options"),
)
AUDIENCE_AGNOSTIC = ("TokenFile", "BootstrapToken", "OIDC")


@dataclass(frozen=True)
class Dependencies:
    """What mechanisms are built from.

    * ``options``: the serving Options (the flags);
    * ``get_object(resource, namespace, name)``: the live core/v1 object (``"secrets"``,
      ``"serviceaccounts"``, ``"pods"``, ``"nodes"``) as a dict, or None — read when a
      token is checked, so a deleted ServiceAccount's token stops working;
    * ``token_issuer``: the service-account token Issuer (its key verifies what it signed);
    * ``api_audiences``: the audiences API requests accept (``--api-audiences``, default
      the service-account issuer).
    """

    options: object
    get_object: Callable = None
    token_issuer: object = None
    api_audiences: tuple = ()


def api_audiences(options) -> tuple:
    """``--api-audiences``, or the service-account issuer (upstream's default)."""
    return tuple(options.api_audiences) or (options.service_account_issuer,)


def _factory(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def anonymous_for(options) -> AnonymousAuthenticator | None:
    """``--anonymous-auth``, or the ``anonymous`` section of ``--authentication-config``
    (enabled, with the paths of its conditions)."""
    from apiserver.authentication.authn_config import anonymous_paths

    paths = anonymous_paths(options)
    if paths == () or not options.anonymous_auth:
        return None
    if paths is None and "AlwaysAllow" in options.authorization_modes:
        paths = PUBLIC_PATHS
    return AnonymousAuthenticator(paths=paths)


def build(deps: Dependencies, mechanisms=MECHANISMS) -> Union:
    """The request authenticator of these options."""
    requests, tokens = [], []
    for name, stage, factory in mechanisms:
        authenticator = _factory(factory)(deps)
        if authenticator is None:
            continue
        if stage == "token":
            if name in AUDIENCE_AGNOSTIC:
                authenticator = AudienceAgnostic(authenticator, deps.api_audiences)
            tokens.append(authenticator)
        else:
            requests.append(authenticator)
    if tokens:
        union = TokenCache(TokenUnion(tokens), success_ttl=deps.options.token_success_cache_ttl)
        requests.append(BearerTokenAuthenticator(union, deps.api_audiences))
    names = [a.name for a in requests] + [t.name for t in tokens]
    log.debug("authenticators: %s", ", ".join(names) or "none")
    return Union(requests, anonymous=anonymous_for(deps.options))


def token_authenticator(union: Union):
    """The token union behind the bearer authenticator (TokenReview asks it), or None."""
    for authenticator in union.authenticators:
        if isinstance(authenticator, BearerTokenAuthenticator):
            return authenticator.tokens
    return None
