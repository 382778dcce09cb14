"""The generic Store's behaviour, through ConfigMaps and Namespaces.

Upstream: k8s.io/apiserver ``pkg/registry/generic/registry/store_test.go`` (create fills
system metadata, generateName, optimistic concurrency, no-op updates, graceful/finalized
deletion, preconditions, dry-run) and ``pkg/storage/cacher``/``etcd3`` list rules (paging
from one snapshot, resourceVersionMatch, 410 after compaction).
"""
from __future__ import annotations

import copy
import re

import orjson
import pytest

from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row

CONFLICT = ('Operation cannot be fulfilled on configmaps "{}": the object has been modified; '
            'please apply your changes to the latest version and try again')


@pytest.fixture
def cms(stores):
    ensure_revision_row()
    return stores.store("", "v1", "configmaps")


@pytest.fixture
def storage(cms):
    return cms.storage


def cm(name: str = "", namespace: str = "", labels=None, **data) -> dict:
    meta = {"name": name} if name else {}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


def load(doc: str) -> dict:
    return orjson.loads(doc)


def meta(doc: str) -> dict:
    return load(doc)["metadata"]


def changes(storage, after: int) -> list:
    return storage.changes_after(after, limit=10_000)


# ---- create ------------------------------------------------------------------------------
def test_create_fills_system_metadata(cms, storage, ctx):
    before = storage.current_revision()
    doc = cms.create("ns", cm("a", k="v"), ctx)
    m = meta(doc)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", m["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["creationTimestamp"])
    assert m["resourceVersion"] == str(before + 1)
    assert m["namespace"] == "ns" and m["name"] == "a"
    assert load(doc)["data"] == {"k": "v"}
    assert cms.get("ns", "a") == doc
    # client-sent system fields are replaced, not trusted
    doc2 = cms.create("ns", {"metadata": {"name": "b", "uid": "mine",
                                          "creationTimestamp": "2000-01-01T00:00:00Z"}}, ctx)
    assert meta(doc2)["uid"] not in ("mine", m["uid"])
    assert meta(doc2)["creationTimestamp"] != "2000-01-01T00:00:00Z"


def test_create_existing_name_is_already_exists(cms, storage, ctx):
    cms.create("ns", cm("a"), ctx)
    before = storage.current_revision()
    with pytest.raises(errors.AlreadyExists) as exc:
        cms.create("ns", cm("a"), ctx)
    assert exc.value.code == 409 and exc.value.message == 'configmaps "a" already exists'
    assert storage.current_revision() == before


def test_generate_name(cms, ctx):
    doc = cms.create("ns", {"metadata": {"generateName": "web-"}}, ctx)
    name = meta(doc)["name"]
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert meta(doc)["generateName"] == "web-"
    assert cms.get("ns", name) == doc


def test_generate_name_retries_on_collision(cms, storage, ctx, monkeypatch):
    from apiserver.registry import meta as metalib

    cms.create("ns", cm("web-taken"), ctx)
    before = storage.current_revision()
    names = iter(["web-taken", "web-taken", "web-fresh"])
    calls = []

    def fake(prefix):
        calls.append(prefix)
        return next(names)
    monkeypatch.setattr(metalib, "generate_name", fake)
    doc = cms.create("ns", {"metadata": {"generateName": "web-"}}, ctx)
    assert meta(doc)["name"] == "web-fresh"
    assert calls == ["web-", "web-", "web-"]
    # the collisions consumed no revision
    assert storage.current_revision() == before + 1
    assert [c.name for c in changes(storage, before)] == ["web-fresh"]


def test_generate_name_gives_up_with_already_exists(cms, storage, ctx, monkeypatch):
    from apiserver.registry import meta as metalib

    cms.create("ns", cm("web-taken"), ctx)
    before = storage.current_revision()
    monkeypatch.setattr(metalib, "generate_name", lambda prefix: "web-taken")
    with pytest.raises(errors.AlreadyExists) as exc:
        cms.create("ns", {"metadata": {"generateName": "web-"}}, ctx)
    assert exc.value.code == 409
    assert storage.current_revision() == before


