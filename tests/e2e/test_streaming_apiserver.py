"""The API server's side of pods/log, exec, attach, portforward and nodes/proxy, against a
TLS backend standing where a kubelet listens (``streaming_backend``): what reaches the
kubelet (path, kubelet query names, the API server's client certificate, no caller
credentials), the upgrade passed through byte for byte, and every refusal (RBAC, CONNECT
admission, no upgrade, no host, bad container, server-side request forgery) as a Status
that kubectl prints."""
from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import tempfile

import pytest

from streaming_backend import Backend
from tests.certs import CA


def _node(server, name, port, address="127.0.0.1"):
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": address},
                                     {"type": "Hostname", "address": name}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}
    status, _, data = server.request("POST", "/api/v1/nodes", body=body)
    assert status == 201, data


def _pod(server, ns, name, node, containers=("a",)):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers],
                     **({"nodeName": node} if node else {})}}
    status, _, data = server.request("POST", f"/api/v1/namespaces/{ns}/pods", body=body)
    assert status == 201, data


@pytest.fixture(scope="module")
def kubelet(server):
    """A backend with a serving certificate of the server's CA for its node, and its Node."""
    node = f"stream-{uuid.uuid4().hex[:6]}"
    backend = Backend(CA.from_pki(server.data_dir / "pki"), node,
                      client_ca=server.data_dir / "pki" / "ca.crt")
    _node(server, node, backend.port)
    backend.node = node
    yield backend
    backend.close()
    server.request("DELETE", f"/api/v1/nodes/{node}")


def _last(backend, prefix):
    return next(r for r in reversed(backend.requests) if r["path"].startswith(prefix))


# ---- pods/log ---------------------------------------------------------------------------

def test_logs_reach_the_kubelet_with_its_query_names(server, kubectl, namespace, kubelet):
    _pod(server, namespace, "p", kubelet.node)
    out = kubectl("logs", "p", "-n", namespace).stdout
    assert out == "line 1\nline 2\nline 3\n"
    seen = _last(kubelet, "/containerLogs/")
    assert seen["path"] == f"/containerLogs/{namespace}/p/a"
    assert seen["client_cn"] == "kube-apiserver-kubelet-client"
    assert "authorization" not in seen["headers"]
    out = kubectl("logs", "p", "-n", namespace, "--tail=2", "--timestamps", "--since=10s",
                  "--limit-bytes=100").stdout
    assert out == "line 1\nline 2\n"
    assert _last(kubelet, "/containerLogs/")["raw_query"] == \
        "limitBytes=100&sinceSeconds=10&tailLines=2&timestamps=true"


def test_logs_follow_streams_as_the_kubelet_writes(server, namespace, kubelet):
    _pod(server, namespace, "f", kubelet.node)
    conn = server.connection(timeout=10)
    conn.request("GET", f"/api/v1/namespaces/{namespace}/pods/f/log?follow=true")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("content-type").startswith("text/plain")
    started = time.monotonic()
    first = resp.readline()
    first_at = time.monotonic() - started
    rest = resp.read()
    total = time.monotonic() - started
    conn.close()
    assert first == b"line 1\n"
    assert rest.count(b"\n") == 9
    assert first_at < total - 1.0, (first_at, total)     # not buffered until the end
    assert _last(kubelet, "/containerLogs/")["raw_query"] == "follow=true"


def test_logs_follow_with_kubectl(server, kubectl, namespace, kubelet):
    _pod(server, namespace, "k", kubelet.node)
    out = kubectl("logs", "-f", "k", "-n", namespace, timeout=30).stdout
    assert out.splitlines() == [f"line {i}" for i in range(1, 11)]


