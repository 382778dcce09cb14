"""apiserver.webhook_client against a real HTTPS server made here: kept-alive connections
are reused per endpoint and trust decision, a closed idle connection is redialled, and a
wrong CA is refused however warm the pool is."""
from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apiserver import webhook_client
from tests.certs import CA

PEERS: list = []


class KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        PEERS.append(self.client_address)
        data = json.dumps({"echo": body, "close": self.path == "/close"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.path == "/close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def hook():
    ca = CA("hook-ca")
    d = Path(tempfile.mkdtemp())
    crt, key = ca.write_pair(d, "serving", "hook", client=False, hosts=("127.0.0.1",))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], base64.b64encode(ca.pem).decode()
    httpd.shutdown()


def test_a_pool_reuses_one_connection(hook):
    port, ca = hook
    cfg = {"url": f"https://127.0.0.1:{port}/ok", "caBundle": ca}
    pool = webhook_client.ConnectionPool()
    PEERS.clear()
    for i in range(5):
        assert webhook_client.post_json(cfg, {"n": i}, None, pool=pool)["echo"] == {"n": i}
    assert len(set(PEERS)) == 1                      # one TCP connection for five calls
    PEERS.clear()
    for i in range(3):
        webhook_client.post_json(cfg, {"n": i}, None)
    assert len(set(PEERS)) == 3                      # without a pool: one each


def test_a_connection_the_webhook_closes_is_not_kept(hook):
    port, ca = hook
    pool = webhook_client.ConnectionPool()
    PEERS.clear()
    for _ in range(2):
        webhook_client.post_json({"url": f"https://127.0.0.1:{port}/close", "caBundle": ca},
                                 {}, None, pool=pool)
    assert len(set(PEERS)) == 2


def test_another_ca_never_gets_a_pooled_connection(hook):
    port, ca = hook
    pool = webhook_client.ConnectionPool()
    webhook_client.post_json({"url": f"https://127.0.0.1:{port}/ok", "caBundle": ca}, {}, None,
                             pool=pool)
    other = base64.b64encode(CA("other-ca").pem).decode()
    with pytest.raises(webhook_client.CallError) as exc:
        webhook_client.post_json({"url": f"https://127.0.0.1:{port}/ok", "caBundle": other},
                                 {}, None, pool=pool)
    assert exc.value.transport and "certificate verify failed" in str(exc.value)
