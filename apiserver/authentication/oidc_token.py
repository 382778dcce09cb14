"""One JWT authenticator: an issuer's ID tokens as bearer tokens
(kubernetes/apiserver:plugin/pkg/authenticator/token/oidc/oidc.go ``jwtAuthenticator``,
verifying as go-oidc v2's ``IDTokenVerifier.Verify``).

A token is this authenticator's when its unverified ``iss`` is the issuer URL (Google's
legacy ``accounts.google.com`` counts as ``https://accounts.google.com``); any other token
is left to the next authenticator (None).  Then, in go-oidc's order:

1. the claims parse (``iss``, ``sub`` strings, ``aud`` a string or strings, times numbers);
2. with one audience, ``aud`` must contain it;
3. ``exp`` must not be past (a token without one is expired), ``nbf`` may be at most one
   minute ahead; ``iat`` is not checked;
4. the header's ``alg`` must be one of the allowed algorithms — asymmetric only, RS256 by
   default: ``none`` and the HMAC algorithms are never allowed, so an issuer's public key
   can never serve as an HMAC secret;
5. a key of the issuer with the token's key id must verify the signature (the keys are
   fetched again, rate-limited, when none does);
6. with several audiences, ``aud`` must contain one of them (``MatchAny``).

The claims then become the user (:mod:`.oidc_claims`).  Failures are
``AuthenticationError("oidc: verify token: …")`` with go-oidc's reasons; until the issuer's
discovery succeeded, "oidc: authenticator not initialized".

May import: apiserver.authentication, PyJWT.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import time
from dataclasses import dataclass

import jwt

from apiserver.authentication.base import AuthenticationError, TokenAuthenticator, TokenResponse
from apiserver.authentication.oidc_claims import ClaimMapper, json_kind
from apiserver.authentication.oidc_provider import FetchError, Provider

# upstream ``allowedSigningAlgs``, in ``AllValidSigningAlgorithms`` (sorted) order
ALLOWED_ALGS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384",
                "RS512")
NBF_LEEWAY = 60.0
GOOGLE = "https://accounts.google.com"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class IssuerSpec:
    """The ``issuer`` of one JWT authenticator."""

    url: str
    audiences: tuple
    discovery_url: str = ""
    certificate_authority: str = ""


def _segment(part: str):
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("illegal base64 data")
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def untrusted_issuer(token: str) -> str | None:
    """The ``iss`` of a compact JWT, unverified (upstream ``untrustedIssuer``)."""
    if token.lstrip().startswith("{"):
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = _segment(parts[1])
    except (binascii.Error, ValueError):
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    if not isinstance(issuer, str):
        return None
    return GOOGLE if issuer == "accounts.google.com" else issuer


def go_time(seconds: float | None) -> str:
    """Go's ``time.Time`` text (UTC) for a NumericDate; the zero time for None."""
    if seconds is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    try:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(seconds)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + " +0000 UTC"