def test_log_refusals(server, kubectl, namespace, kubelet):
    _pod(server, namespace, "two", kubelet.node, containers=("a", "b"))
    _pod(server, namespace, "pending", None)
    _pod(server, namespace, "gone", kubelet.node, containers=("refuse",))
    status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/two/log")
    assert status == 400
    assert json.loads(body)["message"] == \
        "a container name must be specified for pod two, choose one of: [a b]"
    cp = kubectl("logs", "two", "-c", "nope", "-n", namespace, check=False)
    assert cp.returncode != 0
    assert "container nope is not valid for pod two" in cp.stderr
    status, _, body = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods/two/log?container=a&tailLines=-1")
    assert status == 422
    assert json.loads(body)["message"] == ('PodLogOptions "two" is invalid: tailLines: '
                                           'Invalid value: -1: must be greater than or equal to 0')
    # no node yet: an empty log, as upstream
    status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/pending/log")
    assert (status, body) == (200, b"")
    # the kubelet's 404 becomes a NotFound Status carrying its text
    status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/gone/log")
    st = json.loads(body)
    assert status == 404 and st["reason"] == "NotFound"
    assert st["details"]["causes"][0]["message"] == 'container not found ("nope")'
    status, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/nothere/log")
    assert status == 404


def test_logs_never_forward_the_callers_credentials(server, kubectl, namespace, kubelet):
    _pod(server, namespace, "t", kubelet.node)
    kubectl("create", "serviceaccount", "reader", "-n", namespace)
    kubectl("create", "role", "logs", "--verb=get", "--resource=pods,pods/log", "-n", namespace)
    kubectl("create", "rolebinding", "logs", "--role=logs",
            f"--serviceaccount={namespace}:reader", "-n", namespace)
    token = kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    deadline = time.monotonic() + 10          # the authorizer follows RBAC by watching
    while kubectl("auth", "can-i", "get", "pods/log", "-n", namespace, "--as",
                  f"system:serviceaccount:{namespace}:reader", check=False).stdout.strip() != "yes":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, _, body = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods/t/log", client_cert=False,
        headers={"Authorization": f"Bearer {token}", "Impersonate-User": "someone",
                 "X-Remote-User": "system:admin", "Cookie": "c=1"})
    # impersonation is not granted to the service account: refused before any proxying
    assert status == 403, body
    count = len(kubelet.requests)
    status, _, body = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods/t/log", client_cert=False,
        headers={"Authorization": f"Bearer {token}", "X-Remote-User": "system:admin",
                 "X-Remote-Group": "system:masters", "Cookie": "c=1"})
    assert (status, body) == (200, b"line 1\nline 2\nline 3\n")
    assert len(kubelet.requests) == count + 1
    seen = kubelet.requests[-1]["headers"]
    assert not {"authorization", "x-remote-user", "x-remote-group", "cookie",
                "impersonate-user"} & set(seen)
    assert kubelet.requests[-1]["client_cn"] == "kube-apiserver-kubelet-client"


# ---- exec, attach, portforward: refusals ------------------------------------------------

def test_exec_without_rbac_is_a_forbidden_status_kubectl_prints(server, kubectl, namespace,
                                                               kubelet):
    _pod(server, namespace, "p", kubelet.node)
    user = f"jane-{namespace}"
    kubectl("create", "role", "read", "--verb=get", "--resource=pods", "-n", namespace)
    kubectl("create", "rolebinding", "read", "--role=read", f"--user={user}", "-n", namespace)
    deadline = time.monotonic() + 10          # the authorizer follows RBAC by watching
    while kubectl("auth", "can-i", "get", "pods", "-n", namespace, "--as", user,
                  check=False).stdout.strip() != "yes":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    before = len(kubelet.requests)
    cp = kubectl("--as", user, "exec", "p", "-n", namespace, "--", "ls", check=False)
    assert cp.returncode != 0
    # the websocket GET is refused (get pods/exec), kubectl retries as SPDY POST and prints
    # that refusal (create pods/exec)
    assert (f'Error from server (Forbidden): pods "p" is forbidden: User "{user}" cannot '
            f'create resource "pods/exec" in API group "" in the namespace "{namespace}"'
            in cp.stderr), cp.stderr
    cp = kubectl("--as", user, "attach", "p", "-n", namespace, check=False)
    assert 'cannot create resource "pods/attach"' in cp.stderr, cp.stderr
    assert len(kubelet.requests) == before
    assert kubectl("auth", "can-i", "create", "pods/exec", "-n", namespace, "--as", user,
                   check=False).stdout.strip() == "no"


