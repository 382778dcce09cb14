"""The CustomResourceDefinition Strategy: declarations, defaults (v1 defaults.go), the
status reset on create and kept on update, storedVersions, generation, the Table, and the
first DELETE adding the clean-up finalizer (etcd.go)."""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme
from crds.customresourcedefinitions import FINALIZER, CustomResourceDefinitionStrategy
from tests.apiserver.storage.support import ensure_revision_row
from tests.crds.test_crd_support import GROUP, PLURAL, crd, crd_store

NAME = "widgets.example.com"


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return crd_store(stores)


def test_declarations():
    s = CustomResourceDefinitionStrategy
    assert scheme.strategy(GROUP, "v1", PLURAL) is not None
    assert (s.namespaced, s.short_names, s.categories) == (False, ("crd", "crds"), ("api-extensions",))
    assert s.subresource_names() == ("status",) and s.tracks_generation
    assert [(c.name, c.type, c.format) for c in s.columns] == [("Name", "string", "name"),
                                                               ("Created At", "date", "")]
    assert s.columns[1].description.startswith("CreationTimestamp is a timestamp")


def test_defaults():
    obj = crd()
    obj["spec"]["conversion"] = None
    CustomResourceDefinitionStrategy().default(obj)
    names = obj["spec"]["names"]
    assert (names["singular"], names["listKind"]) == ("widget", "WidgetList")
    assert obj["spec"]["conversion"] == {"strategy": "None"}
    hook = crd()
    hook["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
        "clientConfig": {"service": {"namespace": "ns", "name": "svc"}}}}
    CustomResourceDefinitionStrategy().default(hook)
    assert hook["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] == 443
    given = crd()
    given["spec"]["names"].update(singular="wdg", listKind="Widgets")
    CustomResourceDefinitionStrategy().default(given)
    assert (given["spec"]["names"]["singular"], given["spec"]["names"]["listKind"]) == ("wdg", "Widgets")


def test_create_resets_status_and_records_the_storage_version(store, ctx):
    body = crd()
    body["status"] = {"conditions": [{"type": "Established", "status": "True"}],
                      "storedVersions": ["v0"]}
    made = orjson.loads(store.create(None, body, ctx))
    assert made["status"] == {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]}
    assert made["metadata"]["generation"] == 1
    assert "finalizers" not in made["metadata"]


def test_update_keeps_status_appends_storage_version_and_bumps_generation(store, ctx):
    made = orjson.loads(store.create(None, crd(), ctx))
    made["status"] = {"storedVersions": []}
    v2 = dict(made["spec"]["versions"][0], name="v2", storage=True)
    made["spec"]["versions"][0]["storage"] = False
    made["spec"]["versions"].append(v2)
    doc, _ = store.update(None, NAME, made, ctx)
    updated = orjson.loads(doc)
    assert updated["status"]["storedVersions"] == ["v1", "v2"]
    assert updated["metadata"]["generation"] == 2


def test_update_needs_a_resource_version(store, ctx):
    made = orjson.loads(store.create(None, crd(), ctx))
    del made["metadata"]["resourceVersion"]
    with pytest.raises(errors.Invalid):
        store.update(None, NAME, made, ctx)


def test_table_row(store, ctx):
    made = orjson.loads(store.create(None, crd(), ctx))
    row = CustomResourceDefinitionStrategy().table_row(made)
    assert row == [NAME, made["metadata"]["creationTimestamp"]]


def test_first_delete_adds_the_finalizer_and_terminating(store, ctx):
    store.create(None, crd(), ctx)
    doc, gone = store.delete(None, NAME, {}, ctx)
    assert gone is False
    obj = orjson.loads(doc)
    assert obj["metadata"]["finalizers"] == [FINALIZER] and obj["metadata"]["deletionTimestamp"]
    cond = obj["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "Terminating", "True", "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")
    # a second DELETE changes nothing; removing the finalizer removes the object
    again, gone = store.delete(None, NAME, {}, ctx)
    assert gone is False and orjson.loads(again)["metadata"]["finalizers"] == [FINALIZER]

    def drop(current):
        current["metadata"]["finalizers"] = []
        return current
    store.guaranteed_update(None, NAME, drop, ctx.for_subresource("status"))
    with pytest.raises(errors.NotFound):
        store.get(None, NAME)