def test_create_with_resource_version_is_bad_request(cms, storage, ctx):
    before = storage.current_revision()
    with pytest.raises(errors.BadRequest) as exc:
        cms.create("ns", {"metadata": {"name": "a", "resourceVersion": "5"}}, ctx)
    assert exc.value.code == 400
    assert exc.value.message == "resourceVersion should not be set on objects to be created"
    assert storage.current_revision() == before
    with pytest.raises(errors.NotFound):
        cms.get("ns", "a")


# ---- update ------------------------------------------------------------------------------
def test_put_without_resource_version_is_unconditional(cms, ctx):
    first = cms.create("ns", cm("a", k="1"), ctx)
    doc, created = cms.update("ns", "a", cm("a", k="2"), ctx)
    assert created is False
    assert load(doc)["data"] == {"k": "2"}
    assert int(meta(doc)["resourceVersion"]) > int(meta(first)["resourceVersion"])
    assert meta(doc)["uid"] == meta(first)["uid"]           # carried, not regenerated
    assert meta(doc)["creationTimestamp"] == meta(first)["creationTimestamp"]
    assert cms.get("ns", "a") == doc


def test_put_with_matching_resource_version(cms, ctx):
    first = cms.create("ns", cm("a", k="1"), ctx)
    body = load(first)
    body["data"]["k"] = "2"
    doc, _ = cms.update("ns", "a", body, ctx)
    assert load(doc)["data"] == {"k": "2"}
    assert int(meta(doc)["resourceVersion"]) == int(meta(first)["resourceVersion"]) + 1


def test_put_with_stale_resource_version_is_conflict(cms, storage, ctx):
    first = cms.create("ns", cm("a", k="1"), ctx)
    second, _ = cms.update("ns", "a", cm("a", k="2"), ctx)
    stale = load(first)
    stale["data"]["k"] = "3"
    before = storage.current_revision()
    with pytest.raises(errors.Conflict) as exc:
        cms.update("ns", "a", stale, ctx)
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    assert exc.value.message == CONFLICT.format("a")
    assert exc.value.details == {"kind": "configmaps", "name": "a"}
    assert cms.get("ns", "a") == second
    assert storage.current_revision() == before


def test_put_of_missing_object_is_not_found(cms, ctx):
    with pytest.raises(errors.NotFound) as exc:
        cms.update("ns", "nope", cm("nope"), ctx)
    assert exc.value.code == 404 and exc.value.message == 'configmaps "nope" not found'


def test_noop_update_keeps_resource_version_and_writes_nothing(cms, storage, ctx):
    doc = cms.create("ns", cm("a", labels={"x": "y"}, k="1"), ctx)
    rv = int(meta(doc)["resourceVersion"])
    same, _ = cms.update("ns", "a", load(doc), ctx)               # with its rv
    assert meta(same)["resourceVersion"] == str(rv)
    same, _ = cms.update("ns", "a", cm("a", labels={"x": "y"}, k="1"), ctx)   # without
    assert meta(same)["resourceVersion"] == str(rv)
    assert cms.get("ns", "a") == doc
    assert changes(storage, rv) == []
    assert storage.current_revision() == rv
    changed, _ = cms.update("ns", "a", cm("a", labels={"x": "z"}, k="1"), ctx)
    assert meta(changed)["resourceVersion"] == str(rv + 1)


def test_guaranteed_update_retries_when_a_write_lands_in_between(cms, storage, ctx):
    doc = cms.create("ns", cm("a", k="1"), ctx)
    rv = int(meta(doc)["resourceVersion"])
    seen = []

    def transform(current):
        seen.append(current["metadata"]["resourceVersion"])
        if len(seen) == 1:          # someone else writes after our read, before our write
            other = copy.deepcopy(current)
            other["data"]["other"] = "x"
            cms.update("ns", "a", other, ctx)
        current["data"]["mine"] = "y"
        return current

    out, created = cms.guaranteed_update("ns", "a", transform, ctx)
    assert created is False
    assert seen == [str(rv), str(rv + 1)]                 # re-read and re-applied
    assert load(out)["data"] == {"k": "1", "other": "x", "mine": "y"}   # no lost update
    assert meta(out)["resourceVersion"] == str(rv + 2)
    assert [(c.rv, c.type) for c in changes(storage, rv)] == [(rv + 1, "MODIFIED"),
                                                              (rv + 2, "MODIFIED")]


