"""The official Python ``kubernetes`` client (v37) against a real ``manage.py up``."""
from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client as k
from kubernetes import watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def core(client):
    return k.CoreV1Api(client)


@pytest.fixture
def apps(client):
    return k.AppsV1Api(client)


def status_of(exc: ApiException) -> dict:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure", body
    assert body["code"] == exc.status, body
    return body


def client_to_dict(obj) -> dict:
    return k.ApiClient().sanitize_for_serialization(obj)


def cm_body(name, data=None, labels=None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "data": data or {}}


# --- ConfigMap CRUD -------------------------------------------------------------------------

def test_configmap_crud(core, namespace):
    created = core.create_namespaced_config_map(
        namespace, k.V1ConfigMap(metadata=k.V1ObjectMeta(name="py", labels={"a": "1"}),
                                 data={"k": "v"}))
    assert isinstance(created, k.V1ConfigMap)
    assert created.metadata.name == "py" and created.metadata.namespace == namespace
    assert created.metadata.uid and created.metadata.resource_version.isdigit()
    assert created.metadata.creation_timestamp is not None
    assert created.data == {"k": "v"}

    read = core.read_namespaced_config_map("py", namespace)
    assert read.metadata.uid == created.metadata.uid
    assert read.metadata.resource_version == created.metadata.resource_version

    read.data["k2"] = "v2"
    replaced = core.replace_namespaced_config_map("py", namespace, read)
    assert replaced.data == {"k": "v", "k2": "v2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp

    # a dict body is sent as a strategic merge patch: maps merge, null deletes
    patched = core.patch_namespaced_config_map(
        "py", namespace, {"metadata": {"labels": {"b": "2"}}, "data": {"k": None, "k3": "v3"}})
    assert patched.metadata.labels == {"a": "1", "b": "2"}
    assert patched.data == {"k2": "v2", "k3": "v3"}

    # a list body is a JSON patch
    patched = core.patch_namespaced_config_map(
        "py", namespace, [{"op": "replace", "path": "/data/k2", "value": "jp"}])
    assert patched.data == {"k2": "jp", "k3": "v3"}

    # explicit merge patch
    patched = core.patch_namespaced_config_map(
        "py", namespace, {"data": {"k3": None}}, _content_type="application/merge-patch+json")
    assert patched.data == {"k2": "jp"}

    status = core.delete_namespaced_config_map("py", namespace)   # v37 returns a dict here
    assert status["kind"] == "Status" and status["status"] == "Success", status
    assert status["details"]["name"] == "py" and status["details"]["kind"] == "configmaps"
    assert status["details"]["uid"] == created.metadata.uid

    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("py", namespace)
    assert info.value.status == 404


def test_create_with_dict_body_and_generate_name(core, namespace):
    made = core.create_namespaced_config_map(
        namespace, {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"generateName": "gen-"}, "data": {"x": "1"}})
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == len("gen-") + 5
    assert made.metadata.generate_name == "gen-"


def test_server_side_apply_with_python_client(core, namespace):
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ssa-py", "namespace": namespace}, "data": {"a": "1"}}
    made = core.patch_namespaced_config_map("ssa-py", namespace, body, field_manager="py-test",
                                            _content_type="application/apply-patch+yaml")
    assert made.data == {"a": "1"}
    assert [(m.manager, m.operation) for m in made.metadata.managed_fields] == [("py-test", "Apply")]


