"""A real OpenID Connect issuer for the OIDC tests — HTTPS on 127.0.0.1 (``http.server`` +
``ssl`` on a thread) with a serving certificate from a CA the test makes, discovery and a
JWKS, RSA or EC keys that sign ID tokens with PyJWT — and the tests of discovery and key
fetching (``apiserver.authentication.oidc_provider``) against it."""
from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apiserver.authentication.oidc_provider import Provider, parse_jwks, ssl_context
from tests.certs import CA


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):   # noqa: N802 (http.server's naming)
        issuer = self.server.issuer
        issuer.requests.append(self.path)
        if not issuer.available:
            return self._send(503, {"error": "unavailable"})
        if self.path in (issuer.path + "/.well-known/openid-configuration",
                         issuer.discovery_path):
            return self._send(200, {"issuer": issuer.discovered_issuer or issuer.url,
                                    "jwks_uri": issuer.base + "/keys"})
        if self.path == "/keys":
            return self._send(200, {"keys": [issuer.jwk(kid) for kid in issuer.keys]})
        self._send(404, {})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class LocalIssuer:
    """An identity provider: ``url`` is its issuer, ``ca_file``/``ca_pem`` the CA of its
    serving certificate; ``token(**claims)`` signs an ID token (aud ``kubernetes``, sub
    ``user-1``, valid for 10 minutes unless overridden; a claim given as None is left out).
    ``available = False`` makes every endpoint answer 503; ``requests`` lists the paths
    asked for."""

    def __init__(self, directory: Path, *, kind: str = "RSA", path: str = ""):
        self.dir = Path(directory)
        self.ca = CA("oidc-test-ca")
        self.ca_pem = self.ca.pem.decode()
        self.ca_file = self.ca.write(self.dir / f"oidc-ca-{id(self)}.crt")
        crt, key = self.ca.write_pair(self.dir, f"oidc-serving-{id(self)}", "oidc",
                                      client=False, hosts=("127.0.0.1",))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.issuer = self
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.path = path
        self.url = self.base + path
        self.discovery_path = "/discovery/openid-configuration"
        self.discovered_issuer = None
        self.available = True
        self.requests: list[str] = []
        self.kind = kind
        self.keys = {"k1": self.new_key()}
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def new_key(self):
        if self.kind == "EC":
            return ec.generate_private_key(ec.SECP256R1())
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def alg(self) -> str:
        return "ES256" if self.kind == "EC" else "RS256"

    def jwk(self, kid: str) -> dict:
        public = self.keys[kid].public_key()
        algorithm = jwt.algorithms.ECAlgorithm if self.kind == "EC" else jwt.algorithms.RSAAlgorithm
        return {**json.loads(algorithm.to_jwk(public)), "kid": kid, "use": "sig"}

    def rotate(self, kid: str) -> None:
        self.keys[kid] = self.new_key()

    def token(self, kid: str = "k1", alg: str = "", key=None, headers=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "kubernetes", "sub": "user-1", "iat": now,
                "exp": now + 600, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key if key is not None else self.keys[kid],
                          algorithm=alg or self.alg, headers={"kid": kid, **(headers or {})})

    def jwks_fetches(self) -> int:
        return self.requests.count("/keys")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    server = LocalIssuer(tmp_path_factory.mktemp("oidc-provider"))
    yield server
    server.stop()


def provider_for(issuer, **kw) -> Provider:
    kw.setdefault("ca_pem", issuer.ca_pem)
    return Provider(issuer.url, **kw)


def test_discovery_then_keys_in_the_background(issuer):
    provider = provider_for(issuer).start()
    try:
        assert provider.wait_initialized(10)
        assert provider.jwks_uri == issuer.base + "/keys"
        assert [k.kid for k in provider.keys] == ["k1"]
    finally:
        provider.close()


def test_the_configured_ca_alone_is_trusted(issuer):
    other = CA("someone-else").pem.decode()
    provider = Provider(issuer.url, ca_pem=other)
    assert provider.initialize() is False
    assert "CERTIFICATE_VERIFY_FAILED" in provider.last_error
    assert not provider.initialized


def test_discovery_must_name_the_configured_issuer(issuer):
    issuer.discovered_issuer = "https://impostor.example"
    try:
        provider = provider_for(issuer)
        assert provider.initialize() is False
        assert provider.last_error == (
            f'oidc: issuer did not match the issuer returned by provider, expected '
            f'"{issuer.url}" got "https://impostor.example"')
    finally:
        issuer.discovered_issuer = None


def test_a_discovery_url_replaces_the_well_known_path(issuer):
    provider = provider_for(issuer, discovery_url=issuer.base + issuer.discovery_path)
    assert provider.initialize()
    assert issuer.requests[-2:] == [issuer.discovery_path, "/keys"]


def test_an_unreachable_issuer_is_retried_until_it_answers(issuer):
    issuer.available = False
    provider = provider_for(issuer, retry_seconds=0.1).start()
    try:
        assert not provider.wait_initialized(0.5)
        assert provider.last_error.startswith("503")
        issuer.available = True
        assert provider.wait_initialized(10)
    finally:
        issuer.available = True
        provider.close()


def test_key_refetches_are_rate_limited(issuer):
    provider = provider_for(issuer, refetch_seconds=3600)
    assert provider.initialize()
    before = issuer.jwks_fetches()
    assert provider.refresh() is False and issuer.jwks_fetches() == before
    provider.refetch_seconds = 0
    assert provider.refresh() is True and issuer.jwks_fetches() == before + 1


def test_only_signing_keys_of_asymmetric_types_are_kept():
    document = {"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        json.loads(jwt.algorithms.ECAlgorithm.to_jwk(
            ec.generate_private_key(ec.SECP256R1()).public_key())) | {"kid": "ec"}]}
    assert [k.kid for k in parse_jwks(document)] == ["ec"]


def test_a_ca_bundle_without_certificates_is_refused():
    with pytest.raises(ValueError, match="does not contain any valid RSA or ECDSA"):
        ssl_context("not a certificate")