def test_guaranteed_update_with_client_precondition_does_not_retry(cms, ctx):
    doc = cms.create("ns", cm("a", k="1"), ctx)
    rv = meta(doc)["resourceVersion"]
    calls = []

    def transform(current):
        calls.append(1)
        if len(calls) == 1:
            cms.update("ns", "a", cm("a", k="other"), ctx)
        current["data"]["k"] = "mine"
        return current

    with pytest.raises(errors.Conflict) as exc:
        cms.guaranteed_update("ns", "a", transform, ctx, precondition_rv=rv)
    assert exc.value.message == CONFLICT.format("a")
    assert load(cms.get("ns", "a"))["data"] == {"k": "other"}


# ---- delete ------------------------------------------------------------------------------
def test_delete_without_finalizers_removes_at_once(cms, storage, ctx):
    doc = cms.create("ns", cm("a"), ctx)
    rv = int(meta(doc)["resourceVersion"])
    out, gone = cms.delete("ns", "a", {}, ctx)
    assert gone is True
    assert meta(out)["resourceVersion"] == str(rv + 1)
    with pytest.raises(errors.NotFound):
        cms.get("ns", "a")
    assert [(c.rv, c.type, c.name) for c in changes(storage, rv)] == [(rv + 1, "DELETED", "a")]
    with pytest.raises(errors.NotFound):
        cms.delete("ns", "a", {}, ctx)


def test_delete_with_finalizers_waits_for_the_last_one(cms, storage, ctx):
    body = cm("a")
    body["metadata"]["finalizers"] = ["example.com/one", "example.com/two"]
    created = cms.create("ns", body, ctx)
    rv0 = int(meta(created)["resourceVersion"])
    marked, gone = cms.delete("ns", "a", {}, ctx)
    assert gone is False
    m = meta(marked)
    assert m["deletionTimestamp"] and m["deletionGracePeriodSeconds"] == 0
    assert m["finalizers"] == ["example.com/one", "example.com/two"]
    assert cms.get("ns", "a") == marked                    # still there
    # deleting again changes nothing
    assert cms.delete("ns", "a", {}, ctx) == (marked, False)
    # no new finalizer may be added while deleting
    bad = load(marked)
    bad["metadata"]["finalizers"].append("example.com/three")
    with pytest.raises(errors.Invalid):
        cms.update("ns", "a", bad, ctx)
    # removing one keeps it, removing the last deletes it
    one = load(marked)
    one["metadata"]["finalizers"] = ["example.com/two"]
    kept, _ = cms.update("ns", "a", one, ctx)
    assert meta(kept)["deletionTimestamp"] == m["deletionTimestamp"]
    assert cms.get("ns", "a") == kept
    last = load(kept)
    last["metadata"]["finalizers"] = []
    gone, _ = cms.update("ns", "a", last, ctx)
    with pytest.raises(errors.NotFound):
        cms.get("ns", "a")
    log = changes(storage, rv0)
    assert [c.type for c in log] == ["MODIFIED", "MODIFIED", "DELETED"]
    assert log[-1].rv == int(meta(gone)["resourceVersion"])
    assert load(log[-1].doc)["metadata"]["deletionTimestamp"] == m["deletionTimestamp"]


