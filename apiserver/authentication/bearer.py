"""Bearer tokens: ``Authorization: Bearer <token>``, and for websockets the subprotocol
``base64url.bearer.authorization.k8s.io.<token, base64url>`` (browsers cannot set headers on
a websocket).  Upstream: kubernetes/apiserver:pkg/authentication/request/bearertoken/
bearertoken.go and request/websocket/protocol.go.

A bearer token nobody accepts is "invalid bearer token" (401), never anonymous.  Tokens
are checked for the API's audiences (``--api-audiences``, default the service-account
issuer).  :class:`AudienceAgnostic` wraps token authenticators that know nothing of
audiences (the token file, bootstrap tokens), as upstream ``WrapAudienceAgnosticToken``: they
answer only when the audiences asked for include one of the API's.

May import: apiserver.authentication.
"""
from __future__ import annotations

import base64
import binascii

from apiserver.authentication.base import (AuthenticationError, Authenticator,
                                           TokenAuthenticator, TokenResponse)
from apiserver.authentication.request import header_values, remove_headers

INVALID = "invalid bearer token"
WS_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io."


def bearer_token(scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" for an empty one; None when the
    header is absent or another scheme.  A bare ``Bearer`` is an empty token (401), where
    upstream's trimming makes it no credential at all (anonymous): stricter on purpose, as is
    refusing two bearer headers (upstream reads the first)."""
    values = [v.strip() for v in header_values(scope, "authorization")]
    tokens = []
    for value in values:
        parts = value.split(" ", 2)
        if value and parts[0].lower() == "bearer":
            tokens.append(parts[1] if len(parts) > 1 else "")
    if not tokens:
        return None
    return tokens[0] if len(tokens) == 1 else ""


def websocket_token(scope) -> str | None:
    """The token carried in a websocket subprotocol, None when there is none."""
    if scope.get("type") != "websocket":
        return None
    found = [p.strip() for value in header_values(scope, "sec-websocket-protocol")
             for p in value.split(",") if p.strip().startswith(WS_PROTOCOL_PREFIX)]
    if not found:
        return None
    if len(found) > 1:
        raise AuthenticationError(f"multiple {WS_PROTOCOL_PREFIX.rstrip('.')} subprotocols specified")
    encoded = found[0][len(WS_PROTOCOL_PREFIX):]
    try:
        token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise AuthenticationError("invalid base64.bearer.authorization token encoding") from None
    if not token:
        raise AuthenticationError("invalid bearer token")
    return token


class BearerTokenAuthenticator(Authenticator):
    name = "bearer"

    def __init__(self, tokens: TokenAuthenticator, audiences: tuple):
        self.tokens = tokens
        self.audiences = tuple(audiences)

    def _token(self, scope) -> str | None:
        token = bearer_token(scope)
        if token is None:
            token = websocket_token(scope)
        return token

    def authenticate(self, scope):
        token = self._token(scope)
        if token is None:
            return None
        if not token:
            raise AuthenticationError(INVALID)
        response = self.tokens.authenticate_token(token, self.audiences)
        if response is None:
            raise AuthenticationError(INVALID)
        return response.user

    def needs_io(self, scope) -> bool:
        try:
            token = self._token(scope)
        except AuthenticationError:
            return False
        if not token:
            return False
        has_fresh = getattr(self.tokens, "has_fresh", None)
        return not (has_fresh and has_fresh(token, self.audiences))

    def strip(self, scope) -> None:
        remove_headers(scope, names=("authorization",))
        if scope.get("type") == "websocket":
            kept = [p.strip() for value in header_values(scope, "sec-websocket-protocol")
                    for p in value.split(",")
                    if p.strip() and not p.strip().startswith(WS_PROTOCOL_PREFIX)]
            remove_headers(scope, names=("sec-websocket-protocol",))
            if kept:
                scope["headers"] = list(scope.get("headers", ())) + [
                    (b"sec-websocket-protocol", ", ".join(kept).encode("latin-1"))]
            if "subprotocols" in scope:
                scope["subprotocols"] = [p for p in scope["subprotocols"]
                                         if not p.startswith(WS_PROTOCOL_PREFIX)]


class AudienceAgnostic(TokenAuthenticator):
    """A token authenticator that ignores audiences, usable only for the API's own."""

    def __init__(self, inner: TokenAuthenticator, api_audiences: tuple):
        self.inner = inner
        self.api_audiences = tuple(api_audiences)
        self.name = inner.name

    def authenticate_token(self, token, audiences):
        wanted = tuple(audiences) or self.api_audiences
        common = tuple(a for a in wanted if a in self.api_audiences)
        if self.api_audiences and not common:
            return None
        response = self.inner.authenticate_token(token, audiences)
        if response is None:
            return None
        return TokenResponse(response.user, common or wanted)
