"""Hostile or malformed input over HTTPS (raw ``http.client`` with the admin client cert):
the server answers with a Kubernetes Status, quickly, and never with a 500."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import time

import pytest

MAX_BODY = 3 * 1024 * 1024       # kube-apiserver --max-request-body-bytes default


def assert_status(status, headers, data, code, reason=None) -> dict:
    assert status == code, f"expected {code}, got {status}: {data[:400]!r}"
    assert headers.get("content-type", "").startswith("application/json"), headers
    body = json.loads(data)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure" and body["code"] == code, body
    if reason:
        assert body["reason"] == reason, body
    return body


def send_big(server, path, total, chunked: bool, content_type="application/json"):
    """POST ``total`` bytes; the server may answer and close before the body is read."""
    conn = server.connection(timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Accept", "application/json")
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(total))
        conn.endheaders()
        prefix = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":"'
        suffix = b'"}}'
        filler = total - len(prefix) - len(suffix)
        pieces = [prefix] + [b"a" * 65536] * (filler // 65536) + [b"a" * (filler % 65536), suffix]
        assert sum(map(len, pieces)) == total
        try:
            for piece in pieces:
                if not piece:
                    continue
                if chunked:
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    conn.send(piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            pass          # the server stopped reading: its answer should be waiting
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_3mib_is_413(server, namespace, chunked):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    status, headers, data = send_big(server, path, MAX_BODY + 1, chunked)
    body = assert_status(status, headers, data, 413, "RequestEntityTooLarge")
    assert body["message"], body
    # nothing was stored
    status, _, _ = server.request("GET", f"{path}/big")
    assert status == 404


def test_body_just_under_limit_is_not_413(server, namespace):
    """A body below the limit is read and judged on its content (a 1 MiB+ value is too big for
    a ConfigMap: 422), proving the 413 above is about the byte count."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    status, headers, data = send_big(server, path, 2 * 1024 * 1024, chunked=False)
    assert status != 413, data[:300]
    body = assert_status(status, headers, data, 422, "Invalid")
    assert "1048576" in body["message"], body


def test_deeply_nested_json_is_400_quickly(server, namespace):
    depth = 5000
    nested = "[" * depth + "]" * depth
    raw = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":{"x":'
           + nested + '}}').encode()
    t0 = time.monotonic()
    status, headers, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", body=raw,
        headers={"Content-Type": "application/json"})
    elapsed = time.monotonic() - t0
    assert_status(status, headers, data, 400, "BadRequest")
    assert elapsed < 2.0, f"took {elapsed:.2f}s"

    # nested objects rather than arrays, in metadata.annotations
    nested = '{"a":' * depth + '"x"' + "}" * depth
    raw = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","annotations":'
           + nested + '}}').encode()
    t0 = time.monotonic()
    status, headers, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", body=raw,
        headers={"Content-Type": "application/json"})
    assert_status(status, headers, data, 400, "BadRequest")
    assert time.monotonic() - t0 < 2.0


def test_deeply_nested_merge_patch_is_400(server, namespace):
    server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                   body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}})
    depth = 5000
    raw = ('{"data":' + '{"a":' * depth + '"x"' + "}" * depth + "}").encode()
    status, headers, data = server.request(
        "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/p", body=raw,
        headers={"Content-Type": "application/merge-patch+json"})
    assert 400 <= status < 500, (status, data[:300])
    assert_status(status, headers, data, status)


BILLION_LAUGHS = b"""apiVersion: v1
kind: ConfigMap
metadata:
  name: lol
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
data: {x: *i}
"""


def test_yaml_billion_laughs_is_rejected_quickly(server, namespace):
    t0 = time.monotonic()
    status, headers, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", body=BILLION_LAUGHS,
        headers={"Content-Type": "application/yaml"}, timeout=10)
    elapsed = time.monotonic() - t0
    assert 400 <= status < 500, (status, data[:300])
    assert_status(status, headers, data, status)
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    status, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/lol")
    assert status == 404


def test_yaml_body_is_accepted(server, namespace):
    """Control for the test above: ordinary YAML creates the object."""
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  k: v\n"
    status, _, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", body=body,
        headers={"Content-Type": "application/yaml"})
    assert status == 201, data[:300]
    assert json.loads(data)["data"] == {"k": "v"}


# --- authentication ---------------------------------------------------------------------------

def test_no_client_cert_is_anonymous_and_forbidden(server):
    # anonymous (system:unauthenticated) passes authentication; `up`'s RBAC grants it only
    # the public-info paths, as upstream's bootstrap policy
    status, headers, data = server.request("GET", "/api/v1/namespaces", client_cert=False)
    body = assert_status(status, headers, data, 403, "Forbidden")
    assert body["message"] == ('namespaces is forbidden: User "system:anonymous" cannot list '
                               'resource "namespaces" in API group "" at the cluster scope')


def test_bad_bearer_token_is_401(server):
    status, headers, data = server.request("GET", "/api/v1/namespaces", client_cert=False,
                                           headers={"Authorization": "Bearer not-a-token"})
    assert_status(status, headers, data, 401, "Unauthorized")


