"""The statefulset controller of the session's `manage.py up`, seen through kubectl and the
API: ordered creation (web-1 only once web-0 is Running and Ready) and reverse-ordered scale
down, claims from volumeClaimTemplates with upstream's names, identity labels and
hostname/subdomain, partitioned rolling updates, rollout status/history/undo over
ControllerRevisions, Parallel management and the whenScaled retention policy.

No kubelet runs in the session server: ``Kubelet`` marks the namespace's pods Running and
Ready — all of them, or only those the test lets through."""
from __future__ import annotations

import json
import threading
import time

import pytest

from controller_support import wait_for
from watch_support import WatchReader

MERGE = {"Content-Type": "application/merge-patch+json"}


def _wait(predicate, timeout=30.0, what="condition"):
    return wait_for(predicate, timeout, what)


class Kubelet:
    def __init__(self, server, namespace: str):
        self.server, self.namespace = server, namespace
        self.allowed: set[str] | None = None      # None: every pod
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            status, _, body = self.server.request(
                "GET", f"/api/v1/namespaces/{self.namespace}/pods")
            if status == 200:
                for p in json.loads(body)["items"]:
                    name = p["metadata"]["name"]
                    if p["status"].get("phase") != "Pending" or \
                            p["metadata"].get("deletionTimestamp") or \
                            (self.allowed is not None and name not in self.allowed):
                        continue
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    self.server.request(
                        "PATCH", f"/api/v1/namespaces/{self.namespace}/pods/{name}/status",
                        body=json.dumps({"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}}
                        ).encode(), headers=MERGE)
            self.stop.wait(0.2)


@pytest.fixture
def kubelet(server, namespace):
    k = Kubelet(server, namespace)
    k.thread.start()
    yield k
    k.stop.set()
    k.thread.join(5)


def _statefulset(namespace: str, replicas: int, **spec) -> dict:
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": replicas, "serviceName": "web-svc",
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26",
                                                           "volumeMounts": [{
                                                               "name": "data",
                                                               "mountPath": "/data"}]}]}},
                     "volumeClaimTemplates": [{
                         "metadata": {"name": "data"},
                         "spec": {"accessModes": ["ReadWriteOnce"],
                                  "resources": {"requests": {"storage": "1Gi"}}}}]}}
    body["spec"].update(spec)
    return body


def _get(kubectl, namespace, *args):
    return json.loads(kubectl("-n", namespace, "get", *args, "-o", "json").stdout)


