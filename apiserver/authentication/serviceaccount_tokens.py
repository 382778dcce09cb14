"""Bound service-account tokens (TokenRequest): JWTs signed RS256 with the SA signing key.

The issue side builds the claims kube-apiserver puts in a bound token
(kubernetes/kubernetes:pkg/serviceaccount/claims.go and ``jwt.go``) and signs them as a compact JWS:

* header ``{"alg": "RS256", "kid": <key id>}``; the key id is the unpadded base64url of the
  SHA-256 of the public key's DER (SubjectPublicKeyInfo), as upstream ``keyIDFromPublicKey``;
* claims ``aud`` (always a list), ``exp``, ``iat``, ``iss``, ``jti``, ``kubernetes.io``
  ``{namespace, serviceaccount{name, uid}, pod?, secret?, node?}``, ``nbf``, ``sub``
  (``system:serviceaccount:<ns>:<name>``), serialised with sorted keys like Go's map encoding.

:func:`verify` checks signature, issuer, audience and time; authenticating a bearer token
(and re-checking that the bound objects still exist) is the authentication issue's job.
Encoding is done here with ``cryptography`` alone (no JWT library).

May import: the standard library, cryptography, orjson.
"""
from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
import uuid

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PRIVATE_CLAIM = "kubernetes.io"
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
LEEWAY_SECONDS = 60        # upstream allows one minute of clock skew on nbf/exp/iat


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or not meant for this audience."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidToken(f"malformed base64url segment: {exc}") from None


def username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, str]:
    return (SA_GROUP, f"{SA_GROUP}:{namespace}")


def key_id(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


# ---- keys ------------------------------------------------------------------------------------
def load_private_key(path: str):
    """The RSA private key in PEM file ``path``."""
    try:
        with open(path, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), None)
    except OSError as exc:
        raise FileNotFoundError(f"service-account signing key {path!r}: {exc.strerror}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"service-account signing key {path!r} is not an RSA key")
    return key


class Issuer:
    """Who signs: the private key, the ``iss`` value (also the default audience) and the cap
    on requested lifetimes (0: none), from ``--service-account-signing-key-file``,
    ``--service-account-issuer`` and ``--service-account-max-token-expiration``.

    The key is read on first use and re-read when the file changes; without a key file (a
    server built in a test) a key is generated for this issuer alone."""

    def __init__(self, key_file: str, issuer: str, max_expiration_seconds: int = 0):
        self.key_file = key_file
        self.issuer = issuer
        self.max_expiration_seconds = int(max_expiration_seconds)
        self._lock = threading.Lock()
        self._key: tuple[float, object] | None = None

    @property
    def default_audiences(self) -> list[str]:
        return [self.issuer]

    @property
    def private_key(self):
        with self._lock:
            if not self.key_file:
                if self._key is None:
                    self._key = (0.0, rsa.generate_private_key(public_exponent=65537, key_size=2048))
                return self._key[1]
            try:
                mtime = os.stat(self.key_file).st_mtime
            except OSError as exc:
                raise FileNotFoundError(f"service-account signing key {self.key_file!r}: "
                                        f"{exc.strerror}") from None
            if self._key is None or self._key[0] != mtime:
                self._key = (mtime, load_private_key(self.key_file))
            return self._key[1]


# ---- claims and signing -----------------------------------------------------------------------
def _ref(obj: dict | None) -> dict | None:
    if not obj:
        return None
    meta = obj.get("metadata") or {}
    return {"name": meta.get("name", ""), "uid": meta.get("uid", "")}


def bound_claims(issuer: str, service_account: dict, audiences: list[str],
                 expiration_seconds: int, *, pod: dict | None = None,
                 secret: dict | None = None, node: dict | None = None,
                 now: int | None = None) -> dict:
    """The claims of a bound token for ``service_account`` (a ServiceAccount dict), bound
    to at most one of ``pod``/``secret``/``node`` (a pod-bound token also names its node)."""
    now = int(time.time()) if now is None else int(now)
    meta = service_account.get("metadata") or {}
    namespace = meta.get("namespace", "")
    private = {"namespace": namespace, "serviceaccount": _ref(service_account)}
    for key, obj in (("pod", pod), ("secret", secret), ("node", node)):
        if obj:
            private[key] = _ref(obj)
    return {"aud": list(audiences), "exp": now + int(expiration_seconds), "iat": now,
            "iss": issuer, "jti": str(uuid.uuid4()), PRIVATE_CLAIM: private, "nbf": now,
            "sub": username(namespace, meta.get("name", ""))}


def sign(claims: dict, private_key) -> str:
    """A compact JWS (RS256) of ``claims``."""
    header = {"alg": "RS256", "kid": key_id(private_key.public_key())}
    signing_input = (b64url(orjson.dumps(header)) + "."
                     + b64url(orjson.dumps(claims, option=orjson.OPT_SORT_KEYS)))
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def decode_unverified(token: str) -> tuple[dict, dict]:
    """(header, claims) without checking anything."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("a JWT has three dot-separated parts")
    try:
        return orjson.loads(b64url_decode(parts[0])), orjson.loads(b64url_decode(parts[1]))
    except orjson.JSONDecodeError as exc:
        raise InvalidToken(f"malformed JWT JSON: {exc}") from None


def verify(token: str, public_key, *, issuer: str | None = None,
           audiences: list[str] | None = None, now: int | None = None) -> dict:
    """The claims of ``token`` if it is signed by ``public_key`` (RS256), unexpired, from
    ``issuer`` (when given) and meant for one of ``audiences`` (when given)."""
    header, claims = decode_unverified(token)
    if header.get("alg") != "RS256":
        raise InvalidToken(f"unsupported signing algorithm {header.get('alg')!r}")
    signing_input, _, signature = token.rpartition(".")
    try:
        public_key.verify(b64url_decode(signature), signing_input.encode(), padding.PKCS1v15(),
                          hashes.SHA256())
    except InvalidSignature:
        raise InvalidToken("invalid signature") from None
    now = int(time.time()) if now is None else int(now)
    if not isinstance(claims.get("exp"), int) or now > claims["exp"] + LEEWAY_SECONDS:
        raise InvalidToken("token has expired")
    if isinstance(claims.get("nbf"), int) and now < claims["nbf"] - LEEWAY_SECONDS:
        raise InvalidToken("token is not valid yet")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidToken(f"token issuer {claims.get('iss')!r} is not {issuer!r}")
    if audiences is not None:
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else (aud or [])
        if not set(aud) & set(audiences):
            raise InvalidToken("token audiences match none of the accepted audiences")
    return claims
