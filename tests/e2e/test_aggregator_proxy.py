"""A service-backed APIService against a real server: an extension API server made by the
test (HTTPS, requiring the aggregator's front-proxy client certificate) gets the caller's
identity as X-Remote-* headers and never the caller's own credentials; discovery lists its
resources; it turns unavailable (503) when its endpoints go away."""
from __future__ import annotations

import base64
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

            def log_message(self, *args):
                pass

            def do_GET(self):
                peer = self.connection.getpeercert()
                cn = dict(x[0] for x in peer["subject"])["commonName"]
                headers = {k.lower(): v for k, v in self.headers.items()}
                backend.seen.append((self.path, cn, headers,
                                     self.headers.get_all("X-Remote-Group") or []))
                if self.path.startswith(f"/apis/{GROUP}/{VERSION}/namespaces/"):
                    body = json.dumps({"cn": cn, "path": self.path, "headers": headers,
                                       "groups": self.headers.get_all("X-Remote-Group") or []})
                elif self.path.split("?")[0] == f"/apis/{GROUP}/{VERSION}":
                    body = json.dumps(RESOURCES)
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

        self.address = host_address()
        self.httpd = ThreadingHTTPServer((self.address, 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def _apply(server, doc):
    server.kubectl("apply", "-f", "-", input=json.dumps(doc))


def _available(server, name):
    cp = server.kubectl("get", "apiservice", name, "-o", "json", check=False)
    if cp.returncode:
        return None
    for c in json.loads(cp.stdout).get("status", {}).get("conditions", []):
        if c["type"] == "Available":
            return c
    return None


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    return predicate()


@pytest.fixture
def backend(server, tmp_path):
    b = Backend(tmp_path, server.data_dir / "pki" / "front-proxy-ca.crt")
    _apply(server, {"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "demo-api", "namespace": "default"},
                    "spec": {"ports": [{"port": 443, "targetPort": b.port}]}})
    _apply(server, {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": "demo-api", "namespace": "default"},
                    "subsets": [{"addresses": [{"ip": b.address}],
                                 "ports": [{"port": b.port}]}]})
    _apply(server, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                    "metadata": {"name": f"{VERSION}.{GROUP}"},
                    "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 1000,
                             "versionPriority": 15,
                             "caBundle": base64.b64encode(b.ca.pem).decode(),
                             "service": {"namespace": "default", "name": "demo-api",
                                         "port": 443}}})
    yield b
    server.kubectl("delete", "apiservice", f"{VERSION}.{GROUP}", "--ignore-not-found")
    server.kubectl("delete", "service,endpoints", "demo-api", "--ignore-not-found")
    b.close()


def test_requests_reach_the_backend_with_the_callers_identity_only(server, backend):
    cond = _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and
                 c["status"] == "True" and c)
    assert cond and cond["reason"] == "Passed" and cond["message"] == "all checks passed", cond
    row = server.kubectl("get", "apiservice", f"{VERSION}.{GROUP}").stdout.splitlines()[1].split()
    assert row[1:3] == ["default/demo-api", "True"], row

    # a caller that tries to name itself through the front-proxy headers is not believed
    status, _, body = server.request(
        "GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets?limit=1",
        headers={"X-Remote-User": "mallory", "X-Remote-Group": "system:masters",
                 "X-Remote-Extra-Scopes": "all"})
    assert status == 200, body
    echo = json.loads(body)
    assert echo["cn"] == "front-proxy-client"       # the proxy client certificate
    assert echo["path"] == f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets?limit=1"
    assert echo["headers"]["x-remote-user"] == "kubernetes-admin"
    assert set(echo["groups"]) == {"system:masters", "system:authenticated"}
    assert "x-remote-extra-scopes" not in echo["headers"]
    assert "authorization" not in echo["headers"]
    assert echo["headers"]["host"] == f"demo-api.default.svc:{backend.port}"


def test_discovery_lists_the_backends_resources(server, backend):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    groups = server.get_json("/apis")["groups"]
    assert any(g["name"] == GROUP and g["preferredVersion"]["version"] == VERSION for g in groups)
    assert server.get_json(f"/apis/{GROUP}")["versions"] == [
        {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}]
    out = _wait(lambda: "widgets" in (o := server.kubectl("api-resources", "--api-group", GROUP,
                                                           check=False).stdout) and o)
    assert out, server.kubectl("api-resources", check=False).stdout
    row = [line.split() for line in out.splitlines() if line.startswith("widgets")][0]
    assert row == ["widgets", "wd", f"{GROUP}/{VERSION}", "true", "Widget"]


def test_without_endpoints_the_group_is_unavailable_and_503(server, backend):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    server.kubectl("delete", "endpoints", "demo-api")
    cond = _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and
                 c["status"] == "False" and c)
    assert cond["reason"] == "MissingEndpoints", cond
    assert cond["message"] == ('endpoints for service/demo-api in "default" have no addresses '
                               'with port name ""')
    status, _, body = server.request("GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets")
    assert status == 503, body
    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["reason"] == "ServiceUnavailable"


def test_the_extension_apiserver_authentication_configmap(server):
    cm = json.loads(server.kubectl("get", "configmap", "-n", "kube-system",
                                   "extension-apiserver-authentication", "-o", "json").stdout)
    data = cm["data"]
    assert data["client-ca-file"] == server.ca.read_text()
    assert data["requestheader-client-ca-file"] == \
        (server.data_dir / "pki" / "front-proxy-ca.crt").read_text()
    assert json.loads(data["requestheader-username-headers"]) == ["X-Remote-User"]
    assert json.loads(data["requestheader-group-headers"]) == ["X-Remote-Group"]
    assert json.loads(data["requestheader-extra-headers-prefix"]) == ["X-Remote-Extra-"]
    assert json.loads(data["requestheader-allowed-names"]) == ["front-proxy-client"]
