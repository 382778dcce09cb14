"""The daemonset controller of the session's `manage.py up`, seen through kubectl: one pod per
fitting node (nodeSelector, taints vs tolerations), pinned by a ``metadata.name`` node
affinity, a new node getting its pod, an untolerated NoExecute taint evicting it, and a
template change rolling out through ControllerRevisions (history and undo).

No scheduler or kubelet runs in the session server: ``FakeNodes`` plays both for this test's
Nodes — it keeps them Ready, binds each daemon pod to the node its affinity names (through
``pods/binding``, as the scheduler would), marks bound pods Running and Ready and finishes
their graceful deletion, as a kubelet would."""
from __future__ import annotations

import json
import threading
import time

import pytest

from controller_support import wait_for

MERGE = {"Content-Type": "application/merge-patch+json"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _wait(predicate, timeout=30.0, what="condition"):
    return wait_for(predicate, timeout, what)


def _pinned_node(pod: dict) -> str | None:
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get(
        "nodeSelectorTerms") or []
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In":
                return f["values"][0]
    return None


class FakeNodes:
    """This test's Nodes, with a loop doing what their scheduler and kubelets would."""

    def __init__(self, server, namespace: str):
        self.server, self.namespace = server, namespace
        self.names: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def add(self, suffix: str, taints: list[dict] | None = None) -> str:
        name = f"{self.namespace}-{suffix}"
        status, _, body = self.server.request("POST", "/api/v1/nodes", body={
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"e2e-daemonset": self.namespace,
                                                  "kubernetes.io/hostname": name}}})
        assert status == 201, body
        self.names.append(name)
        self._heartbeat(name)
        # the admission plugin put node.kubernetes.io/not-ready on the new node; once Ready the
        # node lifecycle controller lifts it.  Wait for that before adding the test's taints,
        # so its write cannot overwrite ours
        node = _wait(lambda: (lambda n: n if not n["spec"].get("taints") else None)(
            self.server.get_json(f"/api/v1/nodes/{name}")), what="not-ready lifted")
        if taints:
            status, _, body = self.server.request(
                "PATCH", f"/api/v1/nodes/{name}", body=json.dumps(
                    {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                     "spec": {"taints": taints}}).encode(), headers=MERGE)
            assert status == 200, body
        return name

    def _heartbeat(self, name: str) -> None:
        now = _now()
        self.server.request("PATCH", f"/api/v1/nodes/{name}/status", body=json.dumps({
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": now, "lastTransitionTime": now}]}
        }).encode(), headers=MERGE)

    def _loop(self) -> None:
        beat = 0.0
        while not self.stop.is_set():
            if time.monotonic() - beat > 5:
                beat = time.monotonic()
                for name in list(self.names):
                    self._heartbeat(name)
            status, _, body = self.server.request(
                "GET", f"/api/v1/namespaces/{self.namespace}/pods")
            if status == 200:
                for pod in json.loads(body)["items"]:
                    self._tend(pod)
            self.stop.wait(0.3)

    def _tend(self, pod: dict) -> None:
        name = pod["metadata"]["name"]
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        node = pod["spec"].get("nodeName")
        if pod["metadata"].get("deletionTimestamp"):
            if node in self.names:            # the kubelet finishes the graceful deletion
                self.server.request("DELETE", path, body={"gracePeriodSeconds": 0})
            return
        if not node:
            target = _pinned_node(pod)
            if target in self.names:
                self.server.request("POST", f"{path}/binding", body={
                    "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": target}})
            return
        if node in self.names and pod["status"].get("phase") == "Pending":
            self.server.request("PATCH", f"{path}/status", body=json.dumps({"status": {
                "phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": _now()}]}}
            ).encode(), headers=MERGE)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for name in self.names:
            self.server.request("DELETE", f"/api/v1/nodes/{name}")


@pytest.fixture
def nodes(server, namespace):
    fake = FakeNodes(server, namespace)
    fake.thread.start()
    yield fake
    fake.close()


def _get(kubectl, namespace, *args):
    return json.loads(kubectl("-n", namespace, "get", *args, "-o", "json").stdout)


def _daemonset(namespace: str, image: str = "nginx:1.26") -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"nodeSelector": {"e2e-daemonset": namespace},
                                           "containers": [{"name": "agent", "image": image}]}}}}


