"""ReplicationController: defaults from the template, validation messages, status and scale
subresources, generation, field selector and the ``kubectl get rc`` row.

Upstream: kubernetes/kubernetes:pkg/apis/core/v1/defaults.go (SetDefaults_ReplicationController),
pkg/apis/core/validation/validation.go (ValidateReplicationControllerSpec/Status),
pkg/registry/core/replicationcontroller/strategy.go and storage/storage.go (ScaleREST),
printReplicationController in pkg/printers/internalversion/printers.go.
"""
from __future__ import annotations

import copy

import orjson
import pytest
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.core.replicationcontrollers import (ReplicationControllerStrategy, validate_spec,
                                                   validate_status)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

S = ReplicationControllerStrategy()
RCS = "/api/v1/namespaces/default/replicationcontrollers"


def texts(errs):
    return [e.error_text() for e in errs]


def rc(name="web", replicas=None, selector=None, labels=None):
    spec = {"template": {"metadata": {"labels": labels if labels is not None else {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": spec}


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("", "v1", "replicationcontrollers")


@pytest.fixture
def client(db):
    ensure_revision_row()
    return ASGIClient(in_process_app()[1])


def test_declarations():
    assert (S.short_names, S.categories, S.subresource_names()) == (("rc",), ("all",), ("status", "scale"))
    assert [(c.name, c.type, c.priority) for c in S.columns] == [
        ("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
        ("Ready", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
        ("Images", "string", 1), ("Selector", "string", 1)]


def test_defaults_from_template(store, ctx):
    got = orjson.loads(store.create("default", rc(), ctx))
    assert got["spec"]["replicas"] == 1
    assert got["spec"]["selector"] == {"app": "web"}
    assert got["metadata"]["labels"] == {"app": "web"}
    assert got["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert got["status"] == {"replicas": 0}          # Go writes the int32 even when zero
    assert got["metadata"]["generation"] == 1
    own = rc("own", selector={"app": "web"})
    own["metadata"]["labels"] = {"team": "a"}
    got = orjson.loads(store.create("default", own, ctx))
    assert got["metadata"]["labels"] == {"team": "a"}


def test_validation_messages():
    spec = rc(replicas=-1, selector={"app": "other"})["spec"]
    S.default({"spec": spec})
    assert texts(validate_spec(spec)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]
    spec = rc(labels={})["spec"]
    spec["template"]["spec"]["restartPolicy"] = "Never"
    spec["template"]["spec"]["activeDeadlineSeconds"] = 10
    assert texts(validate_spec(spec))[:1] == ["spec.selector: Required value"]
    assert texts(validate_spec(spec))[-2:] == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
        "ReplicationController is not Supported"]
    assert texts(validate_spec({"selector": {"a": "b"}})) == ["spec.template: Required value"]


def test_status_subresource_and_validation(store, ctx):
    created = orjson.loads(store.create("default", rc(replicas=3), ctx))
    sctx = RequestContext(user=ctx.user, field_manager="tests", subresource="status")
    new = copy.deepcopy(created)
    new["status"] = {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2,
                     "observedGeneration": 1}
    new["spec"]["replicas"] = 9                                        # ignored on /status
    got = orjson.loads(store.update("default", "web", new, sctx)[0])
    assert got["spec"]["replicas"] == 3 and got["status"]["readyReplicas"] == 2
    assert texts(validate_status({"replicas": 1, "readyReplicas": 2, "availableReplicas": 3})) == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas"]
    bad = copy.deepcopy(got)
    bad["status"] = {"replicas": -1}
    with pytest.raises(errors.Invalid):
        store.update("default", "web", bad, sctx)
    # a status write that leaves replicas out still stores the zero value
    empty = copy.deepcopy(got)
    empty["status"] = {}
    assert orjson.loads(store.update("default", "web", empty, sctx)[0])["status"] == {"replicas": 0}


def test_generation_and_field_selector(store, ctx):
    created = orjson.loads(store.create("default", rc(replicas=2), ctx))
    changed = copy.deepcopy(created)
    changed["spec"]["replicas"] = 4
    assert orjson.loads(store.update("default", "web", changed, ctx)[0])["metadata"]["generation"] == 2
    store.create("default", rc("other", replicas=1), ctx)
    page = store.list("default", field_selector="status.replicas=0,metadata.name=other")
    assert [orjson.loads(d)["metadata"]["name"] for d in page["items"]] == ["other"]


def test_scale_subresource(client):
    assert client.post(RCS, rc(replicas=2)).status_code == 201
    got = client.get(RCS + "/web/scale")
    assert got.status_code == 200
    body = got.json()
    assert (body["kind"], body["spec"], body["status"]) == ("Scale", {"replicas": 2}, {"replicas": 0})
    scale = dict(body, spec={"replicas": 5})
    put = client.put(RCS + "/web/scale", scale)
    assert put.status_code == 200 and put.json()["spec"] == {"replicas": 5}
    assert client.get(RCS + "/web").json()["spec"]["replicas"] == 5


def test_table_row():
    obj = rc(replicas=3)
    obj["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    S.default(obj)
    obj["status"] = {"replicas": 2, "readyReplicas": 1}
    row = S.table_row(obj)
    assert row[:4] == ["web", 3, 2, 1]
    assert row[5:] == ["app", "nginx", "app=web"]
