"""``up --nodes 1``: the API server reaches its simulated kubelet with the client
certificate ``up`` made for it (kube-apiserver-kubelet-client, allowed by the kubelet's
delegated authorization), at the Node's InternalIP and daemon port, verifying the kubelet's
serving certificate against the cluster CA."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from watch_support import ServerGroup


@pytest.fixture(scope="module")
def cluster():
    group = ServerGroup()
    try:
        yield group.start("--nodes", "1")
    finally:
        group.stop()


def _until(fn, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_logs_exec_and_node_proxy_of_a_simulated_node(cluster):
    ns = f"sim-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    _until(lambda: cluster.request("GET", "/api/v1/nodes/node-1")[0] == 200, what="node-1")
    cluster.kubectl("run", "p", "--image=busybox", "--restart=Never", "-n", ns)

    def running():
        status, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/p")
        return status == 200 and json.loads(body).get("status", {}).get("phase") == "Running"
    _until(running, what="pod p running")
    out = _until(lambda: cluster.kubectl("logs", "p", "-n", ns).stdout, what="a log line")
    assert out.startswith("simulated container p started (image docker.io/library/busybox")
    # the stream reaches the kubelet; its runtime cannot run commands, and says so
    cp = cluster.kubectl("exec", "p", "-n", ns, "--", "true", check=False)
    assert cp.returncode != 0
    assert "the simulated runtime cannot run commands" in cp.stderr, cp.stderr
    assert cluster.kubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/healthz").stdout == "ok"
    pods = json.loads(cluster.kubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/pods").stdout)
    assert pods["kind"] == "PodList" and "p" in [i["metadata"]["name"] for i in pods["items"]]