def test_delete_preconditions(cms, storage, ctx):
    doc = cms.create("ns", cm("a"), ctx)
    uid, rv = meta(doc)["uid"], meta(doc)["resourceVersion"]
    with pytest.raises(errors.Conflict) as exc:
        cms.delete("ns", "a", {"preconditions": {"uid": "other-uid"}}, ctx)
    assert exc.value.code == 409
    assert exc.value.message == (
        'Operation cannot be fulfilled on configmaps "a": Precondition failed: UID in '
        f"precondition: other-uid, UID in object meta: {uid}")
    with pytest.raises(errors.Conflict) as exc:
        cms.delete("ns", "a", {"preconditions": {"resourceVersion": "1"}}, ctx)
    assert exc.value.message == (
        'Operation cannot be fulfilled on configmaps "a": Precondition failed: ResourceVersion '
        f"in precondition: 1, ResourceVersion in object meta: {rv}")
    assert cms.get("ns", "a") == doc
    assert storage.current_revision() == int(rv)
    cms.delete("ns", "a", {"preconditions": {"uid": uid, "resourceVersion": rv}}, ctx)
    with pytest.raises(errors.NotFound):
        cms.get("ns", "a")


def test_dry_run_writes_nothing(cms, storage, ctx):
    from apiserver.registry.context import RequestContext

    dry = RequestContext(user=ctx.user, field_manager="tests", dry_run=True)
    existing = cms.create("ns", cm("a", k="1"), ctx)
    body = cm("held")
    body["metadata"]["finalizers"] = ["example.com/x"]
    held = cms.create("ns", body, ctx)
    before = storage.current_revision()

    out = cms.create("ns", cm("b", k="1"), dry)
    assert meta(out)["name"] == "b" and meta(out)["uid"]
    with pytest.raises(errors.NotFound):
        cms.get("ns", "b")
    out, _ = cms.update("ns", "a", cm("a", k="2"), dry)
    assert load(out)["data"] == {"k": "2"}
    out, gone = cms.delete("ns", "a", {}, dry)
    assert meta(out)["name"] == "a" and gone is True
    out, gone = cms.delete("ns", "held", {}, dry)
    assert meta(out).get("deletionTimestamp") and gone is False
    assert cms.get("ns", "a") == existing
    assert cms.get("ns", "held") == held
    assert storage.current_revision() == before
    assert changes(storage, before) == []


# ---- list --------------------------------------------------------------------------------
def _names(page) -> list[str]:
    return [meta(d)["name"] for d in page["items"]]


def test_list_selectors_limit_and_continue_from_one_snapshot(cms, storage, ctx):
    for i in range(12):
        cms.create("paging", cm(f"cm-{i:02d}", labels={"app": "web" if i % 2 == 0 else "db"}), ctx)
        cms.create("other", cm(f"cm-{i:02d}", labels={"app": "web"}), ctx)
    original = {n: cms.get("paging", n) for n in ("cm-06", "cm-08")}

    page = cms.list("paging", label_selector="app=web", limit=2)
    snapshot_rv = page["resourceVersion"]
    assert _names(page) == ["cm-00", "cm-02"] and page["continue"]
    seen = list(page["items"])
    # writes between pages: none of them may show up in the continued list
    cms.create("paging", cm("cm-01a", labels={"app": "web"}), ctx)        # before the cursor
    cms.create("paging", cm("cm-99", labels={"app": "web"}), ctx)         # after the cursor
    cms.update("paging", "cm-06", cm("cm-06", labels={"app": "web"}, changed="yes"), ctx)
    cms.delete("paging", "cm-08", {}, ctx)
    cms.update("paging", "cm-05", cm("cm-05", labels={"app": "web"}), ctx)   # joins the selector
    token = page["continue"]
    while token:
        page = cms.list("paging", label_selector="app=web", limit=2, continue_token=token)
        assert page["resourceVersion"] == snapshot_rv
        assert len(page["items"]) == 2 or not page["continue"]
        seen += page["items"]
        token = page["continue"]
    assert [meta(d)["name"] for d in seen] == ["cm-00", "cm-02", "cm-04", "cm-06", "cm-08",
                                               "cm-10"]
    by_name = {meta(d)["name"]: d for d in seen}
    assert by_name["cm-06"] == original["cm-06"] and by_name["cm-08"] == original["cm-08"]
    assert all(meta(d)["namespace"] == "paging" for d in seen)

    # a fresh list sees the new state
    now = cms.list("paging", label_selector="app=web")
    assert _names(now) == ["cm-00", "cm-01a", "cm-02", "cm-04", "cm-05", "cm-06", "cm-10",
                           "cm-99"]
    assert now["continue"] == "" and now["resourceVersion"] == storage.current_revision()

    # field and label selectors together, with a limit that cuts a page
    page = cms.list("paging", label_selector="app in (web,db)",
                    field_selector="metadata.name!=cm-01,metadata.name!=cm-02", limit=3)
    assert _names(page) == ["cm-00", "cm-01a", "cm-03"] and page["continue"]
    page = cms.list("paging", label_selector="app in (web,db)",
                    field_selector="metadata.name!=cm-01,metadata.name!=cm-02", limit=3,
                    continue_token=page["continue"])
    assert _names(page) == ["cm-04", "cm-05", "cm-06"]

    # across namespaces: key order is (namespace, name)
    everything, token = [], None
    while True:
        page = cms.list(None, label_selector="app=web", limit=5, continue_token=token)
        everything += [(meta(d)["namespace"], meta(d)["name"]) for d in page["items"]]
        token = page["continue"]
        if not token:
            break
    assert everything == sorted(everything) and len(everything) == len(set(everything)) == 8 + 12


