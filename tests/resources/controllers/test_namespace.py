"""The namespace controller (resources/controllers/namespace.py): a deleted namespace is
Terminating until the controller has deleted its content and dropped the finalizer; it
finishes what it finds when it starts, so a restart half-way loses nothing."""
from __future__ import annotations

import threading
import time

import orjson
import pytest

from apiserver.runtime import errors
from resources.controllers.namespace import NamespaceController
from tests.apiserver.storage.support import ensure_revision_row, other_backends
from tests.conftest import build_server


def cm(name, namespace):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": {}}


def lifecycle_stores():
    return build_server(admission_plugins=("NamespaceLifecycle",))[0].stores


def _populate(stores, ctx):
    namespaces, cms = stores.store("", "v1", "namespaces"), stores.store("", "v1", "configmaps")
    created = orjson.loads(namespaces.create(None, {"metadata": {"name": "doomed"}}, ctx))
    assert created["status"]["phase"] == "Active" and created["spec"]["finalizers"] == ["kubernetes"]
    namespaces.create(None, {"metadata": {"name": "keep"}}, ctx)
    for i in range(3):
        cms.create("doomed", cm(f"c{i}", "doomed"), ctx)
    return cms.create("keep", cm("c0", "keep"), ctx)


def test_delete_marks_terminating_and_the_controller_finishes(db, ctx):
    ensure_revision_row()
    stores = lifecycle_stores()
    namespaces, cms = stores.store("", "v1", "namespaces"), stores.store("", "v1", "configmaps")
    survivor = _populate(stores, ctx)
    start = cms.storage.current_revision()
    marked, gone = namespaces.delete(None, "doomed", {}, ctx)
    assert gone is False
    assert orjson.loads(marked)["status"]["phase"] == "Terminating"
    # without the controller nothing more happens, and nothing new may be created in it
    with pytest.raises(errors.Forbidden) as exc:
        cms.create("doomed", cm("late", "doomed"), ctx)
    assert "because it is being terminated" in exc.value.message
    controller = NamespaceController(stores)
    assert controller.terminating() == ["doomed"]
    assert controller.sync() == 1
    with pytest.raises(errors.NotFound):
        namespaces.get(None, "doomed")
    assert cms.list("doomed")["items"] == [] and cms.get("keep", "c0") == survivor
    log = list(cms.storage.changes_after(start))
    ns_rows = [c for c in log if c.resource == "namespaces"]
    cm_deleted = [c for c in log if c.resource == "configmaps" and c.type == "DELETED"]
    assert sorted(c.name for c in cm_deleted) == ["c0", "c1", "c2"]
    assert all(c.namespace == "doomed" for c in cm_deleted)
    assert ns_rows[-1].type == "DELETED" and ns_rows[-1].name == "doomed"
    assert max(c.rv for c in cm_deleted) < ns_rows[-1].rv    # content first, then the namespace
    with pytest.raises(errors.NotFound) as exc:
        cms.create("doomed", cm("again", "doomed"), ctx)
    assert exc.value.message == 'namespaces "doomed" not found'
    assert controller.sync() == 0


def test_a_new_server_finishes_what_the_old_one_left(db, ctx):
    """The first server marks the namespace and stops; a second one (new config, new stores,
    as after a restart) finishes it in its first pass."""
    ensure_revision_row()
    first = lifecycle_stores()
    _populate(first, ctx)
    first.store("", "v1", "namespaces").delete(None, "doomed", {}, ctx)
    second = lifecycle_stores()
    assert NamespaceController(second).sync() == 1
    with pytest.raises(errors.NotFound):
        second.store("", "v1", "namespaces").get(None, "doomed")


def test_the_controller_thread_wakes_on_commit_and_stops(threaded_db, ctx):
    stores = lifecycle_stores()
    namespaces = stores.store("", "v1", "namespaces")
    _populate(stores, ctx)
    stop = threading.Event()
    controller = NamespaceController(stores, poll_seconds=30)   # only a commit can wake it
    thread = controller.start(stop, storages=[namespaces.storage])
    try:
        time.sleep(0.3)                                   # its first pass is done
        namespaces.delete(None, "doomed", {}, ctx)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                namespaces.get(None, "doomed")
            except errors.NotFound:
                break
            time.sleep(0.05)
        else:
            pytest.fail("namespace doomed was not removed within 10 s")
    finally:
        stop.set()
        controller.wake.set()
        thread.join(5)
    assert not thread.is_alive()
    assert other_backends(wait=1.0) == 0                  # the thread gave its connection back
