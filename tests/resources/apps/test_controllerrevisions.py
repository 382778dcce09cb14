"""apps/v1 ControllerRevision: the generic battery, validation, immutable data and the
CONTROLLER column."""
from __future__ import annotations

import orjson
import pytest
from django.db import connections

from apiserver.registry.context import RequestContext
from apiserver.server import bridge
from resources.apps.controllerrevisions import ControllerRevisionStrategy
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set

S = ControllerRevisionStrategy()
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PATH = "/apis/apps/v1/namespaces/default/controllerrevisions"


def revision(name="web-5d8f7c", owner=None, **fields):
    m = {"name": name, "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}
    if owner:
        m["ownerReferences"] = [owner]
    obj = {"metadata": m, "data": {"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}},
           "revision": 1, **fields}
    S.default(obj)
    return obj


def owner(api_version="apps/v1", kind="StatefulSet", name="web", controller=True):
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": "u-1",
            "controller": controller}


def texts(errs):
    return [e.error_text() for e in errs]


class TestControllerRevisionBattery(KindBattery):
    group, resource = "apps", "controllerrevisions"

    def valid(self, name):
        return {"metadata": {"name": name}, "data": {"spec": {"replicas": 1}}, "revision": 3}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-data"), "data", None), "data"),
                (_set(v("negative"), "revision", -1), "revision"),
                (_set(v("Bad_Name"), "revision", 1), "metadata.name")]


def test_declarations_and_defaults():
    assert (S.group, S.plural, S.namespaced, S.short_names) == \
        ("apps", "controllerrevisions", True, ())
    assert [c.name for c in S.columns] == ["Name", "Controller", "Revision", "Age"]
    assert S.columns[1].description == "Controller of the object"
    obj = {"metadata": {"name": "r"}, "data": {}}
    S.default(obj)
    assert obj["revision"] == 0


def test_validation_messages():
    ctx = RequestContext()
    assert S.validate(ctx, revision()) == []
    assert texts(S.validate(ctx, revision(data=None, revision=-2))) == [
        "data: Required value: data is mandatory",
        "revision: Invalid value: -2: must be greater than or equal to 0"]


def test_data_is_immutable_revision_is_not():
    ctx = RequestContext()
    old = revision()
    assert S.validate_update(ctx, revision(revision=7), old) == []
    changed = revision(data={"spec": {}})
    assert texts(S.validate_update(ctx, changed, old)) == [
        'data: Invalid value: {"spec": {}}: field is immutable']


def test_controller_column():
    assert S.table_row(revision(owner=owner()))[:3] == ["web-5d8f7c", "statefulset.apps/web", 1]
    assert S.table_row(revision(owner=owner("v1", "Pod", "p")))[1] == "pod/p"
    assert S.table_row(revision(owner=owner(controller=False)))[1] == "<none>"
    assert S.table_row(revision())[1] == "<none>"
    assert S.table_row(revision(owner=owner("example.com/v1", "MyCtl", "x")))[1] == \
        "myctl.example.com/x"


@pytest.fixture
def client(db, monkeypatch):
    monkeypatch.setattr(bridge, "close_old_connections", lambda: None)
    ensure_revision_row()
    app, conn = in_process_app()[1], connections["default"]

    def bound(scope, receive, send):
        connections["default"] = conn
        return app(scope, receive, send)
    return ASGIClient(bound)


def test_http_round_trip_keeps_raw_data(client):
    data = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
            "anything": [1, "two", {"three": None}]}
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "web-1", "ownerReferences": [owner()]}, "data": data}
    created = client.post(PATH, body)
    assert created.status_code == 201, created.json()
    got = client.get(PATH + "/web-1").json()
    assert got["data"] == data and got["revision"] == 0
    row = client.get(PATH, headers={"accept": TABLE}).json()["rows"][0]
    assert row["cells"][:3] == ["web-1", "statefulset.apps/web", 0]
    resp = client.patch(PATH + "/web-1", orjson.dumps({"data": {"extra": 1}}),
                        "application/merge-patch+json")
    assert resp.status_code == 422 and resp.json()["details"]["causes"][0]["field"] == "data"
