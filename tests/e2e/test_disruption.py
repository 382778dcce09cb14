"""The disruption controller run by ``manage.py up``: PodDisruptionBudget status follows the
pods it selects, and the eviction subresource spends what it allows (as ``kubectl drain``
does).  No kubelet runs here: a loop in the test marks pods Running and Ready while it is
switched on, as a node would."""
from __future__ import annotations

import json
import threading
import time

import pytest

from controller_support import wait_for
from kubernetes import client as k8s

BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


class Kubelet:
    """Marks the namespace's Pending pods Running/Ready while ``on`` is set."""

    def __init__(self, server, namespace):
        self.server, self.namespace = server, namespace
        self.on, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        ns = self.namespace
        while not self.stop.is_set():
            if self.on.is_set():
                status, _, body = self.server.request("GET", f"/api/v1/namespaces/{ns}/pods")
                for p in json.loads(body)["items"] if status == 200 else []:
                    if p["status"].get("phase") != "Pending" or \
                            p["metadata"].get("deletionTimestamp"):
                        continue
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    self.server.request(
                        "PATCH", f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}/status",
                        body=json.dumps({"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True",
                             "lastTransitionTime": now}]}}).encode(),
                        headers={"Content-Type": "application/merge-patch+json"})
            self.stop.wait(0.2)


@pytest.fixture
def kubelet(server, namespace):
    k = Kubelet(server, namespace)
    k.on.set()
    k.thread.start()
    yield k
    k.stop.set()
    k.thread.join(5)


def _wait(predicate, timeout=30.0):
    return wait_for(predicate, timeout)


def _apply(kubectl, namespace, obj):
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(obj))


def _workload(kind, name, replicas):
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _pdb(name, selector, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": selector}, **spec}}


def _status(server, namespace, name):
    return server.get_json(f"/apis/policy/v1/namespaces/{namespace}/"
                           f"poddisruptionbudgets/{name}").get("status") or {}


def _live_pods(server, namespace, app):
    items = server.get_json(f"/api/v1/namespaces/{namespace}/pods?labelSelector=app%3D{app}")
    return [p for p in items["items"] if not p["metadata"].get("deletionTimestamp")]


def _evict(core, namespace, name):
    return core.create_namespaced_pod_eviction(name, namespace, k8s.V1Eviction(
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace)))


def test_a_budget_allows_one_eviction_then_refuses_until_the_replacement_is_ready(
        server, kubectl, client, namespace, kubelet):
    _apply(kubectl, namespace, _workload("ReplicaSet", "web", 3))
    _apply(kubectl, namespace, _pdb("web", {"app": "web"}, minAvailable=2))
    settled = lambda: (s := _status(server, namespace, "web")).get(  # noqa: E731
        "currentHealthy") == 3 and s.get("disruptionsAllowed") == 1 and s
    status = _wait(settled)
    assert status, _status(server, namespace, "web")
    assert (status["expectedPods"], status["desiredHealthy"]) == (3, 2)
    assert status["observedGeneration"] == 1
    cond = next(c for c in status["conditions"] if c["type"] == "DisruptionAllowed")
    assert (cond["status"], cond["reason"], cond["message"]) == ("True", "SufficientPods", "")
    assert kubectl("-n", namespace, "get", "pdb", "web").stdout.split("\n")[1].split()[3] == "1"

    kubelet.on.clear()                  # the replacement stays Pending for now
    core = k8s.CoreV1Api(client)
    first, second = [p["metadata"]["name"] for p in _live_pods(server, namespace, "web")][:2]
    _evict(core, namespace, first)
    # the eviction spent the one allowed disruption (its disruptedPods entry may already be
    # gone: the pod was deleted at once, having no node, and the controller dropped it)
    assert _status(server, namespace, "web")["disruptionsAllowed"] == 0

    with pytest.raises(k8s.ApiException) as refused:
        _evict(core, namespace, second)
    assert refused.value.status == 429
    body = json.loads(refused.value.body)
    assert body["message"] == BUDGET_MESSAGE
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    # "has 3" while the eviction's own status write is the latest, "has 2" once the
    # controller recounted: upstream's eviction does not touch currentHealthy either
    assert body["details"]["causes"][0]["message"] in (
        "The disruption budget web needs 2 healthy pods and has 3 currently",
        "The disruption budget web needs 2 healthy pods and has 2 currently")

    # the ReplicaSet replaced the evicted pod; while it is not ready nothing more may go
    assert _wait(lambda: len(_live_pods(server, namespace, "web")) == 3)
    status = _wait(lambda: (s := _status(server, namespace, "web")).get("currentHealthy") == 2
                   and s)
    assert status["disruptionsAllowed"] == 0
    cond = next(c for c in status["conditions"] if c["type"] == "DisruptionAllowed")
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")

    kubelet.on.set()
    status = _wait(settled)
    assert status, _status(server, namespace, "web")
    # the evicted pod is gone (or going), so its disruptedPods entry is dropped
    assert first not in (status.get("disruptedPods") or {})
    _evict(core, namespace, second)


