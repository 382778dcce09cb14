"""A minimal extension API server for the aggregator's tests and bench: HTTPS with a
certificate for ``demo-api.default.svc``, requiring a client certificate of the front-proxy
CA (so only the aggregator can call it), serving its discovery document, an echo of what it
was sent, and a two-event chunked "watch"."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.certs import CA

GROUP, VERSION = "demo.example.com", "v1"
RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
             "resources": [{"name": "widgets", "singularName": "widget", "namespaced": True,
                            "kind": "Widget", "verbs": ["get", "list"], "shortNames": ["wd"]}]}


def host_address() -> str:
    """A non-loopback IPv4 address of this machine: Endpoints may not name loopback ones
    (upstream's validation), so a backend made by the test listens here."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 9))       # no packet is sent for a UDP connect
            address = s.getsockname()[0]
        except OSError:
            address = ""
    if not address or address.startswith("127."):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            if not info[4][0].startswith("127."):
                return info[4][0]
        pytest.fail("this machine has no non-loopback IPv4 address for a test backend")
    return address


OPENAPI_KEY = f"apis/{GROUP}/{VERSION}"
OPENAPI_ROOT = {"paths": {OPENAPI_KEY: {
    "serverRelativeURL": f"/openapi/v3/{OPENAPI_KEY}?hash=0123ABCD"}}}
WIDGET_SCHEMA = {
    "description": "A Widget is a demo object the test backend serves.",
    "type": "object",
    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                   "metadata": {"type": "object"},
                   "size": {"type": "integer", "description": "How big the widget is."}},
    "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": "Widget"}]}
OPENAPI_DOC = {"openapi": "3.0.0", "info": {"title": "demo", "version": VERSION},
               # kubectl explain finds the kind through a path's GVK extension, then its schema
               "paths": {f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/widgets/{{name}}": {
                   "get": {"x-kubernetes-group-version-kind":
                           {"group": GROUP, "version": VERSION, "kind": "Widget"},
                           "responses": {"200": {"content": {"application/json": {"schema": {
                               "$ref": "#/components/schemas/com.example.demo.v1.Widget"}}}}}}}},
               "components": {"schemas": {"com.example.demo.v1.Widget": WIDGET_SCHEMA}}}


class Backend:
    """A minimal extension API server: discovery, and an echo of what it was sent."""

    def __init__(self, tmp, front_proxy_ca):
        self.ca = CA("backend-ca")
        crt, key = self.ca.write_pair(tmp, "backend", "demo-api.default.svc", client=False,
                                      hosts=["demo-api.default.svc"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        ctx.verify_mode = ssl.CERT_REQUIRED          # only the aggregator may call
        ctx.load_verify_locations(cafile=str(front_proxy_ca))
        self.seen = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                peer = self.connection.getpeercert()
                cn = dict(x[0] for x in peer["subject"])["commonName"]
                headers = {k.lower(): v for k, v in self.headers.items()}
                backend.seen.append((self.path, cn, headers,
                                     self.headers.get_all("X-Remote-Group") or []))
                if "watch=true" in self.path:
                    return self._stream()
                if self.path.startswith(f"/apis/{GROUP}/{VERSION}/namespaces/"):
                    body = json.dumps({"cn": cn, "path": self.path, "headers": headers,
                                       "groups": self.headers.get_all("X-Remote-Group") or []})
                elif self.path.split("?")[0] == f"/apis/{GROUP}/{VERSION}":
                    body = json.dumps(RESOURCES)
                elif self.path == "/openapi/v3":
                    body = json.dumps(OPENAPI_ROOT)
                elif self.path.split("?")[0] == f"/openapi/v3/{OPENAPI_KEY}":
                    body = json.dumps(OPENAPI_DOC)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self):
                """Two watch events, the second a moment after the first: chunked."""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(2):
                    line = json.dumps({"type": "ADDED", "object": {"n": i}}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                    time.sleep(0.5)
                self.wfile.write(b"0\r\n\r\n")

        self.address = host_address()
        self.httpd = ThreadingHTTPServer((self.address, 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()          # refuse new connections at once


WS_GROUP = "ws.example.com"
WS_RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{WS_GROUP}/v1",
                "resources": [{"name": "streams", "singularName": "stream", "namespaced": True,
                               "kind": "Stream", "verbs": ["get"]}]}


class WebSocketBackend:
    """An extension API server on 127.0.0.1 that speaks websockets (``websockets``' sync
    server, TLS, front-proxy client certificate required): a connection first gets what the
    backend saw (path, identity headers, certificate CN), then every message echoed back."""

    def __init__(self, tmp, front_proxy_ca, service_host: str):
        from websockets.datastructures import Headers
        from websockets.http11 import Response
        from websockets.sync.server import serve

        self.ca = CA("ws-backend-ca")
        crt, key = self.ca.write_pair(tmp, "ws-backend", service_host, client=False,
                                      hosts=[service_host])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(front_proxy_ca))

        def process_request(connection, request):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return None
            if request.path.split("?")[0] == f"/apis/{WS_GROUP}/v1":
                body = json.dumps(WS_RESOURCES).encode()
                return Response(200, "OK", Headers([("Content-Type", "application/json"),
                                                    ("Content-Length", str(len(body)))]), body)
            return Response(404, "Not Found", Headers([("Content-Length", "0")]), b"")

        def handler(ws):
            peer = ws.socket.getpeercert()
            cn = dict(x[0] for x in peer["subject"])["commonName"]
            headers = ws.request.headers
            ws.send(json.dumps({"path": ws.request.path, "cn": cn,
                                "user": headers.get_all("X-Remote-User"),
                                "groups": headers.get_all("X-Remote-Group"),
                                "authorization": headers.get_all("Authorization")}))
            for message in ws:
                ws.send(f"echo:{message}")

        self.server = serve(handler, "127.0.0.1", 0, ssl=ctx, process_request=process_request)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
