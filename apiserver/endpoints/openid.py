"""Service-account issuer discovery: ``GET /.well-known/openid-configuration`` and
``GET /openid/v1/jwks``, so relying parties outside the cluster can verify service-account
tokens.

Upstream: kubernetes/kubernetes:pkg/serviceaccount/openidmetadata.go (the documents and the
checks made before the endpoints are installed) and pkg/routes/openidmetadata.go (serving
them: ``application/json`` and ``application/jwk-set+json``, ``Cache-Control: public,
max-age=3600``, GET only).

* The configuration: ``issuer`` (``--service-account-issuer``), ``jwks_uri``
  (``--service-account-jwks-uri``, else ``https://<external address>/openid/v1/jwks`` — the
  bind address and secure port, the host name when bound to every interface),
  ``response_types_supported: ["id_token"]``, ``subject_types_supported: ["public"]`` and
  ``id_token_signing_alg_values_supported`` (the keys' algorithms, sorted).
* The key set: one JWK per verifying key — ``use: sig``, ``kid`` (upstream's key id), ``alg``
  RS256 for RSA and the curve's ES* for ECDSA — the same keys the authenticator verifies with
  (the key files and the token issuer's), rendered on each request since the issuer re-reads
  a changed signing key.
* As upstream, an issuer that is not an ``https`` URL without query or fragment, or a
  non-https ``jwks_uri``, leaves the endpoints uninstalled (logged once; the paths are 404).

May import: apiserver.authentication, apiserver.options.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apiserver.authentication.serviceaccount import EC_ALGORITHMS, KeySet, load_key_files

log = logging.getLogger("apiserver.endpoints")

CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
PATHS = (CONFIG_PATH, JWKS_PATH)
CACHE_CONTROL = "public, max-age=3600"
JWKS_TYPE = "application/jwk-set+json"


def _b64(value: int, size: int = 0) -> str:
    """Unpadded base64url of a big-endian integer: minimal, or ``size`` bytes."""
    length = size or max(1, (value.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode()


def jwk(kid: str, key) -> dict | None:
    """The public JWK of ``key`` in go-jose's field order; None for a key type or curve
    upstream cannot publish."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256",
                "n": _b64(numbers.n), "e": _b64(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_ALGORITHMS:
        numbers, size = key.public_numbers(), (key.curve.key_size + 7) // 8
        return {"use": "sig", "kty": "EC", "kid": kid, "crv": f"P-{key.curve.key_size}",
                "alg": EC_ALGORITHMS[key.curve.name],
                "x": _b64(numbers.x, size), "y": _b64(numbers.y, size)}
    return None


def external_address(options) -> str:
    """host:port clients reach this server at (upstream ``ExternalAddress``)."""
    host = options.bind_address
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{options.secure_port}"


def install_problem(issuer: str, jwks_uri: str) -> str | None:
    """Why upstream would not install the endpoints for these URLs; None when it would."""
    if not issuer:
        return "empty issuer URL"
    try:
        iss, jwks = urlsplit(issuer), urlsplit(jwks_uri)
    except ValueError as exc:
        return str(exc)
    if iss.scheme != "https":
        return f"issuer URL must use https scheme, got: {issuer}"
    if iss.query:
        return f"issuer URL may not include a query, got: {issuer}"
    if iss.fragment:
        return f"issuer URL may not include a fragment, got: {issuer}"
    if jwks.scheme != "https":
        return f"jwksURI requires https scheme, parsed as: {jwks_uri}"
    return None


def _json(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class OpenIDMetadata:
    """The two documents of one server's completed config, and their ASGI answer."""

    def __init__(self, options, token_issuer, executor=None):
        self.executor = executor          # the request threads: reading keys may block
        self.issuer = options.service_account_issuer
        self.jwks_uri = options.service_account_jwks_uri or urlunsplit(
            ("https", external_address(options), JWKS_PATH, "", ""))
        self.keys = KeySet(load_key_files(options.service_account_key_files), token_issuer)
        self.problem = install_problem(self.issuer, self.jwks_uri)
        if self.problem:
            log.error("service-account issuer discovery not installed: %s", self.problem)

    @classmethod
    def from_config(cls, config) -> "OpenIDMetadata":
        return cls(config.options, config.token_issuer, config.executor)

    @property
    def installed(self) -> bool:
        return self.problem is None

    def keyset(self) -> dict:
        keys = []
        for kid, key in self.keys.all():
            entry = jwk(kid, key)
            if entry is None:
                log.warning("service-account key %s cannot be published in the JWKS", kid)
            else:
                keys.append(entry)
        return {"keys": keys}

    def configuration(self, keyset: dict | None = None) -> dict:
        keyset = self.keyset() if keyset is None else keyset
        return {"issuer": self.issuer, "jwks_uri": self.jwks_uri,
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported":
                    sorted({k["alg"] for k in keyset["keys"]})}

    async def __call__(self, scope, receive, send) -> None:
        """Answer a request for one of :data:`PATHS` (GET only, as upstream's routes)."""
        if scope.get("method") != "GET":
            await _send(send, 405, b"405: Method Not Allowed", "text/plain; charset=utf-8")
            return
        render = self.configuration if scope["path"] == CONFIG_PATH else self.keyset
        if self.executor is not None:
            document = await asyncio.get_running_loop().run_in_executor(self.executor, render)
        else:
            document = render()
        await _send(send, 200, _json(document),
                    "application/json" if scope["path"] == CONFIG_PATH else JWKS_TYPE,
                    CACHE_CONTROL)


async def _send(send, status: int, body: bytes, content_type: str, cache: str = "") -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode())]
    if cache:
        headers.append((b"cache-control", cache.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