def test_list_with_label_selector(core, namespace):
    for name, labels in (("l1", {"app": "x"}), ("l2", {"app": "y"}), ("l3", None)):
        core.create_namespaced_config_map(namespace, cm_body(name, labels=labels))

    def names(**kw):
        return sorted(i.metadata.name for i in core.list_namespaced_config_map(namespace, **kw).items)

    assert names(label_selector="app=x") == ["l1"]
    assert names(label_selector="app in (x,y)") == ["l1", "l2"]
    assert names(label_selector="!app") == ["l3"]
    assert names(label_selector="app=nope") == []
    assert names(field_selector="metadata.name=l2") == ["l2"]

    lst = core.list_namespaced_config_map(namespace)
    assert lst.metadata.resource_version.isdigit()
    assert {"l1", "l2", "l3"} <= {i.metadata.name for i in lst.items}

    # paging with the client
    page = core.list_namespaced_config_map(namespace, limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = core.list_namespaced_config_map(namespace, limit=2, _continue=page.metadata._continue)
    seen = [i.metadata.name for i in page.items + rest.items]
    assert len(seen) == len(set(seen))
    assert {"l1", "l2", "l3"} <= set(seen)


def test_list_namespace(core):
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    ns = core.read_namespace("default")
    assert ns.status.phase == "Active"


def test_delete_namespace_is_terminating_then_gone(core):
    name = f"e2e-pyns-{int(time.time() * 1000) % 10**8}"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    core.create_namespaced_config_map(name, cm_body("inside"))
    # the DELETE answer is the namespace itself, already Terminating (finalizer pending)
    answer = core.delete_namespace(name)
    answer = answer if isinstance(answer, dict) else client_to_dict(answer)
    assert answer["kind"] == "Namespace", answer
    assert answer["metadata"].get("deletionTimestamp"), answer
    assert answer["status"]["phase"] == "Terminating", answer
    deadline = time.monotonic() + 20
    while True:
        try:
            ns = core.read_namespace(name)
        except ApiException as exc:
            assert exc.status == 404
            break
        assert ns.status.phase == "Terminating"
        assert time.monotonic() < deadline, "namespace not gone within 20 s"
        time.sleep(0.2)
    assert core.list_namespaced_config_map(name).items == []


def test_list_config_maps_all_namespaces(core, namespace):
    core.create_namespaced_config_map(namespace, cm_body("everywhere"))
    found = [i for i in core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={namespace}").items]
    assert [(i.metadata.namespace, i.metadata.name) for i in found] == [(namespace, "everywhere")]


# --- errors ---------------------------------------------------------------------------------

def test_api_exception_404(core, namespace):
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("nope", namespace)
    assert info.value.status == 404
    body = status_of(info.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "configmaps"}

    with pytest.raises(ApiException) as info:
        core.read_namespace("no-such-namespace")
    assert status_of(info.value)["message"] == 'namespaces "no-such-namespace" not found'


def test_api_exception_409_already_exists_and_conflict(core, namespace):
    core.create_namespaced_config_map(namespace, cm_body("dup", {"a": "1"}))
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, cm_body("dup"))
    assert info.value.status == 409
    body = status_of(info.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'
    assert body["details"] == {"name": "dup", "kind": "configmaps"}

    stale = core.read_namespaced_config_map("dup", namespace)
    core.patch_namespaced_config_map("dup", namespace, {"data": {"a": "2"}})
    stale.data = {"a": "3"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("dup", namespace, stale)
    assert info.value.status == 409
    body = status_of(info.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on configmaps "dup": the object has '
                               'been modified; please apply your changes to the latest version '
                               'and try again')
    assert core.read_namespaced_config_map("dup", namespace).data == {"a": "2"}


def test_api_exception_422_invalid(core, namespace):
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, cm_body("Bad_Name"))
    assert info.value.status == 422
    body = status_of(info.value)
    assert body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: '
                                      '"Bad_Name": a lowercase RFC 1123 subdomain must consist of')
    assert body["details"]["name"] == "Bad_Name"
    assert body["details"]["kind"] == "ConfigMap"
    causes = body["details"]["causes"]
    assert causes[0]["reason"] == "FieldValueInvalid"
    assert causes[0]["field"] == "metadata.name"

    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "badkey"},
                                                      "data": {"not a key!": "x"}})
    assert info.value.status == 422
    assert status_of(info.value)["details"]["causes"][0]["field"] == "data[not a key!]"


