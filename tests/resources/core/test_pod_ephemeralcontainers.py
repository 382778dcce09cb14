"""``pods/<name>/ephemeralcontainers`` through the real handler chain.

Behaviour of kubernetes/kubernetes:pkg/registry/core/pod/strategy.go
(``podEphemeralContainersStrategy``, ``dropNonEphemeralContainerUpdates``) and
``ValidatePodEphemeralContainersUpdate`` in pkg/apis/core/validation/validation.go; cases
after validation_test.go (TestValidatePodEphemeralContainersUpdate) and what
``kubectl debug`` sends (a strategic merge patch of ``spec.ephemeralContainers``).
"""
from __future__ import annotations

import pytest

from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

POD = "/api/v1/namespaces/default/pods/web"
SUB = POD + "/ephemeralcontainers"
SMP = "application/strategic-merge-patch+json"
DEBUGGER = {"name": "debugger", "image": "busybox:1.36", "stdin": True, "tty": True,
            "targetContainerName": "app"}


@pytest.fixture
def client(db):
    ensure_revision_row()
    client = ASGIClient(in_process_app()[1])
    resp = client.post("/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
    assert resp.status_code == 201
    return client


def add(client, *containers):
    return client.patch(SUB, {"spec": {"ephemeralContainers": list(containers)}}, SMP)


def causes(resp) -> list:
    return [(c.get("field", ""), c["message"]) for c in resp.json()["details"]["causes"]]


def test_kubectl_debug_patch_adds_a_defaulted_container(client):
    resp = add(client, DEBUGGER)
    assert resp.status_code == 200, resp.json()
    [added] = resp.json()["spec"]["ephemeralContainers"]
    assert added["name"] == "debugger" and added["targetContainerName"] == "app"
    assert added["imagePullPolicy"] == "IfNotPresent"
    assert added["terminationMessagePolicy"] == "File"
    got = client.get(SUB).json()
    assert got["kind"] == "Pod" and got["spec"]["ephemeralContainers"][0]["name"] == "debugger"
    fields = resp.json()["metadata"]["managedFields"]
    assert any(f.get("subresource") == "ephemeralcontainers" for f in fields)


def test_only_ephemeral_containers_change(client):
    before = client.get(POD).json()
    body = dict(before)
    body["metadata"] = {**before["metadata"], "labels": {"app": "changed"}}
    body["spec"] = {**before["spec"], "activeDeadlineSeconds": 5,
                    "containers": [{**before["spec"]["containers"][0], "image": "nginx:2"}],
                    "ephemeralContainers": [DEBUGGER]}
    body["status"] = {"phase": "Running"}
    resp = client.put(SUB, body)
    assert resp.status_code == 200, resp.json()
    after = resp.json()
    assert after["metadata"]["labels"] == {"app": "web"}
    assert after["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "activeDeadlineSeconds" not in after["spec"]
    assert after["status"]["phase"] == "Pending"
    assert [c["name"] for c in after["spec"]["ephemeralContainers"]] == ["debugger"]


def test_existing_ephemeral_containers_may_not_change_or_go(client):
    assert add(client, DEBUGGER).status_code == 200
    resp = client.patch(SUB, {"spec": {"ephemeralContainers": [{**DEBUGGER, "image": "alpine"}]}}, SMP)
    assert resp.status_code == 422
    [(field, message)] = causes(resp)
    assert field == "spec.ephemeralContainers.debugger"
    assert message.startswith('Forbidden: existing ephemeral containers "debugger" may not be changed\n')
    pod = client.get(POD).json()
    pod["spec"]["ephemeralContainers"] = []
    resp = client.put(SUB, pod)
    assert resp.status_code == 422
    assert causes(resp) == [("spec.ephemeralContainers",
                             'Forbidden: existing ephemeral containers "debugger" may not be removed\n')]


def test_new_containers_are_validated(client):
    resp = add(client, {"name": "dbg", "image": "busybox", "ports": [{"containerPort": 80}],
                        "readinessProbe": {"exec": {"command": ["true"]}},
                        "targetContainerName": "nope"})
    assert resp.status_code == 422
    got = causes(resp)
    assert ("spec.ephemeralContainers[0].ports", "Forbidden: cannot be set for an Ephemeral Container") in got
    assert ("spec.ephemeralContainers[0].readinessProbe",
            "Forbidden: cannot be set for an Ephemeral Container") in got
    assert ("spec.ephemeralContainers[0].targetContainerName", 'Not found: "nope"') in got
    resp = add(client, {"name": "app", "image": "busybox"})
    assert causes(resp) == [("spec.ephemeralContainers[0].name", 'Duplicate value: "app"')]


def test_static_pods_do_not_support_ephemeral_containers(client):
    client.patch(POD, {"metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}},
                 "application/merge-patch+json")
    resp = add(client, DEBUGGER)
    assert resp.status_code == 422
    assert causes(resp) == [("", "Forbidden: static pods do not support ephemeral containers")]


def test_main_resource_cannot_add_ephemeral_containers(client):
    resp = client.patch(POD, {"spec": {"ephemeralContainers": [DEBUGGER]}}, SMP)
    assert resp.status_code == 422
    assert causes(resp)[0][0] == "spec"
    resp = client.post("/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "eph"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}], "ephemeralContainers": [DEBUGGER]}})
    assert resp.status_code == 422
    assert causes(resp) == [("spec.ephemeralContainers", "Forbidden: cannot be set on create")]


def test_discovery_lists_the_subresource(client):
    resources = client.get("/api/v1").json()["resources"]
    entry = next(r for r in resources if r["name"] == "pods/ephemeralcontainers")
    assert entry["kind"] == "Pod" and sorted(entry["verbs"]) == ["get", "patch", "update"]
