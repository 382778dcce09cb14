"""An OpenID Connect issuer's ID tokens as bearer tokens (the ``--oidc-*`` flags): one JWT
authenticator per issuer, as kubernetes/apiserver:plugin/pkg/authenticator/token/oidc/oidc.go.

* The issuer's keys: ``<issuer>/.well-known/openid-configuration`` (its ``issuer`` must be
  the configured URL), then its ``jwks_uri``; fetched over HTTPS verified with the given CA
  (else the system's), on first use and again when a token names an unknown key id (at
  most every ``refetch_seconds``).  Until the issuer answers, its tokens are 401.
* A token is this issuer's when its (unverified) ``iss`` is the issuer URL; any other JWT
  is left to the next authenticator.  Then: the signing algorithm must be one of the allowed
  ones (RS256 by default; ``none`` and HMAC never), the signature verifies with the issuer's
  key, ``aud`` contains the client id, ``exp`` and ``nbf`` hold, and every required claim
  has its value.
* The user: the username claim (``sub`` by default), prefixed as upstream — with no prefix
  given, claims other than ``email`` get ``<issuer>#``, ``-`` means none; with ``email``,
  ``email_verified`` must be true when present.  Groups: the groups claim, a string or a
  list of strings, with the groups prefix.

May import: apiserver.authentication, PyJWT.
"""
from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.request

import jwt

from apiserver.authentication.base import AuthenticationError, TokenAuthenticator, TokenResponse
from apiserver.authentication.user import UserInfo

log = logging.getLogger("apiserver.authentication")

HMAC_OR_NONE = ("none", "HS256", "HS384", "HS512")
TIMEOUT = 10.0


class Keys:
    """An issuer's signing keys (discovery, then JWKS), fetched lazily and on unknown kids."""

    def __init__(self, issuer: str, ssl_context: ssl.SSLContext, refetch_seconds: float = 10.0,
                 clock=time.monotonic):
        self.issuer = issuer
        self.ssl_context = ssl_context
        self.refetch_seconds = refetch_seconds
        self.clock = clock
        self._keys: dict | None = None          # kid → PyJWK
        self._fetched_at = None
        self._lock = threading.Lock()

    def _get(self, url: str) -> dict:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=self.ssl_context) as resp:
            return json.loads(resp.read(1 << 20))

    def _fetch(self) -> None:
        discovery = self._get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if discovery.get("issuer") != self.issuer:
            raise AuthenticationError(f"oidc: issuer did not match the issuer returned by "
                                      f"provider, expected {self.issuer!r} got "
                                      f"{discovery.get('issuer')!r}")
        jwks = self._get(str(discovery.get("jwks_uri") or ""))
        keys = {}
        for entry in jwks.get("keys") or ():
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue
            keys[entry.get("kid", "")] = key
        self._keys = keys

    def key_for(self, kid: str):
        """The key with id ``kid`` (any single key when the token names none)."""
        with self._lock:
            stale = self._fetched_at is None or (
                (self._keys is None or kid not in self._keys)
                and self.clock() - self._fetched_at >= self.refetch_seconds)
            if stale:
                self._fetched_at = self.clock()
                try:
                    self._fetch()
                except AuthenticationError:
                    raise
                except Exception as exc:   # unreachable, bad TLS, bad JSON
                    log.warning("oidc: fetching the keys of %s failed: %s", self.issuer,
                                type(exc).__name__)
                    if self._keys is None:
                        raise AuthenticationError(f"oidc: authenticator for issuer "
                                                  f"{self.issuer!r} is not initialized") from None
            keys = self._keys or {}
        if kid in keys:
            return keys[kid]
        if not kid and len(keys) == 1:
            return next(iter(keys.values()))
        raise AuthenticationError("oidc: verify token: failed to verify signature: no key "
                                  "matches the token's key id")