def test_list_without_selector_pages_exactly(cms, ctx):
    for i in range(7):
        cms.create("p", cm(f"x{i}"), ctx)
    got, token, pages = [], None, 0
    while True:
        page = cms.list("p", limit=3, continue_token=token)
        pages += 1
        assert len(page["items"]) == (3 if page["continue"] else 1)
        got += _names(page)
        token = page["continue"]
        if not token:
            break
    assert got == [f"x{i}" for i in range(7)] and pages == 3
    page = cms.list("p", limit=7)
    assert len(page["items"]) == 7 and page["continue"] == ""


def test_list_from_compacted_revision_is_expired(cms, storage, ctx):
    cms.create("ns", cm("a"), ctx)
    cms.create("ns", cm("b"), ctx)
    page = cms.list("ns", limit=1)
    cms.create("ns", cm("c"), ctx)
    old = page["resourceVersion"]
    token = cms.list("ns", limit=1, resource_version=str(old))["continue"]
    assert token
    cms.update("ns", "a", cm("a", k="1"), ctx)
    target = storage.compact(-60)
    assert target > old
    for kwargs in ({"resource_version": str(old), "resource_version_match": "Exact"},
                   {"resource_version": str(old), "limit": 1},
                   {"continue_token": token, "limit": 1}):
        with pytest.raises(errors.Expired) as exc:
            cms.list("ns", **kwargs)
        assert exc.value.code == 410 and exc.value.reason == "Expired"
    # at or after the compacted revision still works, exactly
    assert _names(cms.list("ns", resource_version=str(target),
                           resource_version_match="Exact")) == ["a", "b", "c"]
    assert _names(cms.list("ns", resource_version=str(old),
                           resource_version_match="NotOlderThan")) == ["a", "b", "c"]


def test_list_exact_revision_reads_the_past(cms, storage, ctx):
    cms.create("ns", cm("a", k="1"), ctx)
    then = cms.list("ns")
    cms.update("ns", "a", cm("a", k="2"), ctx)
    cms.create("ns", cm("b"), ctx)
    exact = cms.list("ns", resource_version=str(then["resourceVersion"]),
                     resource_version_match="Exact")
    assert exact["items"] == then["items"] and exact["resourceVersion"] == then["resourceVersion"]


