"""``up --nodes 2`` runs the metrics server behind the aggregator: ``kubectl top`` prints
the simulated kubelets' usage; the kubelet API and the metrics server authenticate and
authorize every caller, and a caller's own X-Remote-* headers count for nothing."""
from __future__ import annotations

import http.client
import json
import ssl
import uuid

import pytest

from apiserver.pki import PKI
from controller_support import wait_for
from watch_support import ServerGroup


@pytest.fixture(scope="module")
def cluster():
    group = ServerGroup()
    try:
        yield group.start("--nodes", "2", "--metrics-server-arg=--metric-resolution=1s",
                          "--kubelet-arg=--node-status-update-frequency=2")
    finally:
        group.stop()


def _tls(cluster, name=None, cn=None, orgs=()):
    ctx = ssl.create_default_context(cafile=str(cluster.ca))
    if name:
        cert, key = PKI(cluster.data_dir).ensure_client(name, cn, orgs)
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _get(host, port, path, ctx, headers=None, server_name=None):
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    if server_name:                       # verify the certificate for this name instead
        conn = http.client.HTTPSConnection(server_name, port, timeout=10, context=ctx)
        conn._create_connection = lambda addr, *a, **k: __import__("socket").create_connection(
            (host, addr[1]), *a, **k)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def kubelet_port(cluster, node):
    obj = cluster.get_json(f"/api/v1/nodes/{node}")
    return obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]


@pytest.fixture(scope="module")
def busy_pod(cluster):
    ns = f"top-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("run", "busy", "-n", ns, "--image=nginx",
                    "--annotations=sim.kubelet/cpu-usage=250m",
                    "--annotations=sim.kubelet/memory-usage=64Mi")
    cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod/busy", "--timeout=40s")
    return ns


def test_kubectl_top_prints_nodes_and_pods(cluster, busy_pod):
    def top_pods():
        cp = cluster.kubectl("top", "pods", "-n", busy_pod, check=False)
        return cp.stdout if cp.returncode == 0 and "busy" in cp.stdout else None
    out = wait_for(top_pods, 40, "kubectl top pods", 0.5)
    header, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert row == ["busy", "250m", "64Mi"]
    nodes = cluster.kubectl("top", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert sorted(line.split()[0] for line in nodes[1:]) == ["node-1", "node-2"]
    node = cluster.get_json(f"/api/v1/namespaces/{busy_pod}/pods/busy")["spec"]["nodeName"]
    metrics = cluster.get_json(f"/apis/metrics.k8s.io/v1beta1/nodes/{node}")
    # the node's own overhead (50m) plus at least the busy pod's 250m
    assert metrics["kind"] == "NodeMetrics" and metrics["usage"]["cpu"].endswith(("n", "m"))
    cores = cluster.kubectl("top", "node", node).stdout.splitlines()[1].split()[1]
    assert int(cores.rstrip("m")) >= 300
    missing = cluster.kubectl("top", "pod", "nope", "-n", busy_pod, check=False)
    assert missing.returncode != 0
    assert f'podmetrics.metrics.k8s.io "{busy_pod}/nope" not found' in missing.stderr
    listed = cluster.get_json("/apis/metrics.k8s.io/v1beta1/pods?labelSelector=run%3Dbusy")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["busy"]
    assert listed["items"][0]["containers"][0]["usage"] == {"cpu": "250m", "memory": "64Mi"}


def test_patched_usage_shows_at_the_next_scrape(cluster, busy_pod):
    cluster.kubectl("annotate", "pod", "busy", "-n", busy_pod, "--overwrite",
                    "sim.kubelet/memory-usage=128Mi")

    def memory():
        obj = cluster.get_json(f"/apis/metrics.k8s.io/v1beta1/namespaces/{busy_pod}/pods/busy")
        return obj["containers"][0]["usage"]["memory"] == "128Mi"
    wait_for(memory, 20, "the new working set", 0.5)


def test_metrics_need_rbac(cluster, busy_pod):
    """The aggregator authorizes before it proxies; RBAC says who may read metrics."""
    status, _, body = cluster.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/"
                                      f"{busy_pod}/pods", client_cert=False)
    assert status == 403 and b'User \\"system:anonymous\\" cannot list' in body
    ctx = _tls(cluster, "jane-top", "jane")
    status, _, body = _get("127.0.0.1", cluster.port,
                           f"/apis/metrics.k8s.io/v1beta1/namespaces/{busy_pod}/pods", ctx)
    assert status == 403
    assert json.loads(body)["message"] == (
        f'pods.metrics.k8s.io is forbidden: User "jane" cannot list resource "pods" in API '
        f'group "metrics.k8s.io" in the namespace "{busy_pod}"')


def test_the_metrics_server_trusts_no_headers_but_the_front_proxys(cluster, busy_pod):
    """Called directly with a client certificate of the cluster CA, the certificate's name
    is the user: spoofed X-Remote-User/Group headers are ignored."""
    svc = cluster.get_json("/api/v1/namespaces/kube-system/services/metrics-server")
    port = svc["spec"]["ports"][0]["port"]
    ctx = _tls(cluster, "jane-top", "jane")
    spoof = {"X-Remote-User": "admin", "X-Remote-Group": "system:masters"}
    status, _, body = _get("127.0.0.1", port, "/apis/metrics.k8s.io/v1beta1/nodes", ctx,
                           spoof, server_name="metrics-server.kube-system.svc")
    assert status == 403, body
    assert 'User "jane" cannot list resource "nodes"' in json.loads(body)["message"]
    status, _, _ = _get("127.0.0.1", port, "/apis/metrics.k8s.io/v1beta1/nodes", _tls(cluster),
                        spoof, server_name="metrics-server.kube-system.svc")
    assert status == 401


def test_the_kubelet_api_authenticates_and_authorizes(cluster, busy_pod):
    port = kubelet_port(cluster, "node-1")
    assert port and port != 10250             # a free port, reported in daemonEndpoints
    status, _, body = _get("127.0.0.1", port, "/stats/summary", _tls(cluster))
    assert (status, body) == (401, b"Unauthorized")
    other = _tls(cluster, "kubelet-node-2", "system:node:node-2", ["system:nodes"])
    status, _, body = _get("127.0.0.1", port, "/metrics/resource", other)
    assert status == 403
    assert body == (b"Forbidden (user=system:node:node-2, verb=get, resource=nodes, "
                    b"subresource=metrics)")
    admin = ssl.create_default_context(cafile=str(cluster.ca))
    admin.load_cert_chain(str(cluster.admin_cert), str(cluster.admin_key))
    status, ctype, body = _get("127.0.0.1", port, "/metrics/resource", admin)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert b"node_cpu_usage_seconds_total " in body
    status, _, body = _get("127.0.0.1", port, "/pods", admin)
    assert status == 200 and json.loads(body)["kind"] == "PodList"
