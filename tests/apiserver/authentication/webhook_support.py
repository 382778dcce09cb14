"""A real TokenReview webhook for tests: HTTPS on 127.0.0.1 in a thread, with a serving
certificate and a client CA made by the test (``tests.certs``).  The TLS handshake requires a
client certificate from that CA, so a caller without one never reaches the handler.

``ReviewServer(directory, answer)``: ``answer(review) -> (status, body)`` decides each reply
(default: :func:`table_answer` over ``users``, token → user dict).  ``calls`` records each
review received with the client certificate's CN and the request headers; ``kubeconfig()``
writes a kubeconfig naming this server, its CA and the client certificate.
"""
from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.certs import CA


def table_answer(users: dict):
    """An ``answer`` authenticating the tokens of ``users`` (token → status.user)."""

    def answer(review):
        user = users.get(review["spec"]["token"])
        status = {"authenticated": user is not None}
        if user is not None:
            status["user"] = user
        return 200, {"apiVersion": review["apiVersion"], "kind": "TokenReview",
                     "status": status}

    return answer


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):   # noqa: N802 (http.server's naming)
        server = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        review = json.loads(self.rfile.read(length))
        cert = self.connection.getpeercert() or {}
        cn = next((v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"),
                  None)
        with server.lock:
            server.calls.append({"review": review, "client_cn": cn, "path": self.path,
                                 "headers": dict(self.headers)})
        reply = server.answer(review)
        if reply is None:            # drop the connection without an answer
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, body = reply[:2]
        headers = reply[2] if len(reply) > 2 else {}
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):    # keep test output quiet
        pass


class ReviewServer:
    def __init__(self, directory: Path, answer=None, users: dict | None = None,
                 path: str = "/authenticate"):
        self.dir = Path(directory)
        self.path = path
        self.answer = answer or table_answer(users or {})
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.ca, self.client_ca = CA("webhook-serving-ca"), CA("webhook-client-ca")
        self.ca_file = self.ca.write(self.dir / "webhook-ca.crt")
        self.client_ca_file = self.client_ca.write(self.dir / "webhook-client-ca.crt")
        crt, key = self.ca.write_pair(self.dir, "webhook-serving", "webhook",
                                      client=False, hosts=("127.0.0.1",))
        self.client_cert, self.client_key = self.client_ca.write_pair(
            self.dir, "apiserver-client", "kube-apiserver")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.load_verify_locations(cafile=str(self.client_ca_file))
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}{path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def reviews(self) -> list[dict]:
        with self.lock:
            return [c["review"] for c in self.calls]

    def kubeconfig(self, name: str = "webhook.kubeconfig", *, cluster: dict | None = None,
                   user: dict | None = None, context: bool = True) -> Path:
        """A kubeconfig for this webhook (``cluster``/``user`` replace the defaults)."""
        doc = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "webhook", "cluster": cluster if cluster is not None else {
                "server": self.url, "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": "apiserver", "user": user if user is not None else {
                "client-certificate": str(self.client_cert),
                "client-key": str(self.client_key)}}],
        }
        if context:
            doc["contexts"] = [{"name": "webhook",
                                "context": {"cluster": "webhook", "user": "apiserver"}}]
            doc["current-context"] = "webhook"
        path = self.dir / name
        path.write_text(json.dumps(doc))
        return path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
