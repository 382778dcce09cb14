"""The CustomResourceDefinition controllers (crds/controllers.py): names accepted or refused
with upstream's reasons and messages (naming_controller.go), Established
(establishing_controller.go), and a deleted CRD's instances removed before the finalizer
goes (crd_finalizer.go); the post-start hook's threads wake on commits."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import orjson
import pytest

from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme
from crds.controllers import (APIApprovalController, EstablishingController, FinalizerController,
                              NamingController,
                              start_controllers)
from tests.apiserver.storage.support import ensure_revision_row, other_backends
from tests.crds.test_crd_support import crd, crd_store


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return crd_store(stores)


def settle(stores) -> None:
    for cls in (NamingController, EstablishingController):
        cls(stores, scheme).sync()


def get(store, name: str) -> dict:
    return orjson.loads(store.get(None, name))


def conditions(obj: dict) -> dict:
    return {c["type"]: (c["status"], c["reason"], c["message"])
            for c in obj["status"].get("conditions", [])}


def test_names_accepted_then_established(stores, store, ctx):
    body = crd()
    body["spec"]["names"].update(shortNames=["wd"], categories=["all"])
    store.create(None, body, ctx)
    assert NamingController(stores, scheme).sync() == 1
    obj = get(store, "widgets.example.com")
    assert obj["status"]["acceptedNames"] == {"plural": "widgets", "kind": "Widget",
                                              "singular": "widget", "listKind": "WidgetList",
                                              "shortNames": ["wd"], "categories": ["all"]}
    assert conditions(obj) == {
        "NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
        "Established": ("False", "Installing", "the initial names have been accepted")}
    assert [c["type"] for c in obj["status"]["conditions"]] == ["NamesAccepted", "Established"]
    assert all(c["lastTransitionTime"] for c in obj["status"]["conditions"])
    assert EstablishingController(stores, scheme).sync() == 1
    obj = get(store, "widgets.example.com")
    assert conditions(obj)["Established"] == ("True", "InitialNamesAccepted",
                                              "the initial names have been accepted")
    # nothing left to do: no write, so no new resourceVersion
    rv = obj["metadata"]["resourceVersion"]
    settle(stores)
    assert get(store, "widgets.example.com")["metadata"]["resourceVersion"] == rv


@pytest.mark.parametrize("change, reason, message", [
    (lambda n: n.update(kind="Widget", listKind="GadgetList"), "KindConflict", '"Widget" is already in use'),
    (lambda n: n.update(singular="widgets"), "SingularConflict", '"widgets" is already in use'),
    (lambda n: n.update(shortNames=["wd"]), "ShortNamesConflict", '"wd" is already in use'),
    (lambda n: n.update(listKind="WidgetList"), "ListKindConflict", '"WidgetList" is already in use'),
])
def test_conflicts_with_another_crd_of_the_group(stores, store, ctx, change, reason, message):
    first = crd()
    first["spec"]["names"]["shortNames"] = ["wd"]
    store.create(None, first, ctx)
    settle(stores)
    second = crd("gadgets", kind="Gadget")
    change(second["spec"]["names"])
    store.create(None, second, ctx)
    settle(stores)
    obj = get(store, "gadgets.example.com")
    assert conditions(obj) == {"NamesAccepted": ("False", reason, message),
                               "Established": ("False", "NotAccepted", "not all names are accepted")}
    assert obj["status"]["acceptedNames"]["plural"] == "gadgets"      # what is free is taken


def test_another_group_may_use_the_same_names(stores, store, ctx):
    store.create(None, crd(), ctx)
    store.create(None, crd(group="example.org"), ctx)
    settle(stores)
    for name in ("widgets.example.com", "widgets.example.org"):
        assert conditions(get(store, name))["Established"][0] == "True"


def test_names_of_a_builtin_kind_are_taken(stores, store, ctx):
    body = crd("ingresses", group="networking.k8s.io", kind="Thing")
    body["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
    store.create(None, body, ctx)
    settle(stores)
    obj = get(store, "ingresses.networking.k8s.io")
    assert conditions(obj)["NamesAccepted"] == ("False", "PluralConflict",
                                                '"ingresses" is already in use')
    assert conditions(obj)["Established"][0] == "False"


def test_renamed_short_names_are_accepted_later(stores, store, ctx):
    store.create(None, crd(), ctx)
    settle(stores)
    obj = get(store, "widgets.example.com")
    obj["spec"]["names"]["shortNames"] = ["w"]
    store.update(None, "widgets.example.com", obj, ctx)
    settle(stores)
    obj = get(store, "widgets.example.com")
    assert obj["status"]["acceptedNames"]["shortNames"] == ["w"]
    assert conditions(obj)["Established"][0] == "True"


def _instances(stores, resource="widgets.example.com"):
    storage = stores.storage_for(resource)
    for ns, name in (("a", "one"), ("a", "two"), ("b", "three")):
        storage.create(resource, ns, name, {"apiVersion": "example.com/v1", "kind": "Widget",
                                            "metadata": {"name": name, "namespace": ns}})
    return storage


def test_finalizer_deletes_instances_then_the_crd(stores, store, ctx):
    store.create(None, crd(), ctx)
    settle(stores)
    storage = _instances(stores)
    other = _instances(stores, "gadgets.example.com")       # another resource stays
    start = storage.current_revision()
    _, gone = store.delete(None, "widgets.example.com", {}, ctx)
    assert gone is False
    assert FinalizerController(stores, scheme).sync() == 1
    with pytest.raises(errors.NotFound):
        store.get(None, "widgets.example.com")
    assert storage.list("widgets.example.com", None).items == []
    assert len(other.list("gadgets.example.com", None).items) == 3
    log = storage.changes_after(start)
    deleted = [c for c in log if c.type == "DELETED"]
    assert [c.resource for c in deleted] == ["widgets.example.com"] * 3 + [
        "customresourcedefinitions.apiextensions.k8s.io"]
    # the write that drops the finalizer removes the object: the DELETED event carries the
    # last stored state (as etcd's previous value does upstream)
    progress = [orjson.loads(c.doc) for c in log if c.type == "MODIFIED"
                and c.resource.startswith("customresourcedefinitions")]
    assert conditions(progress[-1])["Terminating"] == ("True", "InstanceDeletionInProgress",
                                                       "CustomResource deletion is in progress")


def test_never_established_crd_keeps_its_instances(stores, store, ctx):
    store.create(None, crd(), ctx)
    storage = _instances(stores)
    start = storage.current_revision()
    store.delete(None, "widgets.example.com", {}, ctx)
    assert FinalizerController(stores, scheme).sync() == 1
    deleted = [c for c in storage.changes_after(start) if c.type == "DELETED"]
    assert [c.resource for c in deleted] == ["customresourcedefinitions.apiextensions.k8s.io"]
    assert len(storage.list("widgets.example.com", None).items) == 3


def test_post_start_hook_threads_settle_a_new_crd(threaded_db, ctx):
    from tests.conftest import build_server

    stores = build_server()[0].stores
    store = crd_store(stores)
    stop = threading.Event()
    start_controllers(SimpleNamespace(stores=stores, stop=stop))
    try:
        store.create(None, crd(), ctx)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if conditions(get(store, "widgets.example.com")).get("Established", ("",))[0] == "True":
                break
            time.sleep(0.05)
        else:
            pytest.fail("the CRD was not Established within 10 s")
        store.delete(None, "widgets.example.com", {}, ctx)
        while time.monotonic() < deadline:
            try:
                store.get(None, "widgets.example.com")
            except errors.NotFound:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the CRD was not finalized within 10 s")
    finally:
        stop.set()
        for thread in threading.enumerate():
            if thread.name.startswith("crd-"):
                thread.join(5)
    assert not [t for t in threading.enumerate() if t.name.startswith("crd-")]
    assert other_backends(wait=2.0) == 0


@pytest.mark.parametrize("annotation, expected", [
    ("https://github.com/kubernetes/enhancements/pull/1111",
     ("True", "ApprovedAnnotation", "approved in https://github.com/kubernetes/enhancements/pull/1111")),
    ("unapproved, experimental", ("False", "UnapprovedAnnotation",
                                  'not approved: "unapproved, experimental"')),
])
def test_api_approval_condition_of_protected_groups(stores, store, ctx, annotation, expected):
    body = crd(group="widgets.k8s.io")
    body["metadata"]["annotations"] = {"api-approved.kubernetes.io": annotation}
    store.create(None, body, ctx)
    store.create(None, crd(), ctx)                      # not protected: no condition
    assert APIApprovalController(stores, scheme).sync() == 1
    got = conditions(get(store, "widgets.widgets.k8s.io"))
    assert got["KubernetesAPIApprovalPolicyConformant"] == expected
    assert conditions(get(store, "widgets.example.com")) == {}
    assert APIApprovalController(stores, scheme).sync() == 0
