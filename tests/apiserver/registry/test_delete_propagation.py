"""DELETE and the garbage collector's finalizers (upstream store.go
deletionFinalizersForGarbageCollection, rest/delete.go BeforeDelete, ValidateDeleteOptions):
Foreground adds ``foregroundDeletion``, Orphan (or orphanDependents=true) adds ``orphan``,
Background or nothing adds neither; the object then stays, marked, until its finalizers go."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from tests.asgi import ASGIClient, in_process_app


@pytest.fixture
def cms(stores):
    return stores.store("", "v1", "configmaps")


def _meta(doc: str) -> dict:
    return orjson.loads(doc)["metadata"]


def _make(cms, ctx, name, finalizers=None):
    meta = {"name": name}
    if finalizers:
        meta["finalizers"] = finalizers
    cms.create("default", {"metadata": meta}, ctx)


@pytest.mark.parametrize("options, finalizer", [
    ({"propagationPolicy": "Foreground"}, "foregroundDeletion"),
    ({"propagationPolicy": "Orphan"}, "orphan"),
    ({"orphanDependents": True}, "orphan"),
])
def test_foreground_and_orphan_mark_the_object_and_keep_it(cms, ctx, options, finalizer):
    _make(cms, ctx, "owner")
    doc, gone = cms.delete("default", "owner", options, ctx)
    assert gone is False
    m = _meta(doc)
    assert m["finalizers"] == [finalizer]
    assert m["deletionTimestamp"] and m["deletionGracePeriodSeconds"] == 0
    stored = _meta(cms.get("default", "owner"))
    assert stored["finalizers"] == [finalizer] and stored["deletionTimestamp"]
    # the garbage collector's last step: removing the finalizer removes the object
    cms.guaranteed_update("default", "owner",
                          lambda o: {**o, "metadata": {**o["metadata"], "finalizers": []}}, ctx)
    with pytest.raises(errors.NotFound):
        cms.get("default", "owner")


@pytest.mark.parametrize("options", [{"propagationPolicy": "Background"}, {},
                                     {"orphanDependents": False}])
def test_background_or_no_policy_deletes_at_once(cms, ctx, options):
    _make(cms, ctx, "bg")
    _, gone = cms.delete("default", "bg", options, ctx)
    assert gone is True
    with pytest.raises(errors.NotFound):
        cms.get("default", "bg")


def test_other_finalizers_are_kept_next_to_the_gc_one(cms, ctx):
    _make(cms, ctx, "kept", ["example.com/hold"])
    doc, gone = cms.delete("default", "kept", {"propagationPolicy": "Foreground"}, ctx)
    assert not gone and _meta(doc)["finalizers"] == ["example.com/hold", "foregroundDeletion"]


def test_a_second_delete_may_switch_the_policy_and_background_lets_it_go(cms, ctx):
    _make(cms, ctx, "switch")
    cms.delete("default", "switch", {"propagationPolicy": "Foreground"}, ctx)
    first = _meta(cms.get("default", "switch"))
    doc, gone = cms.delete("default", "switch", {"propagationPolicy": "Orphan"}, ctx)
    assert not gone
    m = _meta(doc)
    assert m["finalizers"] == ["orphan"]
    assert m["deletionTimestamp"] == first["deletionTimestamp"]
    # the same policy again writes nothing
    again, _ = cms.delete("default", "switch", {"propagationPolicy": "Orphan"}, ctx)
    assert _meta(again)["resourceVersion"] == m["resourceVersion"]
    # no policy keeps the finalizer the object has (it overrides the kind's default)
    kept, _ = cms.delete("default", "switch", {}, ctx)
    assert _meta(kept)["finalizers"] == ["orphan"]
    # Background removes the GC finalizer: nothing holds the object any more
    _, gone = cms.delete("default", "switch", {"propagationPolicy": "Background"}, ctx)
    assert gone is True
    with pytest.raises(errors.NotFound):
        cms.get("default", "switch")


def test_dry_run_marks_nothing(cms, ctx):
    _make(cms, ctx, "dry")
    ctx.dry_run = True
    doc, gone = cms.delete("default", "dry", {"propagationPolicy": "Foreground"}, ctx)
    assert not gone and _meta(doc)["finalizers"] == ["foregroundDeletion"]
    ctx.dry_run = False
    assert "finalizers" not in _meta(cms.get("default", "dry"))


def test_a_kind_defaulting_to_orphan_and_one_that_does_not_support_gc():
    class Orphaning(Strategy):
        default_garbage_collection_policy = "OrphanDependents"

    class NoGC(Strategy):
        default_garbage_collection_policy = "Unsupported"

    from apiserver.registry.deletion import gc_finalizers
    assert gc_finalizers(Orphaning(), {}, {}) == (True, ["orphan"])
    assert gc_finalizers(Orphaning(), {}, {"propagationPolicy": "Background"}) == (False, [])
    assert gc_finalizers(Orphaning(), {}, {"orphanDependents": False}) == (False, [])
    assert gc_finalizers(NoGC(), {}, {"propagationPolicy": "Foreground"}) == (False, [])
    assert gc_finalizers(NoGC(), {"finalizers": ["orphan"]}, {}) == (True, [])


def test_invalid_delete_options_are_422_on_delete_options(cms, ctx):
    _make(cms, ctx, "bad")
    with pytest.raises(errors.Invalid) as exc:
        cms.delete("default", "bad", {"orphanDependents": True,
                                      "propagationPolicy": "Foreground"}, ctx)
    status = exc.value.to_status()
    assert status["code"] == 422
    assert status["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
        '"Foreground": orphanDependents and deletionPropagation cannot be both set')
    assert status["details"]["kind"] == "DeleteOptions"
    assert status["details"]["group"] == "meta.k8s.io"
    with pytest.raises(errors.Invalid) as exc:
        cms.delete("default", "bad", {"propagationPolicy": "Sometimes"}, ctx)
    assert exc.value.to_status()["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
        '"Sometimes": supported values: "Foreground", "Background", "Orphan", "nil"')
    assert "finalizers" not in _meta(cms.get("default", "bad"))


def test_over_http_foreground_answers_the_marked_object_and_both_fields_are_422(db):
    _, app = in_process_app()
    c = ASGIClient(app)
    path = "/api/v1/namespaces/default/configmaps"
    assert c.post("/api/v1/namespaces", {"metadata": {"name": "default"}}).status_code in (201, 409)
    assert c.post(path, {"metadata": {"name": "web"}}).status_code == 201
    r = c.delete(f"{path}/web", orjson.dumps({"kind": "DeleteOptions", "apiVersion": "v1",
                                              "propagationPolicy": "Foreground"}))
    assert r.status_code == 200
    body = r.json()
    assert body["kind"] == "ConfigMap"
    assert body["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert c.get(f"{path}/web").json()["metadata"]["deletionTimestamp"]
    r = c.delete(f"{path}/web", query={"propagationPolicy": "Orphan"})
    assert r.status_code == 200 and r.json()["metadata"]["finalizers"] == ["orphan"]
    assert c.post(path, {"metadata": {"name": "both"}}).status_code == 201
    r = c.delete(f"{path}/both", orjson.dumps({"orphanDependents": True,
                                               "propagationPolicy": "Background"}))
    assert r.status_code == 422
    assert r.json()["reason"] == "Invalid"
    assert r.json()["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "propagationPolicy",
        "message": 'Invalid value: "Background": orphanDependents and deletionPropagation '
                   "cannot be both set"}]