def _pods(server, namespace) -> dict[str, dict]:
    items = server.get_json(f"/api/v1/namespaces/{namespace}/pods")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def _claims(server, namespace) -> dict[str, dict]:
    items = server.get_json(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims")["items"]
    return {c["metadata"]["name"]: c for c in items}


def _status(kubectl, namespace) -> dict:
    return _get(kubectl, namespace, "sts", "web")["status"]


def test_ordered_ready_creation_claims_and_reverse_scale_down(server, kubectl, namespace,
                                                               kubelet):
    kubelet.allowed = set()
    kubectl("apply", "-f", "-", input=json.dumps(_statefulset(namespace, 2)))
    _wait(lambda: "web-0" in _pods(server, namespace), what="web-0")
    claims = _wait(lambda: _claims(server, namespace), what="a claim")
    assert set(claims) == {"data-web-0"}
    assert claims["data-web-0"]["metadata"]["labels"] == {"app": "web"}
    assert claims["data-web-0"]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    time.sleep(1.5)                       # web-0 is not Ready: web-1 must not appear
    assert set(_pods(server, namespace)) == {"web-0"}

    kubelet.allowed.add("web-0")
    web1 = _wait(lambda: _pods(server, namespace).get("web-1"), what="web-1 after web-0 Ready")
    assert "data-web-1" in _claims(server, namespace)
    labels = web1["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    assert web1["spec"]["hostname"] == "web-1" and web1["spec"]["subdomain"] == "web-svc"
    volumes = {v["name"]: v for v in web1["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "data-web-1"
    ref = web1["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == \
        ("StatefulSet", "web", True, True)

    kubelet.allowed = None
    out = kubectl("-n", namespace, "rollout", "status", "sts/web", "--timeout=60s").stdout
    # a defaulted rollingUpdate (partition 0) makes kubectl report a partitioned roll out
    assert "partitioned roll out complete: 2 new pods have been updated" in out
    status = _status(kubectl, namespace)
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"],
            status["currentReplicas"], status["updatedReplicas"]) == (2, 2, 2, 2, 2)
    assert status["currentRevision"] == status["updateRevision"]
    assert labels["controller-revision-hash"] == status["updateRevision"]
    (rev,) = _get(kubectl, namespace, "controllerrevisions")["items"]
    assert rev["metadata"]["name"] == status["updateRevision"] and rev["revision"] == 1

    kubectl("-n", namespace, "scale", "sts/web", "--replicas=3")
    _wait(lambda: _status(kubectl, namespace).get("readyReplicas") == 3, what="3 ready")
    rv = server.get_json(f"/api/v1/namespaces/{namespace}/pods")["metadata"]["resourceVersion"]
    watch = WatchReader(server, f"/api/v1/namespaces/{namespace}/pods?watch=1&"
                                f"resourceVersion={rv}&timeoutSeconds=50")
    try:
        kubectl("-n", namespace, "scale", "sts/web", "--replicas=1")
        _wait(lambda: set(_pods(server, namespace)) == {"web-0"}, what="scale down to web-0")
        deleted = lambda evs: [e["object"]["metadata"]["name"] for e in evs  # noqa: E731
                               if e["type"] == "DELETED"]
        assert watch.wait(lambda evs: len(deleted(evs)) == 2)
        assert deleted(watch.events) == ["web-2", "web-1"]
    finally:
        watch.close()
    # the default retention policy keeps the claims of scaled-away pods
    assert set(_claims(server, namespace)) == {"data-web-0", "data-web-1", "data-web-2"}
    _wait(lambda: _status(kubectl, namespace).get("replicas") == 1, what="status.replicas 1")
    events = json.loads(kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    messages = {e["message"] for e in events if e["involvedObject"]["kind"] == "StatefulSet"}
    assert "create Pod web-0 in StatefulSet web successful" in messages
    assert "create Claim data-web-0 Pod web-0 in StatefulSet web success" in messages
    assert "delete Pod web-2 in StatefulSet web successful" in messages


def test_partitioned_rolling_update_history_and_undo(server, kubectl, namespace, kubelet):
    kubectl("apply", "-f", "-", input=json.dumps(_statefulset(
        namespace, 3, updateStrategy={"type": "RollingUpdate",
                                      "rollingUpdate": {"partition": 2}})))
    kubectl("-n", namespace, "rollout", "status", "sts/web", "--timeout=60s")
    first = _status(kubectl, namespace)["updateRevision"]

    kubectl("-n", namespace, "set", "image", "sts/web", "nginx=nginx:1.27")
    out = kubectl("-n", namespace, "rollout", "status", "sts/web", "--timeout=60s").stdout
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    status = _status(kubectl, namespace)
    second = status["updateRevision"]
    assert second != first and status["currentRevision"] == first
    assert status["updatedReplicas"] == 1 and status["currentReplicas"] == 2
    pods = _pods(server, namespace)
    revision = {n: p["metadata"]["labels"]["controller-revision-hash"] for n, p in pods.items()}
    assert revision == {"web-0": first, "web-1": first, "web-2": second}
    assert pods["web-2"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert pods["web-0"]["spec"]["containers"][0]["image"] == "nginx:1.26"

    kubectl("-n", namespace, "patch", "sts/web", "-p",
            '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    out = kubectl("-n", namespace, "rollout", "status", "sts/web", "--timeout=60s").stdout
    assert "partitioned roll out complete: 3 new pods have been updated" in out
    assert {p["spec"]["containers"][0]["image"] for p in _pods(server, namespace).values()} == \
        {"nginx:1.27"}
    assert _status(kubectl, namespace)["currentRevision"] == second

    history = kubectl("-n", namespace, "rollout", "history", "sts/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("-n", namespace, "rollout", "undo", "sts/web")
    kubectl("-n", namespace, "rollout", "status", "sts/web", "--timeout=60s")
    _wait(lambda: {p["spec"]["containers"][0]["image"]
                   for p in _pods(server, namespace).values()} == {"nginx:1.26"},
          what="every pod back at the first template")
    status = _status(kubectl, namespace)
    assert status["updateRevision"] == status["currentRevision"] == first
    assert _get(kubectl, namespace, "controllerrevision", first)["revision"] == 3


def test_parallel_management_and_the_when_scaled_delete_policy(server, kubectl, namespace,
                                                                kubelet):
    kubelet.allowed = set()
    kubectl("apply", "-f", "-", input=json.dumps(_statefulset(
        namespace, 3, podManagementPolicy="Parallel",
        persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete",
                                              "whenDeleted": "Retain"})))
    # no pod is Ready, yet all three are made at once
    _wait(lambda: set(_pods(server, namespace)) == {"web-0", "web-1", "web-2"},
          what="three pods in parallel")
    assert set(_wait(lambda: len(_claims(server, namespace)) == 3 and
                     _claims(server, namespace))) == {"data-web-0", "data-web-1", "data-web-2"}
    kubelet.allowed = None
    _wait(lambda: _status(kubectl, namespace).get("readyReplicas") == 3, what="3 ready")
    kubectl("-n", namespace, "scale", "sts/web", "--replicas=1")
    _wait(lambda: set(_pods(server, namespace)) == {"web-0"}, what="scale down to web-0")
    # the scaled-away pods' claims were owned by their pods: the garbage collector takes them
    _wait(lambda: set(_claims(server, namespace)) == {"data-web-0"}, timeout=40,
          what="the claims of web-1 and web-2 deleted")
    kept = _claims(server, namespace)["data-web-0"]
    assert not kept["metadata"].get("ownerReferences")


def test_when_deleted_delete_claims_go_with_the_set(server, kubectl, namespace, kubelet):
    kubectl("apply", "-f", "-", input=json.dumps(_statefulset(
        namespace, 1, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                            "whenScaled": "Retain"})))
    sts = _get(kubectl, namespace, "sts", "web")
    claim = _wait(lambda: _claims(server, namespace).get("data-web-0"), what="data-web-0")
    refs = claim["metadata"]["ownerReferences"]
    assert [(r["kind"], r["name"], r["uid"]) for r in refs] == \
        [("StatefulSet", "web", sts["metadata"]["uid"])]
    kubectl("-n", namespace, "rollout", "status", "sts/web", "--timeout=60s")
    kubectl("-n", namespace, "delete", "sts", "web", "--wait=false")
    _wait(lambda: not _claims(server, namespace), timeout=40,
          what="the claim deleted with its StatefulSet")
