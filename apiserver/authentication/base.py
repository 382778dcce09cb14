"""The authenticator contracts and their unions.

Two kinds of authenticator, as upstream (kubernetes/apiserver:pkg/authentication/authenticator
/interfaces.go):

* a *request* authenticator looks at the request (its ASGI scope: headers, the verified
  client certificate) — x509, the front proxy's headers, BasicAuth, the bearer-token reader,
  anonymous;
* a *token* authenticator is handed a bearer token and the audiences the caller accepts —
  the token file, service-account JWTs, bootstrap tokens, OIDC, the TokenReview webhook.

Both answer ``None`` for "not mine" (no opinion) and raise :class:`AuthenticationError` for
a credential that is theirs but invalid.  The request union tries its members in order and
the first user wins; errors are collected and, when nobody succeeded, become the 401
(upstream ``pkg/authentication/request/union``).  Every authenticated user gains
``system:authenticated`` (``group.NewAuthenticatedGroupAdder``); anonymous sits behind the
union and is used only when no member raised (``union.NewFailOnError``): a present but
invalid credential is 401, never anonymous (kubernetes/kubernetes:pkg/kubeapiserver/
authenticator/config.go).

Error messages never contain the credential: they are logged and may reach a TokenReview's
``status.error``.

May import: apiserver.runtime.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from apiserver.authentication.user import UserInfo

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"


class AuthenticationError(Exception):
    """A credential this authenticator owns is invalid (expired, badly signed, unknown …).
    The message says why, without the credential."""


@dataclass
class TokenResponse:
    """A token authenticator's success: the user and the audiences the token is good for
    (upstream ``authenticator.Response``; empty audiences: the API's own)."""

    user: UserInfo
    audiences: tuple = ()


class Authenticator:
    """Request authenticator.  ``name`` is the mechanism's name (logs, metrics)."""

    name = ""

    def authenticate(self, scope) -> UserInfo | None:
        """The user this request proves to be; None for no opinion; raise
        :class:`AuthenticationError` when a credential is present but invalid.  Must not
        modify the scope (the filter strips credentials once the union is done)."""
        return None

    def needs_io(self, scope) -> bool:
        """Whether authenticating this request may block (a database read, an HTTP call,
        a slow password hash): the filter then runs the union on a request thread."""
        return False

    def strip(self, scope) -> None:
        """Remove the credentials this mechanism reads from the request, so nothing
        downstream (handlers, proxies to aggregated servers) sees them.  The filter calls
        it after authentication, whoever succeeded."""


class TokenAuthenticator:
    name = ""

    def authenticate_token(self, token: str, audiences: tuple) -> TokenResponse | None:
        """The user ``token`` belongs to if it is valid for one of ``audiences`` (the API's
        audiences unless a TokenReview names others); None when the token is not of this
        kind; raise :class:`AuthenticationError` when it is, but invalid."""
        return None


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """``user`` with ``system:authenticated`` added (once), unless it is anonymous
    (upstream ``AuthenticatedGroupAdder`` skips users already in it and anonymous)."""
    groups = tuple(user.groups)
    if user.name == ANONYMOUS_USER or AUTHENTICATED in groups or UNAUTHENTICATED in groups:
        return user
    return replace(user, groups=groups + (AUTHENTICATED,))


@dataclass
class Union(Authenticator):
    """Request authenticators in order, then anonymous (or None) when nobody had an opinion."""

    authenticators: list = field(default_factory=list)
    anonymous: Authenticator | None = None
    name: str = "union"

    def authenticate(self, scope) -> UserInfo | None:
        errors = []
        for authenticator in self.authenticators:
            try:
                user = authenticator.authenticate(scope)
            except AuthenticationError as err:
                errors.append(f"[{authenticator.name}] {err}")
                continue
            if user is not None:
                return with_authenticated_group(user)
        if errors:
            raise AuthenticationError(", ".join(errors))
        if self.anonymous is not None:
            return self.anonymous.authenticate(scope)
        return None

    def needs_io(self, scope) -> bool:
        return any(a.needs_io(scope) for a in self.authenticators)

    def strip(self, scope) -> None:
        for authenticator in self.authenticators:
            authenticator.strip(scope)


@dataclass
class TokenUnion(TokenAuthenticator):
    """Token authenticators in order; the first success wins, an error does not stop the
    others (a JWT from another issuer is an error to this one), and when nobody succeeds
    the errors together are the answer (upstream ``pkg/authentication/token/union``)."""

    authenticators: list = field(default_factory=list)
    name: str = "tokens"

    def authenticate_token(self, token, audiences):
        errors = []
        for authenticator in self.authenticators:
            try:
                response = authenticator.authenticate_token(token, audiences)
            except AuthenticationError as err:
                errors.append(f"[{authenticator.name}] {err}")
                continue
            if response is not None:
                return response
        if errors:
            raise AuthenticationError(", ".join(errors))
        return None


class FirstAnswer(TokenAuthenticator):
    """Token authenticators that never claim the same token (their issuers differ): the
    first that answers — a user or an error — decides."""

    def __init__(self, authenticators, name: str = ""):
        self.authenticators = list(authenticators)
        self.name = name or self.name

    def authenticate_token(self, token, audiences):
        for authenticator in self.authenticators:
            response = authenticator.authenticate_token(token, audiences)
            if response is not None:
                return response
        return None