def test_version_and_health_need_no_cert(server):
    status, _, data = server.request("GET", "/version", client_cert=False)
    assert status == 200
    v = json.loads(data)
    assert v["major"] == "1" and v["minor"] == "32"
    for path in ("/healthz", "/livez", "/readyz"):
        status, _, data = server.request("GET", path, client_cert=False)
        assert status == 200 and data == b"ok", (path, status, data)


# --- paths ------------------------------------------------------------------------------------

def test_unknown_group_is_404_status(server):
    status, headers, data = server.request("GET", "/apis/nope/v1/things")
    body = assert_status(status, headers, data, 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"


def test_unknown_core_resource_is_404_status(server):
    status, headers, data = server.request("GET", "/api/v1/namespaces/default/nothings")
    assert_status(status, headers, data, 404, "NotFound")


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/../configmaps",
    "/api/v1/namespaces/%2E%2E/configmaps",
    "/api/v1/namespaces/default/configmaps/..",
    "/api/v1/namespaces/default/configmaps/%2e%2e",
    "/api/v1/namespaces/../../version",
    "/api/v1/namespaces/default/configmaps/a%2Fb",
    "/api/v1/namespaces/default/configmaps/%00",
])
def test_dot_dot_and_odd_paths_are_client_errors(server, path):
    status, headers, data = server.request("GET", path)
    assert status in (400, 404), (path, status, data[:300])
    if headers.get("content-type", "").startswith("application/json"):
        assert json.loads(data)["kind"] == "Status"


def test_create_with_dot_dot_name_is_invalid(server, namespace):
    status, headers, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ".."}})
    body = assert_status(status, headers, data, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


# --- continue tokens -------------------------------------------------------------------------

@pytest.fixture
def three_configmaps(server, namespace):
    for n in ("t1", "t2", "t3"):
        status, _, data = server.request(
            "POST", f"/api/v1/namespaces/{namespace}/configmaps",
            body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}})
        assert status == 201, data
    return namespace


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_tampered_continue_token_is_400(server, three_configmaps):
    ns = three_configmaps
    base = f"/api/v1/namespaces/{ns}/configmaps"
    first = server.get_json(f"{base}?limit=1")
    token = first["metadata"]["continue"]
    assert token

    good = server.get_json(f"{base}?limit=1&continue={token}")
    assert [i["metadata"]["name"] for i in good["items"]] == ["t2"]

    for bad in ("garbage!!", _b64(b"not json"), _b64(b'{"v":"meta.k8s.io/v1"}'),
                token[:-3], token[:5] + ("A" if token[5] != "A" else "B") + token[6:],
                _b64(b'{"v":"meta.k8s.io/v0","rv":1,"start":"x"}')):
        status, headers, data = server.request("GET", f"{base}?limit=1&continue={bad}")
        assert_status(status, headers, data, 400, "BadRequest")


def test_continue_token_cannot_escape_its_namespace(server, three_configmaps):
    """A token edited to point at another namespace must not list that namespace's objects."""
    ns = three_configmaps
    leak = f"e2e-leak-{ns}"
    status, _, data = server.request(
        "POST", "/api/v1/namespaces/default/configmaps",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": leak}})
    assert status == 201, data
    try:
        base = f"/api/v1/namespaces/{ns}/configmaps"
        token = server.get_json(f"{base}?limit=1")["metadata"]["continue"]
        try:
            decoded = json.loads(_unb64(token))
        except ValueError:
            pytest.fail(f"continue token is not base64 JSON, cannot tamper structurally: {token}")
        text = json.dumps(decoded)
        assert ns in text, decoded
        for forged in (text.replace(ns, "default").replace('"t1"', '""'),
                       text.replace(ns, "a")):
            status, _, data = server.request("GET", f"{base}?limit=500&continue={_b64(forged.encode())}")
            if status == 200:
                items = json.loads(data)["items"]
                assert all(i["metadata"]["namespace"] == ns for i in items), \
                    [i["metadata"]["namespace"] + "/" + i["metadata"]["name"] for i in items]
            else:
                assert status == 400, (status, data[:300])

        # a token from one collection is not honoured for another resource
        status, _, data = server.request("GET", f"/api/v1/namespaces?limit=500&continue={token}")
        if status == 200:
            assert all(i["kind"] == "Namespace" for i in json.loads(data)["items"])
        else:
            assert status == 400, (status, data[:300])
    finally:
        server.request("DELETE", f"/api/v1/namespaces/default/configmaps/{leak}")


def test_invalid_label_selector_is_400(server, namespace):
    status, headers, data = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps?labelSelector=app%20in%20x")
    assert_status(status, headers, data, 400, "BadRequest")


def test_invalid_limit_and_bools_are_handled(server, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, data = server.request("GET", f"{base}?limit=abc")
    assert status == 400, (status, data[:300])
    for q in ("watch=False", "watch=0", "watch=false", "allowWatchBookmarks=True"):
        status, _, data = server.request("GET", f"{base}?{q}&limit=1")
        assert status == 200, (q, status, data[:300])
        assert json.loads(data)["kind"] == "ConfigMapList"
