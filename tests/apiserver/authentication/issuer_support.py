"""A real OpenID Connect issuer for tests: HTTPS on 127.0.0.1 in a thread, serving discovery
and a JWKS, with RSA keys it signs ID tokens with (PyJWT) and a serving certificate from a CA
the test makes (``tests.certs``)."""
from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.certs import CA


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):   # noqa: N802 (http.server's naming)
        owner = self.server.owner
        owner.requests.append(self.path)
        if self.path == "/.well-known/openid-configuration":
            body = {"issuer": owner.discovered_issuer or owner.url,
                    "jwks_uri": owner.url + "/keys"}
        elif self.path == "/keys":
            body = {"keys": [owner.jwk(kid, key) for kid, key in owner.keys.items()]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Issuer:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.ca = CA("oidc-ca")
        self.ca_file = self.ca.write(self.dir / "oidc-ca.crt")
        crt, key = self.ca.write_pair(self.dir, "oidc-serving", "issuer", client=False,
                                      hosts=("127.0.0.1",))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.discovered_issuer = None
        self.requests: list[str] = []
        self.keys = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @staticmethod
    def jwk(kid, key) -> dict:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {**data, "kid": kid, "use": "sig", "alg": "RS256"}

    def rotate(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def token(self, kid: str = "k1", alg: str = "RS256", key=None, headers=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "kubernetes", "sub": "user-1", "iat": now,
                "exp": now + 600, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key if key is not None else self.keys[kid], algorithm=alg,
                          headers={"kid": kid, **(headers or {})})

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