def test_exec_refusals_before_the_kubelet(server, kubectl, namespace, kubelet):
    _pod(server, namespace, "p", kubelet.node)
    _pod(server, namespace, "two", kubelet.node, containers=("a", "b"))
    _pod(server, namespace, "pending", None)
    before = len(kubelet.requests)
    base = f"/api/v1/namespaces/{namespace}/pods"
    status, _, body = server.request("POST", f"{base}/p/exec?command=ls&stdout=true")
    assert status == 400 and json.loads(body)["message"] == "Upgrade request required"
    status, _, body = server.request("GET", f"{base}/p/portforward?ports=80")
    assert status == 400 and json.loads(body)["message"] == "Upgrade request required"
    status, _, body = server.request("POST", f"{base}/two/exec?command=ls&stdout=true")
    assert status == 400 and json.loads(body)["message"] == \
        "a container name must be specified for pod two, choose one of: [a b]"
    status, _, body = server.request("POST", f"{base}/p/exec?command=ls&container=y")
    assert status == 400 and json.loads(body)["message"] == "container y is not valid for pod p"
    cp = kubectl("exec", "pending", "-n", namespace, "--", "ls", check=False)
    assert "Error from server (BadRequest): pod pending does not have a host assigned" \
        in cp.stderr, cp.stderr
    status, _, body = server.request("PUT", f"{base}/p/exec?command=ls")
    assert status == 405
    status, _, body = server.request("POST", f"{base}/p/exec?command=ls&dryRun=All")
    assert status == 400 and json.loads(body)["message"] == "dryRun is not supported"
    assert len(kubelet.requests) == before


class _ConnectHook(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(review)
        req = review["request"]
        resp = {"uid": req["uid"], "allowed": False,
                "status": {"code": 403, "message": "no exec here"}}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def connect_hook():
    ca = CA("hook-ca")
    d = Path(tempfile.mkdtemp())
    crt, key = ca.write_pair(d, "serving", "hook", client=False, hosts=("127.0.0.1",))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ConnectHook)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], base64.b64encode(ca.pem).decode()
    httpd.shutdown()