def test_api_exception_namespace_missing(core):
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("ghost-ns", cm_body("x"))
    assert info.value.status == 404
    body = status_of(info.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "ghost-ns" not found'


# --- watch ----------------------------------------------------------------------------------

def test_watch_configmaps(core, namespace):
    core.create_namespaced_config_map(namespace, cm_body("w-existing"))

    def change():
        core.create_namespaced_config_map(namespace, cm_body("w-new"))
        core.patch_namespaced_config_map("w-new", namespace, {"data": {"x": "1"}})
        core.delete_namespaced_config_map("w-new", namespace)

    events = []
    t = threading.Thread(target=change)
    w = watch.Watch()
    deadline = time.monotonic() + 15
    try:
        for ev in w.stream(core.list_namespaced_config_map, namespace, timeout_seconds=10):
            events.append((ev["type"], ev["object"].metadata.name))
            if len(events) == 1:
                t.start()        # the watch is established: now change things
            if ev["type"] == "DELETED" or time.monotonic() > deadline:
                break
    finally:
        w.stop()
        if t.is_alive() or t.ident:
            t.join()
    # a watch without resourceVersion starts with a synthetic ADDED for what exists
    assert events == [("ADDED", "w-existing"), ("ADDED", "w-new"), ("MODIFIED", "w-new"),
                      ("DELETED", "w-new")], events


# --- apps/v1 Deployments (plain tests: they fail until apps/v1 is served) ---------------------

def deployment_body(name):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "busybox:1.36", "command": ["sleep", "3600"]},
                ]},
            },
        },
    }


def test_apps_v1_deployments_in_discovery(client):
    resources = k.AppsV1Api(client).get_api_resources()
    assert resources.group_version == "apps/v1"
    by_name = {r.name: r for r in resources.resources}
    assert by_name["deployments"].kind == "Deployment"
    assert by_name["deployments"].namespaced is True
    assert "deploy" in (by_name["deployments"].short_names or [])
    assert "deployments/scale" in by_name and "deployments/status" in by_name


def test_deployment_create_read_scale_patch_delete(apps, namespace):
    made = apps.create_namespaced_deployment(namespace, deployment_body("web"))
    assert isinstance(made, k.V1Deployment)
    assert made.metadata.generation == 1
    assert made.spec.replicas == 2
    # defaults a real server fills in
    assert made.spec.strategy.type == "RollingUpdate"
    assert made.spec.revision_history_limit == 10
    assert made.spec.progress_deadline_seconds == 600
    assert made.spec.template.spec.restart_policy == "Always"
    assert made.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"

    read = apps.read_namespaced_deployment("web", namespace)
    assert read.metadata.uid == made.metadata.uid
    assert [c.name for c in read.spec.template.spec.containers] == ["web", "side"]

    scaled = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
    assert isinstance(scaled, k.V1Scale)
    assert scaled.spec.replicas == 3
    read = apps.read_namespaced_deployment("web", namespace)
    assert read.spec.replicas == 3
    assert read.metadata.generation == 2

    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert scale.spec.replicas == 3
    assert scale.metadata.name == "web"

    # dict → strategic merge patch: containers merge by name, the other container stays
    patched = apps.patch_namespaced_deployment(
        "web", namespace,
        {"spec": {"replicas": 1,
                  "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}})
    assert patched.spec.replicas == 1
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"web", "side"}
    assert containers["web"].image == "nginx:1.28"
    assert containers["web"].ports[0].container_port == 80
    assert containers["side"].command == ["sleep", "3600"]
    assert patched.metadata.generation == 3

    listed = apps.list_namespaced_deployment(namespace, label_selector="app=web")
    assert [d.metadata.name for d in listed.items] == ["web"]

    status = apps.delete_namespaced_deployment("web", namespace)
    status = status if isinstance(status, dict) else client_to_dict(status)
    assert (status["kind"], status.get("status")) == ("Status", "Success") \
        or status["kind"] == "Deployment", status
    deadline = time.monotonic() + 10
    while True:
        try:
            apps.read_namespaced_deployment("web", namespace)
        except ApiException as exc:
            assert exc.status == 404
            break
        assert time.monotonic() < deadline, "deployment not deleted within 10 s"
        time.sleep(0.2)


def test_deployment_invalid_selector_is_422(apps, namespace):
    body = deployment_body("bad")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(namespace, body)
    assert info.value.status == 422
    body = status_of(info.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "Deployment"
    assert any(c["field"] == "spec.template.metadata.labels" for c in body["details"]["causes"])