def test_percentages_and_max_unavailable_resolve_through_the_controllers_scale(
        server, kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _workload("Deployment", "api", 4))
    _apply(kubectl, namespace, _pdb("half", {"app": "api"}, maxUnavailable="50%"))
    status = _wait(lambda: (s := _status(server, namespace, "half")).get("currentHealthy") == 4
                   and s)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == \
        (4, 2, 2)

    # minAvailable 30% of the Deployment's 4 rounds up to 2; scaling it to 6 asks for 2 of 6
    _apply(kubectl, namespace, _pdb("half", {"app": "api"}, minAvailable="30%"))
    status = _wait(lambda: (s := _status(server, namespace, "half")).get(
        "observedGeneration") == 2 and s)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == \
        (4, 2, 2)
    kubectl("-n", namespace, "scale", "deploy/api", "--replicas=6")
    status = _wait(lambda: (s := _status(server, namespace, "half")).get("currentHealthy") == 6
                   and s)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == \
        (6, 2, 4)


def test_a_budget_over_a_pod_without_a_known_controller_fails_safe(server, kubectl, namespace,
                                                                   kubelet):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "odd", "labels": {"app": "odd"}, "ownerReferences": [{
            "apiVersion": "example.com/v1", "kind": "Gadget", "name": "g",
            "uid": "00000000-0000-0000-0000-000000000001", "controller": True}]},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pod))
    _apply(kubectl, namespace, _pdb("odd", {"app": "odd"}, maxUnavailable=1))
    cond = lambda: next((c for c in _status(server, namespace, "odd").get(  # noqa: E731
        "conditions") or [] if c["type"] == "DisruptionAllowed"), None)
    found = _wait(lambda: (c := cond()) and c["reason"] == "SyncFailed" and c)
    assert found, _status(server, namespace, "odd")
    assert found["status"] == "False"
    assert found["message"] == 'no matches for kind "Gadget" in version "example.com/v1"'
    assert _status(server, namespace, "odd")["disruptionsAllowed"] == 0
    events = kubectl("-n", namespace, "get", "events", "--field-selector",
                     "reason=CalculateExpectedPodCountFailed", "-o", "json").stdout
    assert "Failed to calculate the number of expected pods" in events


def test_a_custom_resource_with_a_scale_subresource_sets_the_expected_count(
        server, kubectl, namespace, kubelet):
    group = f"d{namespace[4:]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"fleets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "fleets", "singular": "fleet", "kind": "Fleet"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"scale": {
                                      "specReplicasPath": ".spec.replicas",
                                      "statusReplicasPath": ".status.replicas"}},
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}}
    kubectl("create", "-f", "-", input=json.dumps(crd))
    try:
        kubectl("wait", "--for=condition=Established", f"crd/fleets.{group}", "--timeout=30s")
        path = f"/apis/{group}/v1/namespaces/{namespace}/fleets"
        created = _wait(lambda: (r := server.request("POST", path, body={
            "apiVersion": f"{group}/v1", "kind": "Fleet", "metadata": {"name": "f"},
            "spec": {"replicas": 5}}))[0] == 201 and json.loads(r[2]), timeout=15)
        assert created, "the Fleet could not be created"
        for i in range(2):
            kubectl("-n", namespace, "create", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {
                    "name": f"ship-{i}", "labels": {"app": "ship"}, "ownerReferences": [{
                        "apiVersion": f"{group}/v1", "kind": "Fleet", "name": "f",
                        "uid": created["metadata"]["uid"], "controller": True}]},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
        _apply(kubectl, namespace, _pdb("ships", {"app": "ship"}, minAvailable="40%"))
        status = _wait(lambda: (s := _status(server, namespace, "ships")).get(
            "currentHealthy") == 2 and s)
        # 40% of the Fleet's 5 is 2: both running ships are needed, none may go
        assert (status["expectedPods"], status["desiredHealthy"],
                status["disruptionsAllowed"]) == (5, 2, 0), status
        cond = next(c for c in status["conditions"] if c["type"] == "DisruptionAllowed")
        assert cond["reason"] == "InsufficientPods"
    finally:
        kubectl("delete", "crd", f"fleets.{group}", "--wait=false")


def test_unhealthy_pod_eviction_policy_decides_for_unready_pods(server, kubectl, client,
                                                                namespace, kubelet):
    _apply(kubectl, namespace, _workload("ReplicaSet", "db", 2))
    _apply(kubectl, namespace, _pdb("db", {"app": "db"}, minAvailable=2))
    assert _wait(lambda: _status(server, namespace, "db").get("currentHealthy") == 2)
    kubelet.on.clear()
    sick, well = [p["metadata"]["name"] for p in _live_pods(server, namespace, "db")]
    status, _, body = server.request(
        "PATCH", f"/api/v1/namespaces/{namespace}/pods/{sick}/status",
        body=json.dumps({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime":
             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}}).encode(),
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    assert _wait(lambda: _status(server, namespace, "db").get("currentHealthy") == 1)
    core = k8s.CoreV1Api(client)
    # IfHealthyBudget (the default): the budget is not healthy, so even the unready pod stays
    with pytest.raises(k8s.ApiException) as refused:
        _evict(core, namespace, sick)
    assert refused.value.status == 429

    _apply(kubectl, namespace, _pdb("db", {"app": "db"}, minAvailable=2,
                                    unhealthyPodEvictionPolicy="AlwaysAllow"))
    assert _wait(lambda: _status(server, namespace, "db").get("observedGeneration") == 2)
    _evict(core, namespace, sick)                 # unready pods may always go now
    with pytest.raises(k8s.ApiException) as refused:
        _evict(core, namespace, well)             # a ready one still needs the budget
    assert refused.value.status == 429
