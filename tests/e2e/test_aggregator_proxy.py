"""A service-backed APIService against a real server: an extension API server made by the
test (HTTPS, requiring the aggregator's front-proxy client certificate) gets the caller's
identity as X-Remote-* headers and never the caller's own credentials; discovery lists its
resources; it turns unavailable (503) when its endpoints go away."""
from __future__ import annotations

import base64
import http.client
import json
import ssl
import time

import pytest

from tests.certs import CA
from tests.e2e.extension_backend import GROUP, VERSION, Backend


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


def test_a_watch_streams_through_as_it_comes(server, backend):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    conn = server.connection()
    try:
        conn.request("GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets?watch=true")
        resp = conn.getresponse()
        assert resp.status == 200
        started = time.monotonic()
        first = json.loads(resp.readline())
        took_first = time.monotonic() - started
        second = json.loads(resp.readline())
        assert first["object"] == {"n": 0} and second["object"] == {"n": 1}
        assert took_first < 0.4          # relayed before the backend finished its answer
    finally:
        conn.close()


def test_discovery_lists_the_backends_resources(server, backend):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    # discovery follows the APIService asynchronously (as upstream's aggregation does): the
    # Available condition may be written just before the backend's documents are read
    listed = _wait(lambda: any(g["name"] == GROUP and g["preferredVersion"]["version"] == VERSION
                               for g in server.get_json("/apis")["groups"]), timeout=10)
    assert listed, server.get_json("/apis")["groups"]
    assert server.get_json(f"/apis/{GROUP}")["versions"] == [
        {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}]
    out = _wait(lambda: "widgets" in (o := server.kubectl("api-resources", "--api-group", GROUP,
                                                           check=False).stdout) and o)
    assert out, server.kubectl("api-resources", check=False).stdout
    row = [line.split() for line in out.splitlines() if line.startswith("widgets")][0]
    assert row == ["widgets", "wd", f"{GROUP}/{VERSION}", "true", "Widget"]


def test_kubectl_explain_reads_the_backends_openapi(server, backend):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    root = _wait(lambda: f"apis/{GROUP}/{VERSION}" in (r := server.get_json("/openapi/v3"))["paths"]
                 and r)
    assert root, "the backend's document is not listed in /openapi/v3"
    out = server.kubectl("explain", f"widgets.{GROUP}").stdout
    assert "A Widget is a demo object the test backend serves." in out, out
    assert "size\t<integer>" in out and "How big the widget is." in out, out


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


def test_a_caller_rbac_forbids_is_stopped_before_the_proxy(server, backend, tmp_path):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    crt, key = CA.from_pki(server.data_dir / "pki").write_pair(tmp_path, "bob", "bob", ["dev"])
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.load_cert_chain(str(crt), str(key))
    seen = len(backend.seen)
    conn = http.client.HTTPSConnection(server.host, server.port, context=ctx, timeout=10)
    try:
        conn.request("GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets")
        resp = conn.getresponse()
        doc = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 403 and doc["reason"] == "Forbidden", doc
    assert doc["message"] == (f'widgets.{GROUP} is forbidden: User "bob" cannot list resource '
                              f'"widgets" in API group "{GROUP}" in the namespace "default"')
    assert [p for p, *_ in backend.seen[seen:] if "widgets" in p] == []


def test_an_unregistered_group_is_404(server):
    status, _, body = server.request("GET", "/apis/nothing.example.com/v1/things")
    assert status == 404, body
    assert json.loads(body)["reason"] == "NotFound"


def test_a_backend_that_is_down_is_unavailable_and_503(server, backend):
    _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and c["status"] == "True")
    backend.close()
    # still Available (the next periodic check is up to 30 s away): the dial fails, 503
    status, _, body = server.request("GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets")
    assert status == 503 and json.loads(body)["reason"] == "ServiceUnavailable", body
    # a change to its Service is checked at once, as upstream's controller does on events
    server.kubectl("annotate", "service", "demo-api", "checked=now")
    cond = _wait(lambda: (c := _available(server, f"{VERSION}.{GROUP}")) and
                 c["status"] == "False" and c)
    assert cond and cond["reason"] == "FailedDiscoveryCheck", cond
    assert cond["message"].startswith(
        f"failing or missing response from https://demo-api.default.svc:443/apis/{GROUP}/{VERSION}")


def test_websockets_are_relayed_to_a_backend_on_loopback(server, tmp_path):
    """An ExternalName Service for 127.0.0.1 (Endpoints may not name loopback): the
    upgrade goes through after authentication, with the caller's identity only."""
    from websockets.sync.client import connect

    from tests.e2e.extension_backend import WS_GROUP, WebSocketBackend

    b = WebSocketBackend(tmp_path, server.data_dir / "pki" / "front-proxy-ca.crt",
                         "demo-ws.default.svc")
    _apply(server, {"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "demo-ws", "namespace": "default"},
                    "spec": {"type": "ExternalName", "externalName": "127.0.0.1",
                             "ports": [{"port": b.port}]}})
    _apply(server, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                    "metadata": {"name": f"v1.{WS_GROUP}"},
                    "spec": {"group": WS_GROUP, "version": "v1", "groupPriorityMinimum": 1000,
                             "versionPriority": 15,
                             "caBundle": base64.b64encode(b.ca.pem).decode(),
                             "service": {"namespace": "default", "name": "demo-ws",
                                         "port": b.port}}})
    try:
        cond = _wait(lambda: (c := _available(server, f"v1.{WS_GROUP}")) and
                     c["status"] == "True" and c)
        assert cond, _available(server, f"v1.{WS_GROUP}")
        ctx = server.ssl_context()
        url = f"wss://127.0.0.1:{server.port}/apis/{WS_GROUP}/v1/namespaces/default/streams/s1"
        with connect(url, ssl=ctx, additional_headers={"X-Remote-User": "mallory",
                                                      "X-Remote-Group": "system:masters"},
                     open_timeout=10) as ws:
            seen = json.loads(ws.recv(timeout=10))
            ws.send("ping")
            assert ws.recv(timeout=10) == "echo:ping"
        assert seen["path"] == f"/apis/{WS_GROUP}/v1/namespaces/default/streams/s1"
        assert seen["cn"] == "front-proxy-client"
        assert seen["user"] == ["kubernetes-admin"] and seen["authorization"] == []
        assert "system:masters" in seen["groups"] and "mallory" not in seen["user"]
    finally:
        server.kubectl("delete", "apiservice", f"v1.{WS_GROUP}", "--ignore-not-found")
        server.kubectl("delete", "service", "demo-ws", "--ignore-not-found")
        b.close()
