"""RBACStorage: the storage conformance suite over the relational RBAC tables, documents that
come back byte for byte, the data migration, and watches fed by the shared change log.

The suite (tests/apiserver/storage/conformance.py) names generic resources; here they are
mapped onto the four RBAC resources and its objects are given RBAC shapes (rules in mixed key
orders, subjects, roleRef, labels …), the suite's own fields kept as unknown top-level keys.
Resources left unmapped stay in the document table of the same storage, which also checks that
the two never leak into each other.
"""
from __future__ import annotations

import asyncio
import copy
import random
from dataclasses import replace

import orjson
import pytest
from django.db import connection

from apiserver.storage.base import KeyExists, KeyNotFound, RevisionMismatch, StorageError
from apiserver.storage.sql import SQLStorage, _stamp
from rbac.storage import RBACStorage, for_default_storage
from tests.apiserver.storage.conformance import StorageConformance
from tests.apiserver.storage.support import ensure_revision_row

G = "rbac.authorization.k8s.io"
ROLES, CLUSTERROLES = f"roles.{G}", f"clusterroles.{G}"
ROLEBINDINGS, CLUSTERROLEBINDINGS = f"rolebindings.{G}", f"clusterrolebindings.{G}"


# ---- RBAC-shaped objects ---------------------------------------------------------------------
def _meta(obj: dict) -> dict:
    meta = dict(obj["metadata"])
    name = meta["name"]
    # server-set fields in the order the Store writes them, labels in a client's order
    meta.update(uid=f"uid-{name}", creationTimestamp="2024-05-01T10:00:00Z",
                labels={"zz": "1", "app": name, "kubernetes.io/bootstrapping": "rbac-defaults"})
    return meta


def _body(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "metadata"}


def _tag(obj: dict) -> str:
    return orjson.dumps(_body(obj)).decode()


