"""`manage.py controller-manager` against a real server: Deployments roll out through
ReplicaSets, ReplicaSets and ReplicationControllers keep their pod counts, as kubectl sees
it.  No kubelet runs here: a loop in the test marks new pods Running and Ready, as a node
would."""
from __future__ import annotations

import json
import threading
import time

import pytest

from controller_support import controller_manager, wait_for


@pytest.fixture(scope="module")
def manager(server):
    """A manager of this module's own, with short node-monitor periods for the lifecycle
    test; ``up``'s manager (leader-elected) runs beside it, so every controller here must
    tolerate a twin, as upstream's must during a leadership handover."""
    with controller_manager(server, "--node-monitor-grace-period", "3",
                            "--node-monitor-period", "1") as proc:
        yield proc


@pytest.fixture
def nodes(server, namespace):
    """Make every Pending pod of the namespace Running and Ready, like a kubelet."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            status, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods")
            if status == 200:
                for p in json.loads(body)["items"]:
                    if p["status"].get("phase") != "Pending" or p["metadata"].get(
                            "deletionTimestamp"):
                        continue
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    server.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/"
                                   f"{p['metadata']['name']}/status",
                                   body=json.dumps({"status": {"phase": "Running", "conditions": [
                                       {"type": "Ready", "status": "True",
                                        "lastTransitionTime": now}]}}).encode(),
                                   headers={"Content-Type": "application/merge-patch+json"})
            stop.wait(0.3)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield
    stop.set()
    t.join(5)


def _get(kubectl, namespace, *args):
    return json.loads(kubectl("-n", namespace, "get", *args, "-o", "json").stdout)


def _wait(predicate, timeout=30.0):
    return wait_for(predicate, timeout)


def test_a_deployment_rolls_out_updates_and_rolls_back(kubectl, namespace, manager, nodes):
    kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    out = kubectl("-n", namespace, "rollout", "status", "deploy/web", "--timeout=60s").stdout
    assert 'deployment "web" successfully rolled out' in out
    d = _get(kubectl, namespace, "deploy", "web")
    assert d["status"]["availableReplicas"] == 3 and d["status"]["updatedReplicas"] == 3
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    first = _get(kubectl, namespace, "rs", "-l", "app=web")["items"]
    assert len(first) == 1 and first[0]["metadata"]["name"].startswith("web-")
    assert first[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = _get(kubectl, namespace, "pods", "-l", "app=web")["items"]
    assert len(pods) == 3
    assert all(p["metadata"]["ownerReferences"][0]["name"] == first[0]["metadata"]["name"]
               for p in pods)

    kubectl("-n", namespace, "set", "image", "deploy/web", "nginx=nginx:1.27")
    kubectl("-n", namespace, "rollout", "status", "deploy/web", "--timeout=60s")
    rs = {r["metadata"]["name"]: r for r in _get(kubectl, namespace, "rs", "-l", "app=web")["items"]}
    assert sorted(r["spec"]["replicas"] for r in rs.values()) == [0, 3]
    images = {p["spec"]["containers"][0]["image"] for p in
              _get(kubectl, namespace, "pods", "-l", "app=web")["items"]
              if not p["metadata"].get("deletionTimestamp")}
    assert images == {"nginx:1.27"}
    history = kubectl("-n", namespace, "rollout", "history", "deploy/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

    kubectl("-n", namespace, "rollout", "undo", "deploy/web")
    kubectl("-n", namespace, "rollout", "status", "deploy/web", "--timeout=60s")
    back = _get(kubectl, namespace, "rs", first[0]["metadata"]["name"])
    assert back["spec"]["replicas"] == 3
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    events = kubectl("-n", namespace, "get", "events", "--field-selector",
                     "reason=ScalingReplicaSet").stdout
    assert "Scaled up replica set" in events and "Scaled down replica set" in events


def test_a_recreate_deployment_stops_old_pods_before_new_ones(kubectl, namespace, manager,
                                                              nodes):
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "strategy": {"type": "Recreate"},
                 "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "db:1"}]}}}}))
    kubectl("-n", namespace, "rollout", "status", "deploy/db", "--timeout=60s")
    kubectl("-n", namespace, "set", "image", "deploy/db", "db=db:2")
    kubectl("-n", namespace, "rollout", "status", "deploy/db", "--timeout=60s")
    rs = _get(kubectl, namespace, "rs", "-l", "app=db")["items"]
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 2]


def test_replica_sets_and_controllers_keep_their_pod_count(kubectl, namespace, manager):
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
        "spec": {"replicas": 2, "selector": {"app": "rc"},
                 "template": {"metadata": {"labels": {"app": "rc"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
    pods = lambda: _get(kubectl, namespace, "pods", "-l", "app=rc")["items"]  # noqa: E731
    assert len(_wait(lambda: len(pods()) == 2 and pods())) == 2
    kubectl("-n", namespace, "delete", "pod", pods()[0]["metadata"]["name"])
    assert _wait(lambda: len(pods()) == 2)                      # replaced
    kubectl("-n", namespace, "scale", "rc", "rc", "--replicas=4")
    assert _wait(lambda: len(pods()) == 4)
    kubectl("-n", namespace, "scale", "rc", "rc", "--replicas=1")
    assert _wait(lambda: len(pods()) == 1)
    rc = _wait(lambda: (r := _get(kubectl, namespace, "rc", "rc"))["status"].get("replicas") == 1
               and r)
    assert rc["status"]["observedGeneration"] == rc["metadata"]["generation"]

    # an orphan pod the selector matches is adopted, so one too many is deleted
    kubectl("-n", namespace, "run", "stray", "--image=nginx", "--labels=app=rc")
    assert _wait(lambda: len(pods()) == 1)
    remaining = pods()[0]
    assert remaining["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"


def test_node_lifecycle_lifts_not_ready_then_marks_a_silent_node_and_evicts(kubectl, server,
                                                                            namespace, manager):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "silent-node"}}
    kubectl("create", "-f", "-", input=json.dumps(node))
    try:
        status, _, body = server.request(
            "PATCH", "/api/v1/nodes/silent-node/status",
            body=json.dumps({"status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                 "lastTransitionTime": now}]}}).encode(),
            headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, body
        taints = lambda: json.loads(kubectl("get", "node", "silent-node", "-o",  # noqa: E731
                                            "json").stdout)["spec"].get("taints") or []
        # TaintNodesByCondition put not-ready on the new node; Ready lifts it
        assert _wait(lambda: taints() == [], timeout=15), taints()
        # DefaultTolerationSeconds gives every pod 300 s; this one asks for 1 s
        kubectl("-n", namespace, "run", "doomed", "--image=nginx", "--overrides", json.dumps(
            {"spec": {"nodeName": "silent-node", "tolerations": [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 1}]}}))
        kubectl("-n", namespace, "run", "patient", "--image=nginx", "--overrides", json.dumps(
            {"spec": {"nodeName": "silent-node", "tolerations": [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute"}]}}))
        # no heartbeat for the grace period (3 s here): Unknown, unreachable, evicted
        ready = lambda: next(c for c in json.loads(kubectl(  # noqa: E731
            "get", "node", "silent-node", "-o", "json").stdout)["status"]["conditions"]
            if c["type"] == "Ready")
        cond = _wait(lambda: (c := ready())["status"] == "Unknown" and c, timeout=20)
        assert cond["reason"] == "NodeStatusUnknown"
        assert cond["message"] == "Kubelet stopped posting node status."
        assert _wait(lambda: {(t["key"], t["effect"]) for t in taints()} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute")}, timeout=10), taints()
        pod = lambda name: _get(kubectl, namespace, "pod", name)  # noqa: E731
        assert _wait(lambda: pod("doomed")["metadata"].get("deletionTimestamp"), timeout=10)
        assert not pod("patient")["metadata"].get("deletionTimestamp")
    finally:
        kubectl("delete", "node", "silent-node", "--ignore-not-found")
