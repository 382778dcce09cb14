"""``up --nodes 2`` runs the metrics server behind the aggregator: ``kubectl top`` prints
the simulated kubelets' usage; the kubelet API and the metrics server authenticate and
authorize every caller, and a caller's own X-Remote-* headers count for nothing."""
from __future__ import annotations

import http.client
import json
import re
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
                          "--kubelet-arg=--node-status-update-frequency=2",
                          "--kube-controller-manager-arg=--horizontal-pod-autoscaler-sync-period=1s")
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
    # no such pod: the pod lister's NotFound, as upstream metrics-server answers
    assert 'pods "nope" not found' in missing.stderr
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


WORKER = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: 1
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: app
        image: nginx
        resources:
          requests: {cpu: 100m}
"""


def test_the_hpa_scales_a_deployment_on_cpu(cluster):
    """The horizontalpodautoscaling controller reads metrics.k8s.io: idle pods (a tenth of
    their request) keep one replica; at 200m of a 100m request it scales to --max at once
    (without behavior, max(2 x current, 4) per step, upstream's scale-up limit)."""
    ns = f"hpa-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=WORKER)
    cluster.kubectl("autoscale", "deploy", "worker", "-n", ns, "--cpu-percent=50", "--min=1",
                    "--max=4")

    def targets():
        row = cluster.kubectl("get", "hpa", "worker", "-n", ns, "--no-headers").stdout.split()
        # NAME REFERENCE TARGETS(2 words) MINPODS MAXPODS REPLICAS AGE
        return row if len(row) == 8 and row[3] != "<unknown>/50%" else None
    row = wait_for(targets, 25, "a measured utilization", 0.5)
    assert row[1:3] == ["Deployment/worker", "cpu:"] and row[4:7] == ["1", "4", "1"], row
    assert re.fullmatch(r"1[01]%/50%", row[3]), row

    cluster.kubectl("patch", "deploy", "worker", "-n", ns, "-p", json.dumps(
        {"spec": {"template": {"metadata": {"annotations": {"sim.kubelet/cpu-usage": "200m"}}}}}))

    def scaled():
        row = cluster.kubectl("get", "hpa", "worker", "-n", ns, "--no-headers").stdout.split()
        return row if len(row) == 8 and row[6] == "4" else None
    row = wait_for(scaled, 25, "the HPA to scale to 4", 0.5)
    assert row[2] == "cpu:" and re.fullmatch(r"20[01]%/50%", row[3]), row
    assert cluster.get_json(f"/apis/apps/v1/namespaces/{ns}/deployments/worker")[
        "spec"]["replicas"] == 4
    hpa = cluster.get_json(f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/"
                           "worker")
    conditions = {c["type"]: c["reason"] for c in hpa["status"]["conditions"]}
    assert conditions["AbleToScale"] in ("ReadyForNewScale", "SucceededRescale")
    assert conditions["ScalingActive"] == "ValidMetricFound"
    # TooManyReplicas once the new pods' samples count (200% of 4 pods asks for 16)
    assert conditions["ScalingLimited"] in ("DesiredWithinRange", "TooManyReplicas")
    events = cluster.get_json(f"/api/v1/namespaces/{ns}/events")["items"]
    rescales = [e["message"] for e in events if e["reason"] == "SuccessfulRescale"]
    assert rescales == ["New size: 4; reason: cpu resource utilization (percentage of request) "
                        "above target"]
    assert {e["source"]["component"] for e in events if e["reason"] == "SuccessfulRescale"} == {
        "horizontal-pod-autoscaler"}