def role_shape(kind: str):
    def shape(obj: dict) -> dict:
        rules = [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get"]},
                 {"verbs": ["get", "update"], "apiGroups": ["apps"], "resources": ["deployments"],
                  "resourceNames": [_tag(obj)]}]
        out = {"apiVersion": f"{G}/v1", "kind": kind, "metadata": _meta(obj), "rules": rules}
        if kind == "ClusterRole":
            rules.append({"nonResourceURLs": ["/healthz", "/version/*"], "verbs": ["get"]})
            out["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"x": _tag(obj)}}]}
        return {**out, **_body(obj)}
    return shape


def binding_shape(kind: str, ref_kind: str):
    def shape(obj: dict) -> dict:
        subjects = [{"kind": "User", "apiGroup": G, "name": f"user-{_tag(obj)}"},
                    {"apiGroup": G, "name": "devs", "kind": "Group"},
                    {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"}]
        return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": _meta(obj),
                "subjects": subjects,
                "roleRef": {"kind": ref_kind, "name": "view", "apiGroup": G}, **_body(obj)}
    return shape


SHAPES = {
    ROLES: role_shape("Role"),
    CLUSTERROLES: role_shape("ClusterRole"),
    ROLEBINDINGS: binding_shape("RoleBinding", "Role"),
    CLUSTERROLEBINDINGS: binding_shape("ClusterRoleBinding", "ClusterRole"),
}


class RBACShaped:
    """The suite's resource names mapped onto RBAC resources, its objects given RBAC shapes;
    documents and change records pass back unchanged (only resource names are mapped back)."""

    def __init__(self, storage, mapping: dict):
        self.storage, self.mapping = storage, mapping
        self.back = {v: k for k, v in mapping.items()}
        self.listeners = storage.listeners

    def _r(self, resource):
        return self.mapping.get(resource, resource)

    def _obj(self, resource, obj):
        target = self.mapping.get(resource)
        return SHAPES[target](obj) if target else obj

    def get(self, resource, namespace, name):
        return self.storage.get(self._r(resource), namespace, name)

    def create(self, resource, namespace, name, obj):
        return self.storage.create(self._r(resource), namespace, name, self._obj(resource, obj))

    def update(self, resource, namespace, name, obj, expected_rv):
        return self.storage.update(self._r(resource), namespace, name, self._obj(resource, obj),
                                   expected_rv)

    def delete(self, resource, namespace, name, expected_rv):
        return self.storage.delete(self._r(resource), namespace, name, expected_rv)

    def list(self, resource, namespace, **kw):
        return self.storage.list(self._r(resource), namespace, **kw)

    def changes_after(self, rv, limit=500, *, resource=None, upto=None):
        found = self.storage.changes_after(rv, limit, resource=resource and self._r(resource),
                                           upto=upto)
        return [replace(c, resource=self.back.get(c.resource, c.resource)) for c in found]

    def current_revision(self):
        return self.storage.current_revision()

    def compacted_revision(self):
        return self.storage.compacted_revision()

    def compact(self, window_seconds):
        return self.storage.compact(window_seconds)


@pytest.mark.django_db
class TestRolesAndRoleBindings(StorageConformance):
    """foos → Roles, foosbars → RoleBindings, bars → ClusterRoles; other names: documents."""

    def make_storage(self):
        ensure_revision_row()
        return RBACShaped(RBACStorage(), {"foos": ROLES, "foosbars": ROLEBINDINGS,
                                          "bars": CLUSTERROLES})


@pytest.mark.django_db
class TestRoleBindingsAndRoles(StorageConformance):
    """The other way round, and bars → ClusterRoleBindings."""

    def make_storage(self):
        ensure_revision_row()
        return RBACShaped(RBACStorage(), {"foos": ROLEBINDINGS, "foosbars": ROLES,
                                          "bars": CLUSTERROLEBINDINGS})


# ---- cluster-scoped kinds: history, paging, lists as of a revision ---------------------------
@pytest.mark.django_db
def test_cluster_scoped_history_lists_and_pages_as_of_every_revision():
    ensure_revision_row()
    storage = RBACStorage()
    rng = random.Random(3)
    live: dict = {}
    snapshots = [(storage.current_revision(), {})]
    for step in range(70):
        resource = rng.choice([CLUSTERROLES, CLUSTERROLEBINDINGS])
        name = f"system:o{rng.randrange(9)}"
        key = (resource, name)
        obj = SHAPES[resource]({"metadata": {"name": name}, "step": step})
        if key not in live:
            rv, doc = storage.create(resource, "", name, obj)
            live[key] = (doc, rv)
        elif rng.random() < 0.7:
            rv, doc = storage.update(resource, "", name, obj, live[key][1])
            live[key] = (doc, rv)
        else:
            rv, _ = storage.delete(resource, "", name, live[key][1])
            del live[key]
        snapshots.append((rv, {k: v[0] for k, v in live.items()}))
    for revision, snapshot in snapshots[::3] + snapshots[-1:]:
        for resource in (CLUSTERROLES, CLUSTERROLEBINDINGS):
            expected = [doc for (res, _), doc in sorted(snapshot.items()) if res == resource]
            for page in (0, 1, 2, 5):
                got, at = StorageConformance.list_all(storage, resource, None, at=revision,
                                                      page=page)
                assert at == revision and [g[2] for g in got] == expected, (revision, page)
            assert storage.list(resource, "ns").items == []
    for resource in (CLUSTERROLES, CLUSTERROLEBINDINGS):
        current = [doc for (res, _), doc in sorted(live.items()) if res == resource]
        assert storage.list(resource, None).items == [d for d, _ in current]
        assert storage.list(resource, "").items == [d for d, _ in current]
        first = storage.list(resource, None, limit=2)
        assert first.remaining == max(len(current) - 2, 0) and first.more == (len(current) > 2)


@pytest.mark.django_db
def test_a_cluster_scoped_kind_has_no_namespaced_keys():
    ensure_revision_row()
    storage = RBACStorage()
    rv = storage.current_revision()
    with pytest.raises(StorageError):
        storage.create(CLUSTERROLES, "ns", "x", {"metadata": {"name": "x"}})
    assert storage.current_revision() == rv
    assert storage.get(CLUSTERROLES, "ns", "x") is None
    with pytest.raises(KeyNotFound):
        storage.update(CLUSTERROLES, "ns", "x", {"metadata": {"name": "x"}}, rv)


# ---- byte for byte -----------------------------------------------------------------------------
ODD_DOCUMENTS = [
    # what the API writes, keys in kubectl's order
    (ROLES, "ns", {"apiVersion": f"{G}/v1", "kind": "Role",
                   "metadata": {"name": "r", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                                "generation": 3, "creationTimestamp": "2024-01-01T00:00:00Z",
                                "labels": {"b": "2", "a": "1"},
                                "managedFields": [{"manager": "kubectl", "operation": "Update",
                                                   "fieldsV1": {"f:rules": {}}}]},
                   "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]}),
    # metadata keys without columns, unknown top-level keys, nulls, empty lists, unicode
    (ROLES, "ns", {"kind": "Role", "zeta": {"b": 1, "a": [1.5, None, True]},
                   "metadata": {"generateName": "r-", "name": "r", "annotations": None,
                                "finalizers": [], "deletionGracePeriodSeconds": 0,
                                "deletionTimestamp": "2024-01-01T00:00:01Z",
                                "ownerReferences": [{"kind": "X", "name": "é☃"}]},
                   "rules": [{"resourceNames": [], "verbs": None, "apiGroups": [""],
                              "resources": ["pods/log"]}, {}], "apiVersion": "v"}),
    # values a column cannot hold: kept whole in the JSON remainder
    (ROLES, "ns", {"metadata": {"name": "other-name", "namespace": "elsewhere", "uid": 7,
                                "generation": 2 ** 63, "creationTimestamp": "x" * 65,
                                "resourceVersion": "not-this"},
                   "rules": [{"verbs": ["get"], "extra": True}]}),
    (ROLES, "ns", {"metadata": {"name": "r", "generation": True, "uid": "nul\x00"},
                   "rules": "not-a-list"}),
    (ROLES, "ns", {"metadata": {"name": "r"}, "rules": [["not", "an", "object"]]}),
    (ROLES, "", {"metadata": {"name": "r"}}),
    (CLUSTERROLES, "", {"metadata": {"name": "c", "namespace": "ignored-by-key"},
                        "aggregationRule": None, "rules": []}),
    (CLUSTERROLES, "", {"aggregationRule": {"clusterRoleSelectors": []},
                        "metadata": {"labels": {}, "name": "c"}, "rules": None}),
    (ROLEBINDINGS, "ns", {"roleRef": {"name": "v", "kind": "ClusterRole", "apiGroup": G},
                          "metadata": {"name": "b", "namespace": "ns"},
                          "subjects": [{"name": "x", "kind": "User"}, {"namespace": "n",
                                                                        "kind": "ServiceAccount",
                                                                        "name": "s"}]}),
    (ROLEBINDINGS, "ns", {"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": 5},
                          "subjects": [{"kind": "User", "name": "x" * 2000}]}),
    (ROLEBINDINGS, "ns", {"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "x": "y"},
                          "subjects": None}),
    (CLUSTERROLEBINDINGS, "", {"metadata": {"name": "b"}, "roleRef": "flat",
                               "subjects": [{"kind": "Group", "name": "g", "zz": 1}]}),
    (CLUSTERROLEBINDINGS, "", {"metadata": {"name": "b"}, "subjects": []}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("resource, namespace, obj", ODD_DOCUMENTS)
def test_every_read_gives_back_what_the_document_store_would(resource, namespace, obj):
    ensure_revision_row()
    storage = RBACStorage()
    name = {ROLES: "r", CLUSTERROLES: "c"}.get(resource, "b")
    rv, doc = storage.create(resource, namespace, name, copy.deepcopy(obj))
    # the document store's text for the same object at the same revision
    assert doc == _stamp(copy.deepcopy(obj), rv)
    assert storage.get(resource, namespace, name) == (doc, rv)
    assert storage.list(resource, namespace).items == [doc]
    assert storage.list(resource, None, limit=1).items == [doc]
    assert storage.list(resource, namespace, at=rv).items == [doc]
    [change] = storage.changes_after(rv - 1)
    assert (change.type, change.doc) == ("ADDED", doc)
    # and again after an update and at the older revision
    changed = copy.deepcopy(obj)
    changed["later"] = [2]
    rv2, doc2 = storage.update(resource, namespace, name, copy.deepcopy(changed), rv)
    assert doc2 == _stamp(copy.deepcopy(changed), rv2)
    assert storage.get(resource, namespace, name) == (doc2, rv2)
    assert storage.list(resource, namespace, at=rv).items == [doc]
    rv3, gone = storage.delete(resource, namespace, name, rv2)
    assert gone == _stamp(orjson.loads(doc2), rv3)
    assert storage.list(resource, namespace, at=rv2).items == [doc2]


@pytest.mark.django_db
def test_rows_are_relational():
    """Rules and subjects are rows the admin can query; the key lives in columns."""
    from rbac import models

    ensure_revision_row()
    storage = RBACStorage()
    role = SHAPES[CLUSTERROLES]({"metadata": {"name": "viewer"}})
    storage.create(CLUSTERROLES, "", "viewer", role)
    row = models.ClusterRole.objects.get(name="viewer")
    assert row.uid == "uid-viewer" and row.labels["app"] == "viewer" and row.bootstrap
    assert row.aggregation_rule == role["aggregationRule"]
    assert [(r.position, r.verbs, r.api_groups, r.non_resource_urls) for r in row.rules.all()] == [
        (0, ["get"], [""], None), (1, ["get", "update"], ["apps"], None),
        (2, ["get"], None, ["/healthz", "/version/*"])]
    rv = row.resource_version
    binding = SHAPES[ROLEBINDINGS]({"metadata": {"name": "b", "namespace": "ns"}})
    rv_b, _ = storage.create(ROLEBINDINGS, "ns", "b", binding)
    b = models.RoleBinding.objects.get(namespace="ns", name="b")
    assert (b.role_ref_kind, b.role_ref_name, b.role_ref_api_group, b.resource_version) == \
        ("Role", "view", G, rv_b)
    assert [(s.kind, s.name, s.namespace) for s in b.subjects.all()] == [
        ("User", 'user-{}', ""), ("Group", "devs", ""), ("ServiceAccount", "builder", "ci")]
    ids = [s.pk for s in b.subjects.all()]
    binding["subjects"] = binding["subjects"][1:]
    rv_b, _ = storage.update(ROLEBINDINGS, "ns", "b", binding, rv_b)
    # rows keep their ids position by position (an admin form open on them stays valid)
    assert [(s.pk, s.name) for s in b.subjects.all()] == [(ids[0], "devs"), (ids[1], "builder")]
    binding["subjects"].append({"kind": "Group", "name": "more"})
    storage.update(ROLEBINDINGS, "ns", "b", binding, rv_b)
    assert [s.pk for s in b.subjects.all()][:2] == ids[:2] and b.subjects.count() == 3
    storage.delete(CLUSTERROLES, "", "viewer", rv)
    assert not models.PolicyRule.objects.filter(cluster_role__name="viewer").exists()


@pytest.mark.django_db
def test_errors_roll_back_the_revision():
    ensure_revision_row()
    storage = RBACStorage()
    rv, _ = storage.create(ROLES, "ns", "r", SHAPES[ROLES]({"metadata": {"name": "r"}}))
    with pytest.raises(KeyExists):
        storage.create(ROLES, "ns", "r", SHAPES[ROLES]({"metadata": {"name": "r"}}))
    with pytest.raises(RevisionMismatch):
        storage.update(ROLES, "ns", "r", SHAPES[ROLES]({"metadata": {"name": "r"}}), rv - 1)
    with pytest.raises(RevisionMismatch):
        storage.delete(ROLES, "ns", "r", rv - 1)
    assert storage.current_revision() == rv and storage.changes_after(rv) == []


# ---- wiring ----------------------------------------------------------------------------------
def test_the_factory_shares_the_document_storages_listeners():
    default = SQLStorage()
    rbac = for_default_storage(default)
    assert isinstance(rbac, RBACStorage) and rbac.listeners is default.listeners
    assert for_default_storage(object()) is None


def test_the_override_registry_builds_one_storage_per_factory():
    from apiserver.storage.overrides import Overrides
    from rbac.storage import RESOURCES

    registry = Overrides()
    registry.register(RESOURCES, for_default_storage)
    registry.register(RESOURCES[:1], for_default_storage)          # the same claim again
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(RESOURCES[1:2], lambda default: None)
    registry.register(["others"], lambda default: None)              # None: keep the default
    default = SQLStorage()
    built = registry.build(default)
    assert sorted(built) == sorted(RESOURCES)
    assert len({id(s) for s in built.values()}) == 1
    assert next(iter(built.values())).listeners is default.listeners


@pytest.mark.django_db
def test_the_store_serves_rbac_kinds_from_the_rows(ctx):
    """The server's Store over an RBACStorage: the API documents come from the rows."""
    from rbac import models
    from tests.conftest import build_server

    default = SQLStorage()
    rbac = RBACStorage(listeners=default.listeners)
    completed, _ = build_server(storage=default,
                                storage_overrides=dict.fromkeys(rbac.tables, rbac))
    ensure_revision_row()
    store = completed.stores.store(G, "v1", "roles")
    assert store.storage is rbac
    body = {"metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
    doc = store.create("default", body, ctx)
    row = models.Role.objects.get(namespace="default", name="reader")
    assert orjson.loads(doc)["metadata"]["resourceVersion"] == str(row.resource_version)
    assert store.get("default", "reader") == doc
    assert default.get(ROLES, "default", "reader") is None          # not a document row


# ---- the data migration ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_documents_into_rows_and_back(_restore_revision_row):
    from django.core.management import call_command

    from apiserver.storage.models import StoredObject
    from rbac import models

    ensure_revision_row()
    call_command("migrate", "rbac", "0001", verbosity=0)
    try:
        documents = SQLStorage()
        written = {}
        for resource, namespace, obj in [ODD_DOCUMENTS[i] for i in (0, 5, 6, 8, 11)]:
            name = obj["metadata"]["name"]
            written[resource, namespace, name] = documents.create(resource, namespace, name,
                                                                  copy.deepcopy(obj))
        other = documents.create("configmaps", "ns", "r", {"metadata": {"name": "r"}})
        revision = documents.current_revision()
        call_command("migrate", "rbac", verbosity=0)
        rows = RBACStorage()
        for (resource, namespace, name), (rv, doc) in written.items():
            assert rows.get(resource, namespace, name) == (doc, rv)
            assert not StoredObject.objects.filter(resource=resource).exists()
        assert rows.get("configmaps", "ns", "r") == (other[1], other[0])
        assert rows.current_revision() == revision               # no write, no new revision
        assert models.Role.objects.count() == 2
        call_command("migrate", "rbac", "0001", verbosity=0)
        for (resource, namespace, name), (rv, doc) in written.items():
            assert documents.get(resource, namespace, name) == (doc, rv)
    finally:
        call_command("migrate", "rbac", verbosity=0)


# ---- watches -----------------------------------------------------------------------------------
def test_a_watch_receives_rbac_writes_from_the_change_log(threaded_db):
    """The watch cache tails the shared change log: an RBAC write reaches a watcher, woken by
    the shared post-commit listener (the poll is set far out of reach)."""
    from apiserver.storage.watch_cache import WatchCache

    default = SQLStorage()
    rbac = RBACStorage(listeners=default.listeners)

    async def body():
        cache = WatchCache(default, poll_seconds=60)
        await cache.start()
        loop = asyncio.get_running_loop()
        try:
            start = cache.rv
            w = await cache.watch(ROLES, "ns", start)

            def write():
                try:
                    role = SHAPES[ROLES]({"metadata": {"name": "watched", "namespace": "ns"}})
                    rv, doc = rbac.create(ROLES, "ns", "watched", role)
                    rv2, doc2 = rbac.update(ROLES, "ns", "watched", {**role, "x": 1}, rv)
                    return [("ADDED", doc), ("MODIFIED", doc2)]
                finally:
                    connection.close()
            expected = await loop.run_in_executor(None, write)
            got = [await asyncio.wait_for(w.queue.get(), 5) for _ in expected]
            assert [(kind, ev.doc) for kind, ev in got] == expected
            assert got[1][1].prev == expected[0][1]
        finally:
            await cache.stop()
            await loop.run_in_executor(cache.reader, lambda: connection.close())
            cache.reader.shutdown(wait=True)
    asyncio.run(asyncio.wait_for(body(), 30))