def go_quote(value) -> str:
    """Go's ``%q`` of a string or a list of strings."""
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_quote(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _claims(token: str) -> tuple[dict, dict]:
    """(header, claims) of a compact JWS, with go-oidc's ``idToken`` types checked."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthenticationError("oidc: malformed jwt: compact JWS format must have three "
                                  "parts")
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except (binascii.Error, ValueError) as exc:
        raise AuthenticationError(f"oidc: malformed jwt: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthenticationError("oidc: malformed jwt: not a JSON object")
    for name in ("iss", "sub", "nonce", "at_hash"):
        if claims.get(name) is not None and not isinstance(claims[name], str):
            raise _unmarshal_error(claims[name], name, "string")
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _unmarshal_error(value, name, "oidc.jsonTime")
    aud = claims.get("aud")
    if aud is not None and not isinstance(aud, str) and not (
            isinstance(aud, list) and all(isinstance(a, str) for a in aud)):
        raise _unmarshal_error(aud, "aud", "oidc.audience")
    return header, claims


def _unmarshal_error(value, name: str, go_type: str) -> AuthenticationError:
    return AuthenticationError(f"oidc: failed to unmarshal claims: json: cannot unmarshal "
                               f"{json_kind(value)} into Go struct field idToken.{name} of "
                               f"type {go_type}")


class JWTAuthenticator(TokenAuthenticator):
    """The ID tokens of one issuer."""

    name = "oidc"

    def __init__(self, issuer: IssuerSpec, mapper: ClaimMapper, provider: Provider,
                 signing_algs=("RS256",), clock=time.time):
        self.issuer = issuer
        self.mapper = mapper
        self.provider = provider
        # never none/HS*: the configuration only lets asymmetric algorithms through
        self.signing_algs = tuple(a for a in signing_algs if a in ALLOWED_ALGS) or ("RS256",)
        self.clock = clock
        self.jws = jwt.PyJWS()

    def authenticate_token(self, token, audiences):
        if untrusted_issuer(token) != self.issuer.url:
            return None
        if not self.provider.initialized:
            raise AuthenticationError("oidc: authenticator not initialized")
        try:
            claims = self.verify(token)
        except AuthenticationError as exc:
            raise AuthenticationError(f"oidc: verify token: {exc}") from None
        return TokenResponse(self.mapper.user(claims))

    def verify(self, token: str) -> dict:
        """The verified claims of ``token``; AuthenticationError with go-oidc's reason."""
        header, claims = _claims(token)
        iss = claims.get("iss")
        if iss != self.issuer.url and not (self.issuer.url == GOOGLE
                                           and iss == "accounts.google.com"):
            raise AuthenticationError(f"oidc: id token issued by a different provider, "
                                      f"expected {go_quote(self.issuer.url)} got "
                                      f"{go_quote(iss or '')}")
        aud = claims.get("aud")
        token_audiences = [aud] if isinstance(aud, str) else list(aud or ())
        single = len(self.issuer.audiences) == 1
        if single and self.issuer.audiences[0] not in token_audiences:
            raise AuthenticationError(f"oidc: expected audience "
                                      f"{go_quote(self.issuer.audiences[0])} got "
                                      f"{go_quote(token_audiences)}")
        now = self.clock()
        exp = claims.get("exp")
        if exp is None or int(exp) < now:
            raise AuthenticationError(f"oidc: token is expired (Token Expiry: "
                                      f"{go_time(None if exp is None else int(exp))})")
        nbf = claims.get("nbf")
        if nbf is not None and now + NBF_LEEWAY < int(nbf):
            raise AuthenticationError(f"oidc: current time {go_time(now)} before the nbf (not "
                                      f"before) time: {go_time(int(nbf))}")
        alg = header.get("alg")
        if alg not in self.signing_algs:
            raise AuthenticationError(f"oidc: id token signed with unsupported algorithm, "
                                      f"expected {go_quote(self.signing_algs)} got "
                                      f"{go_quote(alg if isinstance(alg, str) else '')}")
        self._verify_signature(token, str(header.get("kid") or ""), alg)
        if not single and not set(self.issuer.audiences) & set(token_audiences):
            raise AuthenticationError(f"oidc: expected audience in "
                                      f"{go_quote(sorted(self.issuer.audiences))} got "
                                      f"{go_quote(token_audiences)}")
        return claims

    def _verify_signature(self, token: str, kid: str, alg: str) -> None:
        if self._signed_by(token, kid, alg, self.provider.keys):
            return
        try:
            refreshed = self.provider.refresh()
        except FetchError as exc:
            raise AuthenticationError(f"failed to verify signature: fetching keys {exc}") \
                from None
        if refreshed and self._signed_by(token, kid, alg, self.provider.keys):
            return
        raise AuthenticationError("failed to verify signature: failed to verify id token "
                                  "signature")

    def _signed_by(self, token: str, kid: str, alg: str, keys) -> bool:
        for key in keys:
            if not key.fits(kid, alg):
                continue
            try:
                self.jws.decode(token, key=key.public_key, algorithms=[alg])
            except (jwt.PyJWTError, ValueError, TypeError):
                continue                     # a wrong key, or a key of another type
            return True
        return False

    def close(self) -> None:
        self.provider.close()
