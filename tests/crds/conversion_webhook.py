"""A real HTTPS conversion webhook for the tests: CronTabs of stable.example.com, whose
v1 ``spec.cronSpec`` is v2's ``spec.schedule``.  Paths change how it answers (``/`` converts;
``/fail`` refuses; ``/uid`` answers another uid; ``/rename`` changes the object's name;
``/label`` also adds a label).  ``reviews`` keeps every request it got."""
from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.certs import CA


def convert(obj: dict, desired: str) -> dict:
    out = json.loads(json.dumps(obj))
    spec = out.setdefault("spec", {})
    if desired.endswith("/v2") and "cronSpec" in spec:
        spec["schedule"] = spec.pop("cronSpec")
    if desired.endswith("/v1") and "schedule" in spec:
        spec["cronSpec"] = spec.pop("schedule")
    out["apiVersion"] = desired
    return out


class Handler(BaseHTTPRequestHandler):
    reviews: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).reviews.append(review)
        req = review["request"]
        objs = [convert(o, req["desiredAPIVersion"]) for o in req["objects"]]
        response = {"uid": req["uid"], "convertedObjects": objs, "result": {"status": "Success"}}
        if self.path == "/fail":
            response = {"uid": req["uid"], "result": {"status": "Failure",
                                                      "message": "cannot convert today"}}
        elif self.path == "/uid":
            response["uid"] = "not-the-request"
        elif self.path == "/rename":
            for o in objs:
                o["metadata"]["name"] += "-x"
        elif self.path == "/label":
            for o in objs:
                o["metadata"].setdefault("labels", {})["converted"] = "yes"
                o["metadata"]["generation"] = 99          # not the webhook's to change
        body = json.dumps({"apiVersion": review["apiVersion"], "kind": "ConversionReview",
                           "response": response}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ConversionWebhook:
    """The server on ``host`` (a random port) with a certificate for it and for
    ``names``; ``ca_bundle`` is what a CRD's clientConfig carries."""

    def __init__(self, host: str = "127.0.0.1", names=()):
        ca = CA("conversion-ca")
        d = Path(tempfile.mkdtemp())
        crt, key = ca.write_pair(d, "serving", "conversion", client=False,
                                 hosts=(host, *names))
        handler = type("H", (Handler,), {"reviews": []})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.reviews = handler.reviews
        self.host, self.port = host, self.httpd.server_address[1]
        self.ca_bundle = base64.b64encode(ca.pem).decode()
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"https://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