def test_list_resource_version_rules(cms, ctx):
    cms.create("a", cm("x", namespace="a"), ctx)
    cms.create("a", cm("y", namespace="a"), ctx)
    with pytest.raises(errors.BadRequest) as exc:
        cms.list("ns", resource_version="0", resource_version_match="Exact")
    assert exc.value.code == 400
    assert exc.value.message == 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
    with pytest.raises(errors.BadRequest) as exc:
        cms.list("ns", resource_version_match="NotOlderThan")
    assert exc.value.message == "resourceVersionMatch is forbidden unless resourceVersion is provided"
    with pytest.raises(errors.BadRequest):
        cms.list("ns", resource_version="1", resource_version_match="Newest")
    with pytest.raises(errors.BadRequest):
        cms.list("ns", resource_version="abc")
    token = cms.list("a", limit=1)["continue"]
    assert token
    with pytest.raises(errors.BadRequest) as exc:           # a token minted for namespace a
        cms.list("b", limit=1, continue_token=token)
    assert exc.value.code == 400 and exc.value.message.startswith("continue key is not valid")
    with pytest.raises(errors.BadRequest):
        cms.list("a", limit=1, continue_token=token, resource_version="5")
    with pytest.raises(errors.BadRequest):
        cms.list("a", limit=1, continue_token="not-a-token")
    assert _names(cms.list("a", limit=1, continue_token=token)) == ["y"]


@pytest.mark.parametrize("how", [{}, {"resource_version_match": "NotOlderThan"},
                                 {"resource_version_match": "Exact"}, {"limit": 1}])
def test_list_too_new_resource_version_times_out(cms, storage, ctx, monkeypatch, how):
    """A list from a revision the store has not reached waits briefly, then
    504 — for Exact and legacy limit reads too (they must not label the current state
    with a future revision)."""
    from apiserver.registry import store as store_module

    cms.create("ns", cm("a"), ctx)
    monkeypatch.setattr(store_module, "WAIT_FOR_RV_SECONDS", 0.2)
    far = storage.current_revision() + 1000
    with pytest.raises(errors.Timeout) as exc:
        cms.list("ns", resource_version=str(far), **how)
    assert exc.value.code == 504 and exc.value.retry_after == 1
    assert exc.value.message.startswith(f"Too large resource version: {far}")


# ---- NamespaceLifecycle ----------------------------------------------------------------------
def test_create_in_missing_namespace_is_not_found(db, ctx):
    from tests.conftest import build_server

    ensure_revision_row()
    stores = build_server(admission_plugins=("NamespaceLifecycle",))[0].stores
    cms = stores.store("", "v1", "configmaps")
    with pytest.raises(errors.NotFound) as exc:
        cms.create("ghost", cm("a", namespace="ghost"), ctx)
    assert exc.value.code == 404 and exc.value.message == 'namespaces "ghost" not found'
    stores.store("", "v1", "namespaces").create(None, {"metadata": {"name": "ghost"}}, ctx)
    assert meta(cms.create("ghost", cm("a", namespace="ghost"), ctx))["namespace"] == "ghost"


def test_an_expired_continue_token_gets_a_fresh_inconsistent_one(stores, ctx):
    """Upstream answers 410 with a new token that resumes at the same key on current data."""
    store = stores.store("", "v1", "configmaps")
    for i in range(3):
        store.create("default", {"metadata": {"name": f"exp-{i}"}}, ctx)
    first = store.list("default", limit=1)
    store.create("default", {"metadata": {"name": "exp-9"}}, ctx)
    from apiserver.storage.models import Change
    from django.db import connection
    with connection.cursor() as cur:
        cur.execute("UPDATE apiserver_revision SET compacted = rv WHERE id = 1")
    with pytest.raises(errors.Expired) as exc:
        store.list("default", limit=1, continue_token=first["continue"])
    status = exc.value.to_status()
    assert status["code"] == 410 and "too old to display a consistent list" in status["message"]
    fresh = status["metadata"]["continue"]
    page = store.list("default", limit=10, continue_token=fresh)
    names = [orjson.loads(d)["metadata"]["name"] for d in page["items"]]
    assert names == ["exp-1", "exp-2", "exp-9"]
    assert Change.objects.exists()
