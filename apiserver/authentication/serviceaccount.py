"""Service-account token authentication: legacy Secret-based tokens and bound (TokenRequest)
tokens, both JWTs signed by a service-account key.

Upstream: kubernetes/kubernetes:pkg/serviceaccount/jwt.go ``jwtTokenAuthenticator`` (one per
token kind, built by pkg/kubeapiserver/authenticator/config.go: the legacy one for issuer
``kubernetes/serviceaccount``, the bound one for ``--service-account-issuer``), in this order:

1. the *unverified* ``iss`` must be this authenticator's, else the token is not ours (None) —
   so a JWT of another issuer reaches the OIDC authenticator after this one;
2. a token that does not parse as a compact JWS is not ours either;
3. the keys: those whose id is the header's ``kid`` (all keys without one); none is
   "invalid signature, no keys found"; the signature must verify with one of them, with an
   algorithm its key type allows (RS*/PS* for RSA, the curve's ES* for ECDSA; never HS* or
   ``none``), verified by PyJWT;
4. the verified ``iss`` again, then the audiences: the token's (a legacy token has none: the
   API's) must meet those asked for (the API's unless a TokenReview names others);
5. the kind's validator (serviceaccount_claims: legacy or bound checks and lookups).

The keys: every ``--service-account-key-file`` read as upstream's ``keyutil.ParsePublicKeysPEM``
(kubernetes/client-go:util/keyutil/key.go: each PEM block, whatever its label, may be an RSA
or ECDSA private key — PKCS#1, SEC 1, PKCS#8 — a PKIX public key or a certificate; other
blocks are skipped; a file without a key stops the start), then the token issuer's signing
key, so ``kubectl create token`` tokens verify without flags.  Key ids are upstream's
``keyIDFromPublicKey``.

Lookups go through ``deps.get_object`` (a database read: the bearer authenticator runs this
on a request thread).

May import: apiserver.authentication.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apiserver.authentication.base import (AuthenticationError, FirstAnswer, TokenAuthenticator,
                                           TokenResponse)
from apiserver.authentication.serviceaccount_claims import (LEGACY_ISSUER, BoundValidator,
                                                            LegacyValidator)
from apiserver.authentication.serviceaccount_tokens import key_id

log = logging.getLogger("apiserver.authentication")

# go-jose's messages, as upstream reports them
CRYPTO_FAILURE = "go-jose/go-jose: error in cryptographic primitive"
UNSUPPORTED_ALGORITHM = "go-jose/go-jose: unknown/unsupported algorithm"
# what go-jose verifies with each key type; HS* and "none" never
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}

_PEM = re.compile(rb"-----BEGIN ([^\r\n-]+)-----\r?\n(.*?)-----END \1-----", re.S)
_RAW_URL = re.compile(r"[A-Za-z0-9_-]*")
# PyJWT checks only the signature; the claims are checked here, with upstream's messages
_SIGNATURE_ONLY = {"verify_signature": True, "verify_exp": False, "verify_nbf": False,
                   "verify_iat": False, "verify_aud": False, "verify_iss": False,
                   "verify_sub": False, "verify_jti": False}


# ---- keys ------------------------------------------------------------------------------------
def _public_key(der: bytes):
    """The RSA/ECDSA public key a DER block holds (private key, PKIX key, certificate)."""
    for load in (lambda d: serialization.load_der_private_key(d, None).public_key(),
                 serialization.load_der_public_key,
                 lambda d: x509.load_der_x509_certificate(d).public_key()):
        try:
            key = load(der)
        except (ValueError, TypeError):
            continue
        if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            return key
    return None


def parse_public_keys_pem(data: bytes) -> list:
    """Every RSA/ECDSA public key of the PEM ``data``; ValueError when there is none."""
    keys = []
    for match in _PEM.finditer(data):
        body = match.group(2)
        if b":" in body:                  # PEM headers (an encrypted key): skipped
            continue
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        key = _public_key(der)
        if key is not None:
            keys.append(key)
    if not keys:
        raise ValueError("data does not contain any valid RSA or ECDSA public keys")
    return keys


def load_key_files(paths) -> list:
    """The public keys of the ``--service-account-key-file`` files (ValueError: no start)."""
    keys = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ValueError(f"failed to parse key file {path!r}: {exc.strerror}") from None
        try:
            keys.extend(parse_public_keys_pem(data))
        except ValueError as exc:
            raise ValueError(f"failed to parse key file {path!r}: {exc}") from None
    return keys


def algorithms_for(key) -> tuple:
    """The JWS algorithms a token may be signed with to verify against ``key``."""
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_ALGORITHMS:
        return (EC_ALGORITHMS[key.curve.name],)
    return ()


class KeySet:
    """The public keys that verify service-account tokens: the key files' (read once, at
    start) then the token issuer's, read through the Issuer each time, since it re-reads its
    signing key file when that changes.  Duplicates (same key id) are listed once."""

    def __init__(self, static_keys=(), issuer=None):
        self.static = [(key_id(k), k) for k in static_keys]
        self.issuer = issuer

    def all(self) -> list:
        """[(key id, public key)] in order: key files, then the issuer's."""
        keys = list(self.static)
        if self.issuer is not None:
            try:
                public = self.issuer.private_key.public_key()
            except (OSError, ValueError) as exc:     # a broken signing key file: log why
                log.warning("service-account signing key unusable: %s", exc)
            else:
                kid = key_id(public)
                if all(kid != k for k, _ in keys):
                    keys.append((kid, public))
        return keys

    def for_kid(self, kid: str) -> list:
        """The keys a token with header ``kid`` may verify with: all of them without one,
        else those of that id (upstream ``StaticPublicKeysGetter``)."""
        keys = self.all()
        return keys if not kid else [(k, key) for k, key in keys if k == kid]