def test_a_validating_webhook_refuses_exec_on_connect(server, kubectl, namespace, kubelet,
                                                      connect_hook):
    port, ca = connect_hook
    _pod(server, namespace, "p", kubelet.node)
    name = f"no-exec.{namespace}.example.com"
    config = {"apiVersion": "admissionregistration.k8s.io/v1",
              "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
              "webhooks": [{"name": name, "clientConfig": {"url": f"https://127.0.0.1:{port}/",
                                                           "caBundle": ca},
                            "rules": [{"operations": ["CONNECT"], "apiGroups": [""],
                                       "apiVersions": ["v1"], "resources": ["pods/exec"]}],
                            "namespaceSelector": {"matchLabels": {
                                "kubernetes.io/metadata.name": namespace}},
                            "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}
    kubectl("apply", "-f", "-", input=json.dumps(config))
    try:
        before = len(kubelet.requests)
        cp = kubectl("exec", "p", "-n", namespace, "--", "sh", "-c", "echo hi", check=False)
        assert cp.returncode != 0
        assert f'admission webhook "{name}" denied the request: no exec here' in cp.stderr, \
            cp.stderr
        assert len(kubelet.requests) == before
        req = _ConnectHook.seen[-1]["request"]
        assert req["operation"] == "CONNECT" and req["subResource"] == "exec"
        assert req["kind"] == {"group": "", "version": "v1", "kind": "PodExecOptions"}
        assert req["resource"] == {"group": "", "version": "v1", "resource": "pods"}
        assert req["name"] == "p" and req["namespace"] == namespace
        assert req["object"]["kind"] == "PodExecOptions"
        assert req["object"]["command"] == ["sh", "-c", "echo hi"]
        assert req["object"]["stdout"] is True
        # attach is not matched by the rule: it reaches the kubelet (logs still do too)
        assert kubectl("logs", "p", "-n", namespace).stdout.startswith("line 1")
    finally:
        kubectl("delete", "validatingwebhookconfiguration", name, check=False)


# ---- upgrades, byte for byte --------------------------------------------------------------

def _raw(server):
    sock = socket.create_connection((server.host, server.port), timeout=10)
    return server.ssl_context().wrap_socket(sock, server_hostname=server.host)


def _read_head(sock) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _read_until(sock, data: bytes, wanted: bytes) -> bytes:
    while wanted not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_websocket_exec_passes_the_kubelets_101_and_bytes_through(server, namespace, kubelet):
    _pod(server, namespace, "p", kubelet.node)
    key = base64.b64encode(os.urandom(16)).decode()
    sock = _raw(server)
    sock.sendall((f"GET /api/v1/namespaces/{namespace}/pods/p/exec?command=sh&command=-c"
                  f"&command=echo%20hi&stdin=true&stdout=true&tty=true HTTP/1.1\r\n"
                  f"Host: {server.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n\r\n")
                 .encode())
    head, rest = _read_head(sock)
    import hashlib
    accept = base64.b64encode(hashlib.sha1(
        key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65").digest()).decode()
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols"), head
    assert f"Sec-WebSocket-Accept: {accept}".encode() in head
    assert b"Sec-WebSocket-Protocol: v5.channel.k8s.io" in head
    rest = _read_until(sock, rest, b"hello:")
    assert rest == b"hello:"
    sock.sendall(b"\x82\x84abcd-raw-bytes")
    echoed = _read_until(sock, b"", b"-raw-bytes")
    assert echoed == b"\x82\x84abcd-raw-bytes"
    sock.close()
    seen = _last(kubelet, "/exec/")
    assert seen["path"] == f"/exec/{namespace}/p/a"
    assert seen["raw_query"] == "command=sh&command=-c&command=echo+hi&input=1&output=1&tty=1"
    assert seen["method"] == "GET"
    assert seen["headers"]["upgrade"] == ["websocket"]
    assert seen["headers"]["sec-websocket-key"] == [key]
    assert seen["client_cn"] == "kube-apiserver-kubelet-client"


def test_spdy_portforward_passes_through(server, namespace, kubelet):
    _pod(server, namespace, "p", kubelet.node)
    sock = _raw(server)
    sock.sendall((f"POST /api/v1/namespaces/{namespace}/pods/p/portforward?ports=80,443 "
                  f"HTTP/1.1\r\nHost: {server.host}\r\nConnection: Upgrade\r\n"
                  f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n"
                  f"Content-Length: 0\r\n\r\n").encode())
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"X-Stream-Protocol-Version: portforward.k8s.io" in head
    rest = _read_until(sock, rest, b"hello:")
    sock.sendall(b"\x80\x03\x00\x01spdy-frames")
    assert _read_until(sock, b"", b"spdy-frames") == b"\x80\x03\x00\x01spdy-frames"
    sock.close()
    seen = _last(kubelet, "/portForward/")
    assert seen["path"] == f"/portForward/{namespace}/p"
    assert seen["raw_query"] == "port=80%2C443" and seen["method"] == "POST"


def test_a_refused_upgrade_closes_the_connection(server, namespace, kubelet):
    """CVE-2018-1002105: after the kubelet refuses an upgrade, nothing more the client
    sends reaches the kubelet as the API server."""
    _pod(server, namespace, "r", kubelet.node, containers=("refuse",))
    before = len(kubelet.requests)
    sock = _raw(server)
    sock.sendall((f"POST /api/v1/namespaces/{namespace}/pods/r/exec?command=ls&stdout=true "
                  f"HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                  f"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
                  f"GET /exec/{namespace}/r/refuse?command=id HTTP/1.1\r\nHost: x\r\n\r\n")
                 .encode())
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 404"), head
    while sock.recv(65536):
        pass
    sock.close()
    time.sleep(0.3)
    assert len(kubelet.requests) == before + 1


# ---- server-side request forgery ----------------------------------------------------------

def test_no_request_reaches_an_address_that_is_not_a_kubelet(server, kubectl, namespace):
    # a listener with a certificate of another CA, and one of our CA naming another node
    stranger = Backend(CA("not-the-cluster"), "n-stranger")
    impostor = Backend(CA.from_pki(server.data_dir / "pki"), "some-other-node")
    suffix = uuid.uuid4().hex[:6]
    cases = {f"meta-{suffix}": (server.port, "169.254.169.254"),
             f"zero-{suffix}": (10250, "0.0.0.0"),
             f"self-{suffix}": (server.port, "127.0.0.1"),
             f"self2-{suffix}": (server.port, "127.0.0.2"),     # any local address
             f"stranger-{suffix}": (stranger.port, "127.0.0.1"),
             f"impostor-{suffix}": (impostor.port, "127.0.0.1")}
    try:
        for node, (port, address) in cases.items():
            _node(server, node, port, address)
            _pod(server, namespace, node, node)
        for node in cases:
            status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/"
                                             f"{node}/log")
            st = json.loads(body)
            assert status in (400, 500) and st["status"] == "Failure", (node, st)
            if node.startswith(("meta", "zero", "self")):        # self2 too
                assert (status, st["message"]) == (400, "address not allowed"), st
            else:
                assert "error dialing backend" in st["message"], st
            status, _, body = server.request("GET", f"/api/v1/nodes/{node}/proxy/healthz")
            assert status in (400, 500), body
        assert stranger.requests == [] and impostor.requests == []
        # insecureSkipTLSVerifyBackend (kubectl logs --insecure-skip-tls-verify-backend)
        # skips the kubelet certificate check, as upstream; never the address checks
        status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/"
                                         f"stranger-{suffix}/log?insecureSkipTLSVerifyBackend=true")
        assert (status, body) == (200, b"line 1\nline 2\nline 3\n")
        assert [r["path"] for r in stranger.requests] == \
            [f"/containerLogs/{namespace}/stranger-{suffix}/a"]
        for node in (f"self-{suffix}", f"meta-{suffix}"):
            status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/"
                                             f"{node}/log?insecureSkipTLSVerifyBackend=true")
            assert status == 400 and json.loads(body)["message"] == "address not allowed"
        cp = kubectl("logs", f"meta-{suffix}", "-n", namespace, check=False)
        assert "address not allowed" in cp.stderr, cp.stderr
    finally:
        for node in cases:
            server.request("DELETE", f"/api/v1/nodes/{node}")
        stranger.close()
        impostor.close()


def test_nodes_proxy_reaches_the_kubelet_only(server, kubectl, kubelet):
    out = kubectl("get", "--raw", f"/api/v1/nodes/{kubelet.node}/proxy/healthz?x=1").stdout
    assert out == "GET /healthz?x=1"
    seen = kubelet.requests[-1]
    assert seen["client_cn"] == "kube-apiserver-kubelet-client"
    assert "authorization" not in seen["headers"]
    status, _, body = server.request("GET", f"/api/v1/nodes/{kubelet.node}:{kubelet.port}/"
                                     f"proxy/configz")
    assert status == 200 and body == b"GET /configz?"
    for other in (f"{kubelet.node}:22", f"http:{kubelet.node}:{kubelet.port}"):
        status, _, body = server.request("GET", f"/api/v1/nodes/{other}/proxy/")
        assert status == 400, body
        assert "only the kubelet endpoint" in json.loads(body)["message"]
    status, _, body = server.request("GET", "/api/v1/nodes/no-such-node/proxy/")
    assert status == 404
    # a decoded %0D%0A never ends the request line towards the kubelet
    before = len(kubelet.requests)
    status, _, body = server.request(
        "GET", f"/api/v1/nodes/{kubelet.node}/proxy/healthz%20HTTP/1.1%0D%0AX-Evil:%201"
               "%0D%0A%0D%0AGET%20/exec/x")
    assert status == 200, body
    assert len(kubelet.requests) == before + 1
    assert kubelet.requests[-1]["path"] == \
        "/healthz%20HTTP/1.1%0D%0AX-Evil:%201%0D%0A%0D%0AGET%20/exec/x"
    assert "x-evil" not in kubelet.requests[-1]["headers"]


def test_pods_proxy_goes_to_the_pod_ip_only(server, namespace, kubelet):
    _pod(server, namespace, "web", kubelet.node)
    base = f"/api/v1/namespaces/{namespace}/pods"
    status, _, body = server.request("GET", f"{base}/web/proxy/")
    assert status == 503, body                     # no pod IP yet
    pod = server.get_json(f"{base}/web")
    pod["status"] = {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}
    status, _, body = server.request("PUT", f"{base}/web/status", body=pod)
    assert status == 200, body
    status, _, body = server.request("GET", f"{base}/web:{server.port}/proxy/api")
    assert status == 400 and json.loads(body)["message"] == "address not allowed"

    # a pod IP of its node's podCIDR has no pod network behind it here: never dialled
    node = f"cidr-{uuid.uuid4().hex[:6]}"
    status, _, body = server.request("POST", "/api/v1/nodes", body={
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
        "spec": {"podCIDR": "10.244.77.0/24", "podCIDRs": ["10.244.77.0/24"]}})
    assert status == 201, body
    try:
        _pod(server, namespace, "sim", node)
        pod = server.get_json(f"{base}/sim")
        pod["status"] = {"podIP": "10.244.77.5", "podIPs": [{"ip": "10.244.77.5"}]}
        assert server.request("PUT", f"{base}/sim/status", body=pod)[0] == 200
        status, _, body = server.request("GET", f"{base}/sim:8080/proxy/")
        assert status == 503, body
        assert json.loads(body)["message"] == (
            f"error trying to reach service: pod IP 10.244.77.5 is not routed: node {node} "
            "has no pod network behind its podCIDR 10.244.77.0/24")
        # nor through a service's endpoints
        svc = f"/api/v1/namespaces/{namespace}"
        assert server.request("POST", f"{svc}/services", body={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "sim"},
            "spec": {"ports": [{"port": 80}]}})[0] == 201
        assert server.request("POST", f"{svc}/endpoints", body={
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "sim"},
            "subsets": [{"addresses": [{"ip": "10.244.77.5", "nodeName": node}],
                         "ports": [{"port": 80}]}]})[0] == 201
        status, _, body = server.request("GET", f"{svc}/services/sim/proxy/")
        assert status == 503 and json.loads(body)["message"] == \
            'no endpoints available for service "sim"'
    finally:
        server.request("DELETE", f"/api/v1/nodes/{node}")


def test_services_proxy_goes_to_endpoints_only(server, namespace):
    base = f"/api/v1/namespaces/{namespace}"
    status, _, body = server.request("POST", f"{base}/services", body={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
        "spec": {"ports": [{"name": "http", "port": 80}]}})
    assert status == 201, body
    status, _, body = server.request("GET", f"{base}/services/svc/proxy/")
    assert status == 503 and json.loads(body)["message"] == \
        'no endpoints available for service "svc"'
    status, _, body = server.request("GET", f"{base}/services/svc:nope/proxy/")
    assert status == 503 and json.loads(body)["message"] == \
        'no service port "nope" found for service "svc"'
    # an endpoint nothing answers on: the dial error, as a 503
    status, _, body = server.request("POST", f"{base}/endpoints", body={
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "svc"},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}],
                     "ports": [{"name": "http", "port": 9}]}]})
    assert status == 201, body
    status, _, body = server.request("GET", f"{base}/services/svc/proxy/api")
    assert status == 503, body
    assert json.loads(body)["message"].startswith(
        "error trying to reach service: dial tcp 192.0.2.1:9: "), body