def claim_strings(value, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise AuthenticationError(f"oidc: parse groups claim {name!r}: not a string or an array "
                              f"of strings")


class OIDCAuthenticator(TokenAuthenticator):
    name = "oidc"

    def __init__(self, issuer: str, client_id: str, keys: Keys, *, username_claim: str = "sub",
                 username_prefix: str = "", groups_claim: str = "", groups_prefix: str = "",
                 required_claims=(), signing_algs=("RS256",)):
        self.issuer = issuer
        self.client_id = client_id
        self.keys = keys
        self.username_claim = username_claim
        if username_prefix == "-":
            username_prefix = ""
        elif not username_prefix and username_claim != "email":
            username_prefix = issuer + "#"      # upstream: an IdP may not mint "system:" names
        self.username_prefix = username_prefix
        self.groups_claim = groups_claim
        self.groups_prefix = groups_prefix
        self.required_claims = tuple(required_claims)
        self.signing_algs = tuple(a for a in signing_algs if a not in HMAC_OR_NONE)
        self.audiences = (client_id,)           # the token's aud must contain one of these

    def authenticate_token(self, token, audiences):
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None                          # not a JWT: someone else's token
        if unverified.get("iss") != self.issuer:
            return None
        alg = header.get("alg")
        if alg not in self.signing_algs:
            raise AuthenticationError(f"oidc: verify token: oidc: id token signed with "
                                      f"unsupported algorithm, expected {list(self.signing_algs)} "
                                      f"got {alg!r}")
        key = self.keys.key_for(str(header.get("kid") or ""))
        try:
            claims = jwt.decode(token, key, algorithms=list(self.signing_algs),
                                audience=list(self.audiences), issuer=self.issuer,
                                options={"require": ["exp"]})
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("oidc: verify token: oidc: token is expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationError("oidc: verify token: oidc: current time before the nbf "
                                      "(not before) time") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError(f"oidc: verify token: oidc: expected audience in "
                                      f"{list(self.audiences)}") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"oidc: verify token: {type(exc).__name__}") from None
        return TokenResponse(self.user(claims))

    def user(self, claims: dict) -> UserInfo:
        for key, value in self.required_claims:
            if key not in claims:
                raise AuthenticationError(f"oidc: required claim {key} not present in ID token")
            if claims[key] != value:
                raise AuthenticationError(f"oidc: required claim {key} value does not match. "
                                          f"Got = {claims[key]}, want = {value}")
        name = claims.get(self.username_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationError(f"oidc: parse username claims {self.username_claim!r}: "
                                      f"claim not present")
        if self.username_claim == "email" and "email_verified" in claims \
                and claims["email_verified"] is not True:
            raise AuthenticationError("oidc: email not verified")
        groups = ()
        if self.groups_claim and self.groups_claim in claims:
            groups = tuple(self.groups_prefix + g
                           for g in claim_strings(claims[self.groups_claim], self.groups_claim))
        return UserInfo(name=self.username_prefix + name, groups=groups)


def ssl_context_for(ca_file: str = "", ca_data: str = "") -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file or ca_data:
        ctx.load_verify_locations(cafile=ca_file or None, cadata=ca_data or None)
    return ctx


def from_flags(options) -> OIDCAuthenticator | None:
    """The authenticator of the ``--oidc-*`` flags (None without ``--oidc-issuer-url``)."""
    issuer = options.oidc_issuer_url
    if not issuer:
        return None
    if not issuer.startswith("https://"):
        raise ValueError(f"--oidc-issuer-url: {issuer!r} must use the https scheme")
    bad = [a for a in options.oidc_signing_algs if a in HMAC_OR_NONE]
    if bad:
        raise ValueError(f"--oidc-signing-algs: {', '.join(bad)} is not an asymmetric algorithm")
    try:
        ctx = ssl_context_for(options.oidc_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--oidc-ca-file {options.oidc_ca_file!r}: {exc}") from None
    return OIDCAuthenticator(
        issuer, options.oidc_client_id, Keys(issuer, ctx),
        username_claim=options.oidc_username_claim or "sub",
        username_prefix=options.oidc_username_prefix, groups_claim=options.oidc_groups_claim,
        groups_prefix=options.oidc_groups_prefix, required_claims=options.oidc_required_claims,
        signing_algs=options.oidc_signing_algs)
