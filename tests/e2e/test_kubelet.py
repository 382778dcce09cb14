"""``up --nodes 2``: simulated kubelets register Ready nodes, run the pods bound to them,
report their status and events, finish graceful deletions, and come back when killed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from watch_support import ServerGroup


@pytest.fixture(scope="module")
def cluster():
    """A server with two simulated nodes; leases renewed every second so restarts show fast."""
    group = ServerGroup()
    try:
        yield group.start("--nodes", "2", "--kubelet-arg=--lease-renew-interval=1",
                          "--kubelet-arg=--node-status-update-frequency=2",
                          "--kube-controller-manager-arg=--node-monitor-grace-period=6",
                          "--kube-controller-manager-arg=--node-monitor-period=1")
    finally:
        group.stop()


def until(fn, timeout=20.0, every=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def get(cluster, path):
    status, _, body = cluster.request("GET", path)
    return json.loads(body) if status == 200 else None


@pytest.fixture
def ns(cluster):
    name = f"kubelet-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.request("DELETE", f"/api/v1/namespaces/{name}")


def pod_manifest(name, node="node-1", annotations=None, restart="Always", **spec):
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "annotations": annotations or {}},
                       "spec": {"nodeName": node, "restartPolicy": restart,
                                "containers": [{"name": "app", "image": "nginx"}], **spec}})


def pod_status(cluster, ns, name):
    pod = get(cluster, f"/api/v1/namespaces/{ns}/pods/{name}")
    return (pod or {}).get("status") or {}


def nodes_ready(cluster):
    items = (get(cluster, "/api/v1/nodes") or {}).get("items") or []
    ready = {n["metadata"]["name"] for n in items
             if any(c["type"] == "Ready" and c["status"] == "True"
                    for c in n.get("status", {}).get("conditions", []))}
    return ready if ready >= {"node-1", "node-2"} else None


def test_nodes_register_ready_with_leases(cluster):
    until(lambda: nodes_ready(cluster), what="two Ready nodes")
    out = cluster.kubectl("get", "nodes").stdout
    assert "node-1" in out and "node-2" in out and "NotReady" not in out
    node = get(cluster, "/api/v1/nodes/node-2")
    assert node["spec"]["podCIDR"] == "10.244.1.0/24"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-2"
    assert node["status"]["allocatable"]["pods"] == "110"
    # the kubelet registers its Node, then starts renewing its Lease (as upstream's)
    lease = until(lambda: get(
        cluster, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"),
        what="node-1's Lease")
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    first = lease["spec"]["renewTime"]
    until(lambda: get(cluster, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/"
                               "leases/node-1")["spec"]["renewTime"] != first,
          timeout=10, what="a lease renewal")
    described = cluster.kubectl("describe", "node", "node-1").stdout
    assert "Capacity:" in described and "KubeletReady" in described


def test_a_bound_pod_runs_reports_events_and_is_deleted(cluster, ns):
    until(lambda: nodes_ready(cluster), what="Ready nodes")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest(
        "web", initContainers=[{"name": "setup", "image": "busybox:1.36"}]))
    status = until(lambda: (s := pod_status(cluster, ns, "web")).get("phase") == "Running"
                   and all(c.get("ready") for c in s.get("containerStatuses", [])) and s,
                   what="web Running and ready")
    (cs,) = status["containerStatuses"]
    assert cs["state"]["running"]["startedAt"] and cs["started"] is True
    assert cs["containerID"].startswith("simulated://") and cs["restartCount"] == 0
    assert cs["image"] == "docker.io/library/nginx:latest" and "@sha256:" in cs["imageID"]
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert status["podIP"].startswith("10.244.0.") and status["hostIP"] == "127.0.0.1"
    assert status["podIPs"] == [{"ip": status["podIP"]}] and status["startTime"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"PodReadyToStartContainers": "True", "Initialized": "True",
                          "ContainersReady": "True", "Ready": "True"}

    def described():
        out = cluster.kubectl("-n", ns, "describe", "pod", "web").stdout
        return all(r in out for r in ("Pulling", "Pulled", "Created", "Started")) and out
    out = until(described, what="kubelet events in describe")
    assert 'Successfully pulled image "nginx" in' in out
    assert "Created container: app" in out and "Started container app" in out

    uid = get(cluster, f"/api/v1/namespaces/{ns}/pods/web")["metadata"]["uid"]
    started = time.monotonic()
    cluster.kubectl("-n", ns, "delete", "pod", "web", timeout=40)
    assert time.monotonic() - started < 30
    assert get(cluster, f"/api/v1/namespaces/{ns}/pods/web") is None
    events = until(lambda: [e for e in get(cluster, f"/api/v1/namespaces/{ns}/events")["items"]
                            if e["involvedObject"].get("uid") == uid
                            and e["reason"] == "Killing"], what="a Killing event")
    assert events[0]["message"] == "Stopping container app"
    assert events[0]["source"] == {"component": "kubelet", "host": "node-1"}


def test_exit_after_with_restart_never_succeeds_or_fails(cluster, ns):
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest(
        "job", node="node-2", restart="Never",
        annotations={"sim.kubelet/exit-after-seconds": "1"}))
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest(
        "bad", node="node-2", restart="Never",
        annotations={"sim.kubelet/exit-after-seconds": "1", "sim.kubelet/exit-code": "3"}))
    ok = until(lambda: (s := pod_status(cluster, ns, "job")).get("phase") == "Succeeded" and s,
               what="job Succeeded")
    term = ok["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    ready = {c["type"]: c for c in ok["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")
    failed = until(lambda: (s := pod_status(cluster, ns, "bad")).get("phase") == "Failed" and s,
                   what="bad Failed")
    assert failed["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    assert "Completed" in cluster.kubectl("-n", ns, "get", "pod", "job").stdout
    cluster.kubectl("-n", ns, "delete", "pod", "job", "bad", timeout=30)   # terminal: at once


def test_crashing_container_backs_off(cluster, ns):
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest(
        "crash", node="node-2",
        annotations={"sim.kubelet/exit-after-seconds": "0.3", "sim.kubelet/exit-code": "1"}))

    def looping():
        s = pod_status(cluster, ns, "crash")
        cs = (s.get("containerStatuses") or [{}])[0]
        waiting = cs.get("state", {}).get("waiting") or {}
        return waiting.get("reason") == "CrashLoopBackOff" and (s, cs)
    status, cs = until(looping, what="CrashLoopBackOff")
    assert cs["restartCount"] >= 1 and status["phase"] == "Running"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s restarting failed container=app pod=crash_" in \
        cs["state"]["waiting"]["message"]
    assert "CrashLoopBackOff" in cluster.kubectl("-n", ns, "get", "pod", "crash").stdout


def test_a_pod_on_a_node_without_kubelet_waits_for_its_grace_period(cluster, ns):
    """The Store keeps a bound pod (deletionTimestamp set) until the kubelet deletes it with
    grace 0, as upstream; nobody runs node 'ghost', so the pod stays."""
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest("orphan", node="ghost"))
    cluster.kubectl("-n", ns, "delete", "pod", "orphan", "--wait=false")
    pod = get(cluster, f"/api/v1/namespaces/{ns}/pods/orphan")
    assert pod["metadata"]["deletionTimestamp"]
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    cluster.kubectl("-n", ns, "delete", "pod", "orphan", "--grace-period=0", "--force")


def kubelet_children(cluster):
    out = subprocess.run(["pgrep", "-P", str(cluster.proc.pid), "-f", "workers.kubelet"],
                         capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def test_a_killed_kubelet_is_restarted_and_adopts_its_pods(cluster, ns):
    until(lambda: nodes_ready(cluster), what="Ready nodes")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest("steady"))
    before = until(lambda: (s := pod_status(cluster, ns, "steady")).get("phase") == "Running"
                   and s, what="steady Running")
    (pid,) = until(lambda: kubelet_children(cluster), what="the kubelet process")
    os.kill(pid, signal.SIGKILL)
    new = until(lambda: [p for p in kubelet_children(cluster) if p != pid], timeout=15,
                what="a restarted kubelet")
    assert new
    lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"
    renewed = get(cluster, lease_path)["spec"]["renewTime"]
    until(lambda: get(cluster, lease_path)["spec"]["renewTime"] != renewed, timeout=15,
          what="the restarted kubelet renewing its lease")
    time.sleep(1.0)
    after = pod_status(cluster, ns, "steady")
    assert after["phase"] == "Running"
    assert after["containerStatuses"][0]["containerID"] == \
        before["containerStatuses"][0]["containerID"]
    assert after["podIP"] == before["podIP"]
    assert "restarting in" in cluster.log_path.read_text()


def test_a_hung_kubelets_nodes_turn_unknown_and_their_pods_are_evicted(cluster, ns):
    """SIGSTOP the kubelet process (the supervisor sees it alive and restarts nothing): its
    leases lapse, the node-lifecycle controller marks both nodes Ready=Unknown with the
    unreachable taints, and a pod tolerating them for 1 s is evicted; once the process
    resumes, the kubelet finishes the eviction and the nodes are Ready again."""
    until(lambda: nodes_ready(cluster), what="Ready nodes")
    tolerate = [{"key": f"node.kubernetes.io/{k}", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 1}
                for k in ("unreachable", "not-ready")]
    cluster.kubectl("-n", ns, "apply", "-f", "-",
                    input=pod_manifest("fragile", tolerations=tolerate))
    until(lambda: pod_status(cluster, ns, "fragile").get("phase") == "Running",
          what="fragile Running")
    (pid,) = until(lambda: kubelet_children(cluster), what="the kubelet process")
    os.kill(pid, signal.SIGSTOP)
    try:
        def unknown():
            node = get(cluster, "/api/v1/nodes/node-1") or {}
            ready = next((c for c in node.get("status", {}).get("conditions", [])
                          if c["type"] == "Ready"), {})
            taints = {(t["key"], t["effect"]) for t in node.get("spec", {}).get("taints") or []}
            return ready.get("status") == "Unknown" and taints and (ready, taints)
        ready, taints = until(unknown, timeout=30, what="node-1 Ready=Unknown")
        assert ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."
        assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
        evicted = until(lambda: (get(cluster, f"/api/v1/namespaces/{ns}/pods/fragile") or {})
                        .get("metadata", {}).get("deletionTimestamp"), timeout=20,
                        what="the pod marked for deletion")
        assert evicted
        assert "TaintManagerEviction" in cluster.kubectl(
            "-n", ns, "get", "events", "--field-selector", "involvedObject.name=fragile").stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    until(lambda: get(cluster, f"/api/v1/namespaces/{ns}/pods/fragile") is None, timeout=30,
          what="the resumed kubelet finishing the eviction")
    until(lambda: nodes_ready(cluster), timeout=30, what="Ready nodes again")


def test_manage_py_kubelet_registers_a_node_and_stops_on_sigterm(cluster):
    """The Django command runs the same kubelet; with the admin's identity (not a node's) the
    NodeRestriction plugin does not apply, so a role label can be registered."""
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "kubelet", "--kubeconfig", str(cluster.kubeconfig),
         "--node-name", "extra-1", "--node-role", "worker", "--cpu", "2", "--pods", "5"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        node = until(lambda: get(cluster, "/api/v1/nodes/extra-1"), timeout=30,
                     what="node extra-1")
        assert node["metadata"]["labels"]["node-role.kubernetes.io/worker"] == ""
        assert node["status"]["capacity"]["cpu"] == "2"
        assert "worker" in cluster.kubectl("get", "node", "extra-1").stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert b"Traceback" not in out
    cluster.kubectl("delete", "node", "extra-1")


def test_the_scheduler_child_binds_an_unbound_pod_which_then_runs(cluster, ns):
    """``up --nodes`` also runs ``manage.py scheduler`` (when the command exists)."""
    from pathlib import Path

    if not (Path(__file__).resolve().parents[2] / "workers/management/commands/scheduler.py"
            ).exists():
        pytest.skip("no scheduler command yet")
    manifest = json.loads(pod_manifest("free"))
    del manifest["spec"]["nodeName"]
    # TaintNodesByCondition gives new nodes node.kubernetes.io/not-ready:NoSchedule and only
    # the node-lifecycle controller (not written yet; kubelets may not touch taints) lifts it
    manifest["spec"]["tolerations"] = [{"key": "node.kubernetes.io/not-ready",
                                        "operator": "Exists", "effect": "NoSchedule"}]
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(manifest))
    pod = until(lambda: (p := get(cluster, f"/api/v1/namespaces/{ns}/pods/free"))
                and p.get("status", {}).get("phase") == "Running" and p, timeout=30,
                what="free scheduled and Running")
    assert pod["spec"]["nodeName"] in ("node-1", "node-2")
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["PodScheduled"] == "True" and conditions["Ready"] == "True"


def test_failing_liveness_probe_kills_and_restarts_the_container(cluster, ns):
    """``sim.kubelet/liveness-fail-after-seconds``: after failureThreshold failed probes the
    kubelet records Unhealthy, kills the container (Killing) and restarts it."""
    probe = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 1,
             "failureThreshold": 2}
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest(
        "sick", node="node-2", annotations={"sim.kubelet/liveness-fail-after-seconds": "0"},
        containers=[{"name": "app", "image": "nginx", "livenessProbe": probe}]))

    def restarted():
        cs = (pod_status(cluster, ns, "sick").get("containerStatuses") or [{}])[0]
        return cs.get("restartCount", 0) >= 1 and cs
    cs = until(restarted, timeout=15, what="a restart after the liveness failure")
    assert cs["lastState"]["terminated"]["finishedAt"]
    events = get(cluster, f"/api/v1/namespaces/{ns}/events")["items"]
    mine = [e for e in events if e["involvedObject"].get("name") == "sick"]
    unhealthy = [e for e in mine if e["reason"] == "Unhealthy"]
    assert len(unhealthy) >= 2 and unhealthy[0]["type"] == "Warning"
    assert unhealthy[0]["message"] == \
        "Liveness probe failed: HTTP probe failed with statuscode: 500"
    assert unhealthy[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    killing = [e["message"] for e in mine if e["reason"] == "Killing"]
    assert "Container app failed liveness probe, will be restarted" in killing


def test_node_status_reports_the_runtimes_images(cluster):
    """NodeStatusManager with a runtime: status.images after a pull (one patch), largest
    first, digest then tag; an image-less restart removes them."""
    import asyncio

    from apiserver.client import AsyncClient, load_kubeconfig
    from workers.kubelet.config import KubeletConfig
    from workers.kubelet.node import NodeStatusManager
    from workers.kubelet.simulated import SimulatedRuntime

    async def go():
        cfg = KubeletConfig("images-1", str(cluster.kubeconfig))
        async with AsyncClient(load_kubeconfig(cluster.kubeconfig)) as client:
            rt = SimulatedRuntime(pull_delay=0, start_delay=0)
            mgr = NodeStatusManager(client, cfg, rt)
            try:
                await mgr.register()
                assert not await mgr.post_status()          # nothing pulled: no write
                pulled = [await rt.pull_image(i, "IfNotPresent")
                          for i in ("nginx", "registry.k8s.io/pause:3.10")]
                assert await mgr.post_status()
                assert not await mgr.post_status()
                node = await client.get("/api/v1/nodes/images-1")
                images = node["status"]["images"]
                assert [i["sizeBytes"] for i in images] == sorted(
                    (p.size for p in pulled), reverse=True)
                assert {"names": [pulled[0].image_ref, "docker.io/library/nginx:latest"],
                        "sizeBytes": pulled[0].size} in images
                fresh = NodeStatusManager(client, cfg, SimulatedRuntime())
                await fresh.register()                      # a restarted kubelet
                node = await client.get("/api/v1/nodes/images-1")
                assert "images" not in node["status"]
            finally:
                await client.delete("/api/v1/nodes/images-1")
    asyncio.run(go())


def test_kubectl_debug_starts_an_ephemeral_container_once(cluster, ns):
    until(lambda: nodes_ready(cluster), what="Ready nodes")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod_manifest("target"))
    until(lambda: pod_status(cluster, ns, "target").get("phase") == "Running",
          what="target Running")
    cluster.kubectl("-n", ns, "debug", "target", "--image=busybox", "-c", "dbg",
                    "--", "sleep", "600")
    status = until(lambda: (s := pod_status(cluster, ns, "target"))
                   .get("ephemeralContainerStatuses") and
                   "running" in s["ephemeralContainerStatuses"][0]["state"] and s,
                   what="the ephemeral container running")
    (cs,) = status["ephemeralContainerStatuses"]
    assert cs["name"] == "dbg" and cs["ready"] is False and cs["restartCount"] == 0
    assert cs["containerID"].startswith("simulated://")
    assert cs["image"] == "docker.io/library/busybox:latest"
    # the pod's own phase and readiness ignore it
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    events = until(lambda: [e for e in get(cluster, f"/api/v1/namespaces/{ns}/events")["items"]
                            if e["involvedObject"].get("fieldPath")
                            == "spec.ephemeralContainers{dbg}" and e["reason"] == "Started"],
                   what="a Started event of the ephemeral container")
    assert events[0]["message"] == "Started container dbg"