def _live_pods(kubectl, namespace):
    return [p for p in _get(kubectl, namespace, "pods", "-l", "app=agent")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def test_one_daemon_pod_per_fitting_node(kubectl, namespace, nodes):
    n1, n2 = nodes.add("n1"), nodes.add("n2")
    tainted = nodes.add("tainted", [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    kubectl("apply", "-f", "-", input=json.dumps(_daemonset(namespace)))
    out = kubectl("-n", namespace, "rollout", "status", "ds/agent", "--timeout=60s").stdout
    assert 'daemon set "agent" successfully rolled out' in out

    pods = _live_pods(kubectl, namespace)
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted([n1, n2])
    assert tainted not in {p["spec"]["nodeName"] for p in pods}
    ds = _get(kubectl, namespace, "ds", "agent")
    status = ds["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"],
            status["numberReady"], status["updatedNumberScheduled"],
            status["numberAvailable"], status["numberMisscheduled"]) == (2, 2, 2, 2, 2, 0)
    assert status["observedGeneration"] == ds["metadata"]["generation"]
    assert "numberUnavailable" not in status

    (rev,) = _get(kubectl, namespace, "controllerrevisions")["items"]
    hash_ = rev["metadata"]["labels"]["controller-revision-hash"]
    assert rev["metadata"]["name"] == f"agent-{hash_}" and rev["revision"] == 1
    assert rev["metadata"]["labels"]["app"] == "agent"
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert rev["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
    for p in pods:
        assert p["metadata"]["labels"]["controller-revision-hash"] == hash_
        assert p["metadata"]["labels"]["pod-template-generation"] == "1"
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == \
            ("DaemonSet", "agent", True, True)
        assert _pinned_node(p) == p["spec"]["nodeName"]
        tolerations = {(t["key"], t["effect"]) for t in p["spec"]["tolerations"]}
        assert {("node.kubernetes.io/not-ready", "NoExecute"),
                ("node.kubernetes.io/unreachable", "NoExecute"),
                ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tolerations
        assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in tolerations

    # a new node gets its daemon pod
    n3 = nodes.add("n3")
    _wait(lambda: n3 in {p["spec"].get("nodeName") for p in _live_pods(kubectl, namespace)},
          what="a pod on the new node")
    _wait(lambda: _get(kubectl, namespace, "ds", "agent")["status"].get("numberReady") == 3,
          what="three ready daemon pods")

    # an untolerated NoExecute taint removes the node's pod; misscheduled stays 0
    status, _, body = nodes.server.request(
        "PATCH", f"/api/v1/nodes/{n1}", body=json.dumps({"spec": {"taints": [
            {"key": "evict", "value": "yes", "effect": "NoExecute"}]}}).encode(), headers=MERGE)
    assert status == 200, body
    _wait(lambda: n1 not in {p["spec"].get("nodeName") for p in _live_pods(kubectl, namespace)},
          what="the daemon pod leaving the NoExecute-tainted node")
    # the pod counts as misscheduled until its kubelet has finished deleting it
    _wait(lambda: (lambda s: (s.get("desiredNumberScheduled"), s.get("numberMisscheduled"),
                              s.get("numberReady")) == (2, 0, 2))(
        _get(kubectl, namespace, "ds", "agent")["status"]), what="desired 2, misscheduled 0")
    events = kubectl("-n", namespace, "get", "events", "--field-selector",
                     "involvedObject.kind=DaemonSet", "-o", "json").stdout
    reasons = {e["reason"] for e in json.loads(events)["items"]}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


def test_a_template_change_rolls_out_and_rolls_back(kubectl, namespace, nodes):
    for suffix in ("a", "b", "c"):
        nodes.add(suffix)
    kubectl("apply", "-f", "-", input=json.dumps(_daemonset(namespace)))
    kubectl("-n", namespace, "rollout", "status", "ds/agent", "--timeout=60s")
    first = {p["metadata"]["name"] for p in _live_pods(kubectl, namespace)}
    assert len(first) == 3

    kubectl("-n", namespace, "set", "image", "ds/agent", "agent=nginx:1.27")
    out = kubectl("-n", namespace, "rollout", "status", "ds/agent", "--timeout=60s").stdout
    assert 'daemon set "agent" successfully rolled out' in out
    pods = _live_pods(kubectl, namespace)
    assert len(pods) == 3 and not first & {p["metadata"]["name"] for p in pods}
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.27"}
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in pods} == {"2"}
    revs = sorted(_get(kubectl, namespace, "controllerrevisions")["items"],
                  key=lambda r: r["revision"])
    assert [r["revision"] for r in revs] == [1, 2]
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods} == \
        {revs[1]["metadata"]["labels"]["controller-revision-hash"]}

    history = kubectl("-n", namespace, "rollout", "history", "ds/agent").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("-n", namespace, "rollout", "undo", "ds/agent")
    kubectl("-n", namespace, "rollout", "status", "ds/agent", "--timeout=60s")
    pods = _live_pods(kubectl, namespace)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.26"}
    back = _get(kubectl, namespace, "controllerrevision", revs[0]["metadata"]["name"])
    assert back["revision"] == 3          # the restored revision is the newest again
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods} == \
        {back["metadata"]["labels"]["controller-revision-hash"]}


def test_on_delete_waits_for_the_user(kubectl, namespace, nodes):
    nodes.add("x")
    ds = _daemonset(namespace)
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    kubectl("apply", "-f", "-", input=json.dumps(ds))
    _wait(lambda: _get(kubectl, namespace, "ds", "agent")["status"].get("numberReady") == 1,
          what="one ready pod")
    (old,) = _live_pods(kubectl, namespace)
    kubectl("-n", namespace, "set", "image", "ds/agent", "agent=nginx:1.27")
    _wait(lambda: _get(kubectl, namespace, "ds", "agent")["status"].get(
        "observedGeneration") == 2, what="generation 2 observed")
    time.sleep(1.5)
    (still,) = _live_pods(kubectl, namespace)
    assert still["metadata"]["uid"] == old["metadata"]["uid"]
    assert "updatedNumberScheduled" not in _get(kubectl, namespace, "ds", "agent")["status"]
    kubectl("-n", namespace, "delete", "pod", old["metadata"]["name"], "--wait=false")
    new = _wait(lambda: [p for p in _live_pods(kubectl, namespace)
                         if p["metadata"]["uid"] != old["metadata"]["uid"]], what="a new pod")
    assert new[0]["spec"]["containers"][0]["image"] == "nginx:1.27"
