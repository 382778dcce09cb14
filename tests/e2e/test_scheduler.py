"""The scheduler as a separate process against a real server (``manage.py up``, no kubelets):
Node objects created by the test, pods created through the API, bindings, conditions and
events observed through the API.  Each scheduler here schedules only pods naming its own
``--scheduler-name``, on a server of this module's own."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from watch_support import ServerGroup

REPO_ROOT = Path(__file__).resolve().parents[2]
NODES = ("sn-1", "sn-2", "sn-3")
FAST_LEASE = ["--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s",
              "--leader-elect-retry-period=0.5s"]


def until(fn, timeout=20.0, every=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class SchedulerProcess:
    """``manage.py scheduler`` with the admin kubeconfig (see the report for the RBAC the
    system:kube-scheduler identity gets from the bootstrap policy)."""

    def __init__(self, cluster, name: str, *extra: str):
        self.cluster, self.name, self.extra = cluster, name, extra
        self.log_path = cluster.data_dir / f"scheduler-{name}-{uuid.uuid4().hex[:6]}.log"
        self.proc = None

    def start(self) -> "SchedulerProcess":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "scheduler", "--kubeconfig", str(self.cluster.kubeconfig),
             "--scheduler-name", self.name, *self.extra],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def node_manifest(name):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "kubernetes.io/os": "linux"}},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "ready"}]}}


@pytest.fixture(scope="module")
def cluster():
    group = ServerGroup()
    try:
        srv = group.start()
        for name in NODES:
            status, _, body = srv.request("POST", "/api/v1/nodes", body=node_manifest(name))
            assert status == 201, body
            node = json.loads(body)
            if not node.get("status", {}).get("allocatable"):     # status dropped on create
                node["status"] = node_manifest(name)["status"]
                status, _, body = srv.request("PUT", f"/api/v1/nodes/{name}/status", body=node)
                assert status == 200, body
            # TaintNodesByCondition admission adds not-ready:NoSchedule at creation; the node
            # lifecycle controller would lift it once the node is Ready: do it ourselves
            status, _, body = srv.request(
                "PATCH", f"/api/v1/nodes/{name}", body=json.dumps({"spec": {"taints": None}}),
                headers={"Content-Type": "application/merge-patch+json"})
            assert status == 200, body
        yield srv
    finally:
        group.stop()


@pytest.fixture(scope="module")
def scheduler(cluster):
    proc = SchedulerProcess(cluster, "e2e-sched").start()
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


@pytest.fixture
def ns(cluster):
    name = f"sched-{uuid.uuid4().hex[:8]}"
    status, _, body = cluster.request("POST", "/api/v1/namespaces", body={
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status == 201, body
    yield name
    # no kubelet here: force the pods away so they stop counting on the nodes
    cluster.kubectl("delete", "pods", "--all", "-n", name, "--grace-period=0", "--force",
                    "--wait=false", check=False)
    until(lambda: not pods(cluster, name), what=f"pods of {name} gone")


def pod_manifest(name, scheduler="e2e-sched", cpu="100m", labels=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"schedulerName": scheduler, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "nginx",
                                     "resources": {"requests": {"cpu": cpu}}}], **spec}}


def create(cluster, ns, manifest):
    status, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", body=manifest)
    assert status == 201, body
    return json.loads(body)


def pods(cluster, ns):
    return cluster.get_json(f"/api/v1/namespaces/{ns}/pods")["items"]


def pod(cluster, ns, name):
    return cluster.get_json(f"/api/v1/namespaces/{ns}/pods/{name}")


def bound(cluster, ns, count):
    items = pods(cluster, ns)
    done = [p for p in items if p["spec"].get("nodeName")]
    return items if len(done) >= count else None


def events(cluster, ns, reason=None):
    items = cluster.get_json(f"/api/v1/namespaces/{ns}/events")["items"]
    return [e for e in items if reason is None or e["reason"] == reason]


def condition(p, kind="PodScheduled"):
    return next((c for c in p.get("status", {}).get("conditions") or [] if c["type"] == kind), None)


def unschedulable_message(cluster, ns, name):
    c = condition(pod(cluster, ns, name))
    if c and c["status"] == "False" and c.get("reason") == "Unschedulable":
        return c["message"]
    return None


def test_spreads_30_pods_over_3_nodes(cluster, scheduler, ns):
    for i in range(30):
        create(cluster, ns, pod_manifest(f"web-{i}"))
    items = until(lambda: bound(cluster, ns, 30), timeout=30, what="30 pods bound")
    per_node = {}
    for p in items:
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        assert condition(p)["status"] == "True"
    assert set(per_node) == set(NODES) and max(per_node.values()) - min(per_node.values()) <= 2, \
        per_node
    scheduled = until(lambda: len(events(cluster, ns, "Scheduled")) >= 30 and
                      events(cluster, ns, "Scheduled"), what="Scheduled events")
    first = next(e for e in scheduled if e["involvedObject"]["name"] == "web-0")
    assert first["message"] == f"Successfully assigned {ns}/web-0 to {pod(cluster, ns, 'web-0')['spec']['nodeName']}"
    assert first["source"]["component"] == "e2e-sched"
    assert len({e["involvedObject"]["name"] for e in scheduled}) == 30
    wide = cluster.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout
    assert "sn-1" in wide and "sn-2" in wide and "sn-3" in wide


def test_resource_fit_refuses_a_pod_that_fits_no_node(cluster, scheduler, ns):
    create(cluster, ns, pod_manifest("small", cpu="1"))
    create(cluster, ns, pod_manifest("huge", cpu="5"))
    until(lambda: bound(cluster, ns, 1), what="the small pod bound")
    msg = until(lambda: unschedulable_message(cluster, ns, "huge"), what="Unschedulable")
    assert msg == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
                   "available: 3 No preemption victims found for incoming pod.")
    failed = until(lambda: events(cluster, ns, "FailedScheduling"), what="FailedScheduling")
    assert failed[0]["type"] == "Warning" and failed[0]["message"] == msg
    assert not pod(cluster, ns, "huge")["spec"].get("nodeName")
    assert pod(cluster, ns, "huge")["status"]["phase"] == "Pending"


def test_impossible_node_selector_stays_pending(cluster, scheduler, ns):
    create(cluster, ns, pod_manifest("lost", nodeSelector={"disktype": "floppy"}))
    msg = until(lambda: unschedulable_message(cluster, ns, "lost"), what="Unschedulable")
    assert msg == ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
                   "preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
                   "scheduling.")
    out = cluster.kubectl("describe", "pod", "lost", "-n", ns).stdout
    assert "FailedScheduling" in out or until(
        lambda: "FailedScheduling" in cluster.kubectl("describe", "pod", "lost", "-n", ns).stdout)
    # a node gaining the label makes it schedulable (a node update requeues it)
    cluster.kubectl("label", "node", "sn-2", "disktype=floppy")
    try:
        assert until(lambda: pod(cluster, ns, "lost")["spec"].get("nodeName"), timeout=20,
                     what="bound after the label") == "sn-2"
    finally:
        cluster.kubectl("label", "node", "sn-2", "disktype-")


def test_taints_and_tolerations(cluster, scheduler, ns):
    cluster.kubectl("taint", "node", "sn-3", "dedicated=infra:NoSchedule")
    try:
        for i in range(6):
            create(cluster, ns, pod_manifest(f"plain-{i}"))
        create(cluster, ns, pod_manifest(
            "infra", nodeSelector={"kubernetes.io/hostname": "sn-3"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "infra",
                          "effect": "NoSchedule"}]))
        create(cluster, ns, pod_manifest("refused",
                                         nodeSelector={"kubernetes.io/hostname": "sn-3"}))
        items = until(lambda: bound(cluster, ns, 7), what="7 pods bound")
        where = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in items}
        assert where["infra"] == "sn-3"
        assert all(where[f"plain-{i}"] in ("sn-1", "sn-2") for i in range(6)), where
        msg = until(lambda: unschedulable_message(cluster, ns, "refused"), what="Unschedulable")
        assert msg.startswith("0/3 nodes are available: 1 node(s) had untolerated taint "
                              "{dedicated: infra}, 2 node(s) didn't match Pod's node "
                              "affinity/selector."), msg
    finally:
        cluster.kubectl("taint", "node", "sn-3", "dedicated-")


def test_pod_anti_affinity(cluster, scheduler, ns):
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}},
         "topologyKey": "kubernetes.io/hostname"}]}}
    for i in range(4):
        create(cluster, ns, pod_manifest(f"db-{i}", labels={"app": "db"}, affinity=anti))
    items = until(lambda: bound(cluster, ns, 3), what="3 replicas bound")
    nodes = [p["spec"]["nodeName"] for p in items if p["spec"].get("nodeName")]
    assert sorted(nodes) == sorted(NODES)
    left = next(p["metadata"]["name"] for p in items if not p["spec"].get("nodeName"))
    msg = until(lambda: unschedulable_message(cluster, ns, left), what="Unschedulable")
    assert msg.startswith("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity "
                          "rules."), msg


def test_high_priority_pod_preempts(cluster, scheduler, ns):
    for name, value in ((f"{ns}-low", 10), (f"{ns}-high", 1000)):
        status, _, body = cluster.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
                                          body={"apiVersion": "scheduling.k8s.io/v1",
                                                "kind": "PriorityClass",
                                                "metadata": {"name": name}, "value": value})
        assert status == 201, body
    try:
        for i, node in enumerate(NODES):
            create(cluster, ns, pod_manifest(f"low-{i}", cpu="3", priorityClassName=f"{ns}-low",
                                             nodeSelector={"kubernetes.io/hostname": node}))
        until(lambda: bound(cluster, ns, 3), what="low-priority pods bound")
        create(cluster, ns, pod_manifest("vip", cpu="3", priorityClassName=f"{ns}-high"))
        node = until(lambda: pod(cluster, ns, "vip")["spec"].get("nodeName"), timeout=30,
                     what="the high-priority pod bound")
        names = {p["metadata"]["name"] for p in pods(cluster, ns)}
        assert len(names & {"low-0", "low-1", "low-2"}) == 2, names
        assert until(lambda: events(cluster, ns, "Preempted"), what="Preempted event")
        assert node in NODES
    finally:
        for name in (f"{ns}-low", f"{ns}-high"):
            cluster.request("DELETE", f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")


def test_restarted_scheduler_resumes_without_double_binding(cluster, ns):
    first = SchedulerProcess(cluster, "restart-sched").start()
    try:
        for i in range(5):
            create(cluster, ns, pod_manifest(f"a-{i}", scheduler="restart-sched"))
        before = {p["metadata"]["name"]: p["spec"]["nodeName"]
                  for p in until(lambda: bound(cluster, ns, 5), what="first 5 bound")}
    finally:
        assert first.stop() == 0, first.log()[-2000:]
    for i in range(5):
        create(cluster, ns, pod_manifest(f"b-{i}", scheduler="restart-sched"))
    time.sleep(0.5)
    assert not any(p["spec"].get("nodeName") for p in pods(cluster, ns)
                   if p["metadata"]["name"].startswith("b-"))
    second = SchedulerProcess(cluster, "restart-sched").start()
    try:
        items = until(lambda: bound(cluster, ns, 10), what="all 10 bound")
    finally:
        assert second.stop() == 0, second.log()[-2000:]
    after = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in items}
    assert all(after[k] == v for k, v in before.items())
    sched_events = until(lambda: len(events(cluster, ns, "Scheduled")) >= 10 and
                         events(cluster, ns, "Scheduled"), what="10 Scheduled events")
    per_pod = {}
    for e in sched_events:
        per_pod[e["involvedObject"]["name"]] = per_pod.get(e["involvedObject"]["name"], 0) + 1
    assert per_pod == {name: 1 for name in after}, per_pod
    assert "refused" not in second.log()                     # nothing tried twice


def test_two_schedulers_with_leader_election_bind_each_pod_once(cluster, ns):
    lease = f"sched-{ns}"
    args = ["--leader-elect", f"--leader-elect-resource-name={lease}", *FAST_LEASE]
    a = SchedulerProcess(cluster, "ha-sched", *args, "--identity=a").start()
    b = SchedulerProcess(cluster, "ha-sched", *args, "--identity=b").start()
    procs = {"a": a, "b": b}
    try:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease}"

        def holder():
            status, _, body = cluster.request("GET", path)
            return json.loads(body)["spec"].get("holderIdentity") if status == 200 else None
        leader = until(holder, what="a leader")
        for i in range(20):
            create(cluster, ns, pod_manifest(f"p-{i}", scheduler="ha-sched"))
        until(lambda: bound(cluster, ns, 20), timeout=30, what="20 bound")
        # its events are sent in batches after the bindings: let them land before the kill
        until(lambda: len(events(cluster, ns, "Scheduled")) >= 20, what="20 Scheduled events")
        other = "b" if leader == "a" else "a"
        assert "Successfully bound" not in procs[other].log()
        procs[leader].stop(signal.SIGKILL)               # no release: the lease must expire
        until(lambda: holder() == other, timeout=20, what="the standby taking over")
        for i in range(20, 25):
            create(cluster, ns, pod_manifest(f"p-{i}", scheduler="ha-sched"))
        until(lambda: bound(cluster, ns, 25), timeout=30, what="25 bound")
        sched_events = until(lambda: len(events(cluster, ns, "Scheduled")) >= 25 and
                             events(cluster, ns, "Scheduled"), what="25 Scheduled events")
        names = [e["involvedObject"]["name"] for e in sched_events]
        assert sorted(names) == sorted(f"p-{i}" for i in range(25))
        spec = cluster.get_json(path)["spec"]
        assert spec["leaseDurationSeconds"] == 3 and spec["leaseTransitions"] >= 1
    finally:
        for p in procs.values():
            p.stop()


def test_pod_affinity_namespace_selector_follows_namespace_labels(cluster, scheduler, ns):
    """A term's namespaceSelector is evaluated on the Namespace labels the scheduler watches:
    labelling the other namespace makes the waiting pod schedulable, next to its peer."""
    other, mark = f"{ns}-db", uuid.uuid4().hex[:8]
    status, _, body = cluster.request("POST", "/api/v1/namespaces", body={
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    assert status == 201, body
    try:
        create(cluster, other, pod_manifest("db", labels={"app": "db"}))
        db_node = until(lambda: pod(cluster, other, "db")["spec"].get("nodeName"),
                        what="db bound")
        term = {"labelSelector": {"matchLabels": {"app": "db"}},
                "namespaceSelector": {"matchLabels": {"mark": mark}},
                "topologyKey": "kubernetes.io/hostname"}
        create(cluster, ns, pod_manifest("web", labels={"app": "web"}, affinity={
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}))
        msg = until(lambda: unschedulable_message(cluster, ns, "web"), what="Unschedulable")
        assert "3 node(s) didn't match pod affinity rules" in msg, msg
        status, _, body = cluster.request(
            "PATCH", f"/api/v1/namespaces/{other}",
            body=json.dumps({"metadata": {"labels": {"mark": mark}}}),
            headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, body
        assert until(lambda: pod(cluster, ns, "web")["spec"].get("nodeName"),
                     what="web bound after the label") == db_node
    finally:
        cluster.kubectl("delete", "pods", "--all", "-n", other, "--grace-period=0", "--force",
                        "--wait=false", check=False)
        cluster.request("DELETE", f"/api/v1/namespaces/{other}")