# ---- the authenticator -----------------------------------------------------------------------
def go_quote(value) -> str:
    """Go's ``%q`` of a string or a list of strings (for upstream's messages)."""
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_quote(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def aggregate(messages: list) -> str:
    """apimachinery's ``Aggregate.Error()``: one message as is, several deduplicated in []."""
    unique = list(dict.fromkeys(messages))
    if len(messages) == 1 or len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def unverified_issuer(token: str):
    """The ``iss`` of a compact JWT's payload, read without any check (upstream
    ``hasCorrectIssuer``); None when ``token`` is not a JWT."""
    if token.lstrip().startswith("{"):
        return None
    parts = token.split(".")
    if len(parts) != 3 or not _RAW_URL.fullmatch(parts[1]) or len(parts[1]) % 4 == 1:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


def _audiences(claims: dict) -> list:
    aud = claims.get("aud")
    if aud is None:
        return []
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return aud
    raise AuthenticationError("go-jose/go-jose/jwt: expected string or array value to "
                              "unmarshal to Audience")


def _check_claim_types(claims: dict) -> None:
    """The registered claims must have their JSON types (go-jose unmarshals them)."""
    for name in ("iss", "sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise AuthenticationError(f"malformed token claim {name!r}")
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise AuthenticationError(f"malformed token claim {name!r}")
        if isinstance(value, float):          # a NumericDate is whole seconds
            claims[name] = int(value)


class JWTTokenAuthenticator(TokenAuthenticator):
    """Tokens of ``issuers`` signed by one of ``keys``, handed to ``validator``."""

    def __init__(self, name: str, issuers, keys: KeySet, implicit_audiences, validator,
                 clock=time.time):
        self.name = name
        self.issuers = frozenset(issuers)
        self.keys = keys
        self.implicit_audiences = tuple(implicit_audiences)
        self.validator = validator
        self.clock = clock

    def authenticate_token(self, token, audiences):
        if unverified_issuer(token) not in self.issuers:
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid = header.get("kid") or ""
        keys = self.keys.for_kid(kid)
        if not keys:
            raise AuthenticationError("invalid signature, no keys found")
        claims, failures = self._verify(token, str(header.get("alg")), keys)
        if claims is None:
            raise AuthenticationError(aggregate(failures))
        _check_claim_types(claims)
        if claims.get("iss") not in self.issuers:
            raise AuthenticationError(f"token issuer {go_quote(claims.get('iss'))} is invalid")

        token_audiences = _audiences(claims) or list(self.implicit_audiences)
        requested = list(audiences) or list(self.implicit_audiences)
        common = [a for a in requested if a in token_audiences]
        if not common and self.implicit_audiences:
            raise AuthenticationError(f"token audiences {go_quote(token_audiences)} is invalid "
                                      f"for the target audiences {go_quote(requested)}")
        user = self.validator.validate(token, claims, self.clock())
        return TokenResponse(user, tuple(common))

    @staticmethod
    def _verify(token: str, alg: str, keys: list):
        """(claims, []) when a key verifies the signature, else (None, why each failed)."""
        failures = []
        for _, key in keys:
            if alg not in algorithms_for(key):
                failures.append(UNSUPPORTED_ALGORITHM)
                continue
            try:
                return jwt.decode(token, key=key, algorithms=[alg], options=_SIGNATURE_ONLY), []
            except jwt.InvalidSignatureError:
                failures.append(CRYPTO_FAILURE)
            except jwt.PyJWTError as exc:     # a payload that is not a JSON object, …
                failures.append(f"malformed token: {type(exc).__name__}")
        return None, failures


class ServiceAccountAuthenticator(FirstAnswer):
    """The legacy and the bound authenticator; their issuers differ, so at most one of them
    claims a token, and its answer (or error) is the answer."""

    name = "ServiceAccount"


def from_options(deps) -> ServiceAccountAuthenticator | None:
    """On whenever there is a key to verify with and a way to look objects up: the key files
    (read now; a bad one is a ValueError, no start) and the token issuer's key."""
    o = deps.options
    keys = KeySet(load_key_files(o.service_account_key_files), deps.token_issuer)
    if deps.get_object is None or not (keys.static or deps.token_issuer is not None):
        return None
    audiences = tuple(deps.api_audiences)
    legacy = JWTTokenAuthenticator(
        "ServiceAccount(legacy)", (LEGACY_ISSUER,), keys, audiences,
        LegacyValidator(o.service_account_lookup, deps.get_object))
    issuers = tuple(i for i in (o.service_account_issuer,) if i)
    bound = JWTTokenAuthenticator("ServiceAccount", issuers, keys, audiences,
                                  BoundValidator(deps.get_object))
    log.debug("service-account tokens: issuers %s and %r, %d key file key(s)",
              ", ".join(issuers) or "none", LEGACY_ISSUER, len(keys.static))
    return ServiceAccountAuthenticator([legacy, bound])
