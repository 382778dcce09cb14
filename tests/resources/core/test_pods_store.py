"""Pods through the real Store and SQL storage: create, ``pods/binding``, graceful delete.

The binding as kubernetes/kubernetes:pkg/registry/core/pod/storage/storage.go (``BindingREST``)
does it; cases from kubernetes/kubernetes:pkg/registry/core/pod/storage/storage_test.go
(TestEtcdCreateBinding, TestEtcdCreateWithConflict).
"""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row

SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


@pytest.fixture
def pods(stores):
    ensure_revision_row()
    return stores.store("", "v1", "pods")


def pod(name="web"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def binding(name="web", node="n1", **annotations):
    meta = {"name": name, "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Binding", "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def bind(pods, body, ctx, name="web"):
    return pods.strategy.subresource("binding").create(ctx, pods, "default", name, body)


def get(pods, name="web"):
    return orjson.loads(pods.get("default", name))


def test_create_defaults_and_initial_status(pods, ctx):
    obj = orjson.loads(pods.create("default", pod(), ctx))
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_client_cannot_set_status_on_create(pods, ctx):
    body = pod()
    body["status"] = {"phase": "Running"}
    assert orjson.loads(pods.create("default", body, ctx))["status"]["phase"] == "Pending"


def test_binding_assigns_node_annotations_and_condition(pods, ctx):
    pods.create("default", pod(), ctx)
    code, body = bind(pods, binding(note="x"), ctx)
    assert (code, body) == (201, SUCCESS)
    obj = get(pods)
    assert obj["spec"]["nodeName"] == "n1"
    assert obj["metadata"]["annotations"] == {"note": "x"}
    cond = [c for c in obj["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond and cond[0]["status"] == "True"
    assert obj["status"]["phase"] == "Pending"            # the rest of status is kept
    # the binding relaxed the rules only for itself: a later update still may not move it
    moved = get(pods)
    moved["spec"]["nodeName"] = "n2"
    with pytest.raises(errors.Invalid):
        pods.update("default", "web", moved, ctx)


def test_second_binding_conflicts(pods, ctx):
    pods.create("default", pod(), ctx)
    bind(pods, binding(), ctx)
    with pytest.raises(errors.Conflict) as exc:
        bind(pods, binding(node="n2"), ctx)
    assert exc.value.message == ('Operation cannot be fulfilled on pods/binding "web": '
                                 'pod web is already assigned to node "n1"')
    assert get(pods)["spec"]["nodeName"] == "n1"


def test_binding_a_pod_being_deleted_conflicts(pods, ctx):
    body = pod()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    pods.create("default", body, ctx)
    pods.delete("default", "web", {}, ctx)                 # unscheduled: grace 0, finalizer holds
    assert get(pods)["metadata"]["deletionTimestamp"]
    with pytest.raises(errors.Conflict) as exc:
        bind(pods, binding(), ctx)
    assert "pod web is being deleted, cannot be assigned to a host" in exc.value.message


def test_binding_missing_pod_is_not_found(pods, ctx):
    with pytest.raises(errors.NotFound):
        bind(pods, binding(name="ghost"), ctx, name="ghost")


def test_binding_name_mismatch_is_bad_request(pods, ctx):
    pods.create("default", pod(), ctx)
    with pytest.raises(errors.BadRequest):
        bind(pods, binding(name="other"), ctx)


def test_binding_dry_run_writes_nothing(pods, ctx):
    pods.create("default", pod(), ctx)
    bind(pods, binding(), RequestContext(dry_run=True, field_manager="t"))
    assert "nodeName" not in get(pods)["spec"]


def test_unscheduled_pod_deletes_at_once(pods, ctx):
    pods.create("default", pod(), ctx)
    pods.delete("default", "web", {}, ctx)
    with pytest.raises(errors.NotFound):
        pods.get("default", "web")


def test_scheduled_pod_deletes_gracefully(pods, ctx):
    pods.create("default", pod(), ctx)
    bind(pods, binding(), ctx)
    doc, gone = pods.delete("default", "web", {}, ctx)
    obj = orjson.loads(doc)
    assert gone is False
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 30
    assert pods.strategy.table_row(get(pods))[2] == "Terminating"
    pods.delete("default", "web", {"gracePeriodSeconds": 0}, ctx)
    with pytest.raises(errors.NotFound):
        pods.get("default", "web")


def test_field_selector_on_node_name(pods, ctx):
    pods.create("default", pod("a"), ctx)
    pods.create("default", pod("b"), ctx)
    bind(pods, binding(name="a"), ctx, name="a")
    page = pods.list("default", field_selector="spec.nodeName=n1")
    assert [orjson.loads(d)["metadata"]["name"] for d in page["items"]] == ["a"]
    page = pods.list("default", field_selector="spec.nodeName=")
    assert [orjson.loads(d)["metadata"]["name"] for d in page["items"]] == ["b"]


def test_legacy_bindings_resource_binds_the_named_pod(stores, ctx):
    """POST …/bindings names the pod in metadata.name and binds it like pods/<name>/binding."""
    pods = stores.store("", "v1", "pods")
    bindings = stores.store("", "v1", "bindings")
    assert bindings is not None and not bindings.strategy.stored
    pods.create("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lb"},
                            "spec": {"containers": [{"name": "c", "image": "i"}]}}, ctx)
    code, body = bindings.strategy.create_virtual(ctx, "default", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "lb"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}})
    assert code == 201 and body["status"] == "Success"
    assert orjson.loads(pods.get("default", "lb"))["spec"]["nodeName"] == "n1"


def test_a_new_namespace_gets_a_default_service_account(stores, ctx):
    stores.store("", "v1", "namespaces").create(None, {"metadata": {"name": "fresh-ns"}}, ctx)
    import orjson
    sa = orjson.loads(stores.store("", "v1", "serviceaccounts").get("fresh-ns", "default"))
    assert sa["metadata"]["namespace"] == "fresh-ns"
    dry = RequestContext(field_manager="t", dry_run=True)
    stores.store("", "v1", "namespaces").create(None, {"metadata": {"name": "dry-ns"}}, dry)
    from apiserver.runtime import errors as api_errors
    with pytest.raises(api_errors.NotFound):
        stores.store("", "v1", "serviceaccounts").get("dry-ns", "default")
