"""The storage conformance suite: what every backend of the Storage protocol must do.

Modelled on k8s.io/apiserver ``pkg/storage/testing/store_tests.go`` (create, create on an
existing key, get, conditional update and delete, list with paging, list at a revision,
compaction) plus what a SQL backend must add to match etcd's store
(etcd-io/etcd:server/mvcc/kvstore_txn.go): one global revision that
every write of every resource bumps by exactly one, a rolled-back write consumes nothing,
and the change log is dense and in revision order.

Use it by subclassing :class:`StorageConformance` and providing ``make_storage()``; the
subclass supplies the database (pytest marks).  The storage is global, so every assertion
is relative to the revision read at the start of the test.
"""
from __future__ import annotations

import random

import orjson
import pytest

from apiserver.storage.base import Compacted, KeyExists, KeyNotFound, RevisionMismatch


def obj(name: str, namespace: str = "", **extra) -> dict:
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta, **extra}


def load(doc: str) -> dict:
    return orjson.loads(doc)


def rv_of(doc: str) -> str:
    return load(doc)["metadata"]["resourceVersion"]


def names(result) -> list[tuple[str, str]]:
    out = []
    for doc in result.items:
        m = load(doc)["metadata"]
        out.append((m.get("namespace", ""), m["name"]))
    return out


class StorageConformance:
    """Base class of the conformance tests; subclasses implement ``make_storage``."""

    def make_storage(self):
        raise NotImplementedError

    @pytest.fixture
    def storage(self):
        return self.make_storage()

    # ---- helpers ---------------------------------------------------------------------------
    @staticmethod
    def all_changes(storage, after: int) -> list:
        out, last = [], after
        while True:
            batch = storage.changes_after(last, limit=100)
            if not batch:
                return out
            out += batch
            last = batch[-1].rv

    @staticmethod
    def list_all(storage, resource, namespace, at=None, page=0):
        """Every item of a list, paged by ``page`` (0: one call), as (ns, name, doc)."""
        items, after, revision = [], None, at
        while True:
            res = storage.list(resource, namespace, after=after, limit=page, at=revision)
            revision = res.revision
            for doc in res.items:
                m = load(doc)["metadata"]
                items.append((m.get("namespace", ""), m["name"], doc))
            if not res.more:
                return items, revision
            assert page and len(res.items) == page
            after = res.last_key

    # ---- create / get ----------------------------------------------------------------------
    def test_create_get_round_trip(self, storage):
        start = storage.current_revision()
        rv, doc = storage.create("foos", "ns1", "a", obj("a", "ns1", spec={"x": 1}))
        assert rv == start + 1
        assert storage.current_revision() == rv
        stored = load(doc)
        assert stored["metadata"]["resourceVersion"] == str(rv)
        assert stored["spec"] == {"x": 1} and stored["metadata"]["name"] == "a"
        got = storage.get("foos", "ns1", "a")
        assert got == (doc, rv)
        assert storage.get("foos", "ns1", "missing") is None
        assert storage.get("foos", "ns2", "a") is None
        assert storage.get("bars", "ns1", "a") is None

    def test_every_write_bumps_the_global_revision_by_one(self, storage):
        start = storage.current_revision()
        seen = []
        seen.append(storage.create("foos", "ns1", "a", obj("a", "ns1"))[0])
        seen.append(storage.create("bars", "", "b", obj("b"))[0])
        seen.append(storage.update("foos", "ns1", "a", obj("a", "ns1", v=2), seen[0])[0])
        seen.append(storage.create("foos", "ns2", "a", obj("a", "ns2"))[0])
        seen.append(storage.delete("bars", "", "b", seen[1])[0])
        seen.append(storage.update("foos", "ns2", "a", obj("a", "ns2", v=2), seen[3])[0])
        assert seen == list(range(start + 1, start + 7))
        assert storage.current_revision() == start + 6

    def test_create_existing_key_raises_and_consumes_no_revision(self, storage):
        rv, doc = storage.create("foos", "ns1", "a", obj("a", "ns1", v=1))
        with pytest.raises(KeyExists):
            storage.create("foos", "ns1", "a", obj("a", "ns1", v=2))
        assert storage.current_revision() == rv            # the bump was rolled back
        assert storage.get("foos", "ns1", "a") == (doc, rv)
        assert self.all_changes(storage, rv) == []
        # the same name elsewhere is another key
        assert storage.create("foos", "ns2", "a", obj("a", "ns2"))[0] == rv + 1
        assert storage.create("foosbars", "ns1", "a", obj("a", "ns1"))[0] == rv + 2
        assert storage.create("foos", "", "a", obj("a"))[0] == rv + 3

    # ---- update ----------------------------------------------------------------------------
    def test_update_with_matching_revision(self, storage):
        rv1, _ = storage.create("foos", "ns1", "a", obj("a", "ns1", v=1))
        rv2, doc = storage.update("foos", "ns1", "a", obj("a", "ns1", v=2), rv1)
        assert rv2 == rv1 + 1
        assert load(doc)["v"] == 2 and rv_of(doc) == str(rv2)
        assert storage.get("foos", "ns1", "a") == (doc, rv2)
        [change] = self.all_changes(storage, rv1)
        assert (change.rv, change.type, change.resource, change.namespace, change.name) == \
            (rv2, "MODIFIED", "foos", "ns1", "a")
        assert load(change.doc) == load(doc)

    def test_update_with_stale_revision_writes_nothing(self, storage):
        rv1, _ = storage.create("foos", "ns1", "a", obj("a", "ns1", v=1))
        rv2, doc2 = storage.update("foos", "ns1", "a", obj("a", "ns1", v=2), rv1)
        with pytest.raises(RevisionMismatch):
            storage.update("foos", "ns1", "a", obj("a", "ns1", v=3), rv1)
        assert storage.current_revision() == rv2
        assert storage.get("foos", "ns1", "a") == (doc2, rv2)
        assert self.all_changes(storage, rv2) == []
        # a later correct write gets the very next revision: nothing was consumed
        assert storage.update("foos", "ns1", "a", obj("a", "ns1", v=3), rv2)[0] == rv2 + 1

    def test_update_and_delete_of_missing_key(self, storage):
        rv, _ = storage.create("foos", "ns1", "a", obj("a", "ns1"))
        with pytest.raises(KeyNotFound):
            storage.update("foos", "ns1", "b", obj("b", "ns1"), rv)
        with pytest.raises(KeyNotFound):
            storage.update("foos", "ns2", "a", obj("a", "ns2"), rv)
        with pytest.raises(KeyNotFound):
            storage.delete("foos", "ns1", "b", rv)
        with pytest.raises(KeyNotFound):
            storage.delete("foosbars", "ns1", "a", rv)
        assert storage.current_revision() == rv
        assert self.all_changes(storage, rv) == []

    # ---- delete ----------------------------------------------------------------------------
    def test_delete_returns_last_state_stamped_with_deletion_revision(self, storage):
        rv1, _ = storage.create("foos", "ns1", "a", obj("a", "ns1", v=1))
        rv2, doc2 = storage.update("foos", "ns1", "a", obj("a", "ns1", v=2), rv1)
        rv3, doc3 = storage.delete("foos", "ns1", "a", rv2)
        assert rv3 == rv2 + 1
        expected = load(doc2)
        expected["metadata"]["resourceVersion"] = str(rv3)
        assert load(doc3) == expected
        assert storage.get("foos", "ns1", "a") is None
        [change] = self.all_changes(storage, rv2)
        assert (change.rv, change.type, change.name) == (rv3, "DELETED", "a")
        assert load(change.doc) == expected
        # the key is free again
        assert storage.create("foos", "ns1", "a", obj("a", "ns1"))[0] == rv3 + 1

    def test_delete_with_stale_revision_keeps_the_object(self, storage):
        rv1, _ = storage.create("foos", "ns1", "a", obj("a", "ns1", v=1))
        rv2, doc2 = storage.update("foos", "ns1", "a", obj("a", "ns1", v=2), rv1)
        with pytest.raises(RevisionMismatch):
            storage.delete("foos", "ns1", "a", rv1)
        assert storage.get("foos", "ns1", "a") == (doc2, rv2)
        assert storage.current_revision() == rv2
        assert self.all_changes(storage, rv2) == []

    # ---- list ------------------------------------------------------------------------------
    def test_list_is_in_key_order_at_the_current_revision(self, storage):
        keys = [("b", "x"), ("a", "z"), ("a", "b"), ("", "c"), ("b", "a"), ("a", "a1"),
                ("ab", "a"), ("a", "a")]
        docs = {}
        for ns, name in keys:
            docs[(ns, name)] = storage.create("foos", ns, name, obj(name, ns))[1]
        res = storage.list("foos", None)
        assert names(res) == sorted(keys)
        assert res.items == [docs[k] for k in sorted(keys)]
        assert res.revision == storage.current_revision()
        assert res.more is False and res.last_key == max(keys)
        empty = storage.list("nothings", None)
        assert empty.items == [] and empty.last_key is None and empty.more is False
        assert empty.revision == storage.current_revision()

    def test_list_scope_never_leaks_other_namespaces_or_resources(self, storage):
        # LIKE wildcards in names, resources that are prefixes of each other
        layout = {
            "foos": ["a_b", "axb", "a%", "a%b", "a", "ab", ""],
            "foosbars": ["a_b", "a", ""],
            "foo": ["a_b", "a"],
            "foos.apps": ["a_b"],
        }
        for resource, namespaces in layout.items():
            for ns in namespaces:
                for name in ("n_1", "n%1", "nx1"):
                    storage.create(resource, ns, name, obj(name, ns, res=resource))
        for resource, namespaces in layout.items():
            for ns in namespaces:
                res = storage.list(resource, ns)
                assert names(res) == [(ns, "n%1"), (ns, "n_1"), (ns, "nx1")], (resource, ns)
                assert {load(d)["res"] for d in res.items} == {resource}
                paged, _ = self.list_all(storage, resource, ns, page=2)
                assert [(p[0], p[1]) for p in paged] == names(res)
            everything = storage.list(resource, None)
            assert sorted({k[0] for k in names(everything)}) == sorted(namespaces)
            assert len(everything.items) == 3 * len(namespaces)
            assert {load(d)["res"] for d in everything.items} == {resource}
        assert storage.list("fo%", None).items == []
        assert storage.list("foos_", None).items == []
        assert storage.list("foos", "a_").items == []

    def test_paging_with_limit_and_after(self, storage):
        keys = sorted((ns, f"n{i:02d}") for ns in ("ns1", "ns2", "ns3") for i in range(5))
        for ns, name in random.Random(7).sample(keys, len(keys)):
            storage.create("foos", ns, name, obj(name, ns))
        for limit in (1, 2, 4, 5, 14, 15, 16):
            first = storage.list("foos", None, limit=limit)
            assert names(first) == keys[:limit]
            assert first.more == (limit < len(keys))
            assert first.last_key == keys[min(limit, len(keys)) - 1]
            got, _ = self.list_all(storage, "foos", None, page=limit)
            assert [(g[0], g[1]) for g in got] == keys
        # `after` is exclusive and works across namespaces and inside one namespace
        assert names(storage.list("foos", None, after=("ns1", "n04"), limit=2)) == \
            [("ns2", "n00"), ("ns2", "n01")]
        assert names(storage.list("foos", "ns2", after=("ns2", "n03"))) == [("ns2", "n04")]
        last = storage.list("foos", None, after=keys[-1], limit=3)
        assert last.items == [] and last.more is False and last.last_key is None

    # ---- list at a revision ----------------------------------------------------------------
    def _random_history(self, storage, steps: int, seed: int):
        """Random creates/updates/deletes over two resources and three namespaces; returns
        [(revision, {(resource, ns, name): doc})] with the full state after each write."""
        rng = random.Random(seed)
        live: dict = {}
        snapshots = [(storage.current_revision(), {})]
        for step in range(steps):
            op = rng.random()
            if not live or op < 0.45:
                key = (rng.choice(["foos", "foosbars"]), rng.choice(["a", "b", "a_"]),
                       f"o{rng.randrange(8)}")
                if key in live:
                    continue
                rv, doc = storage.create(*key, obj(key[2], key[1], step=step))
                live[key] = (doc, rv)
            elif op < 0.8:
                key = rng.choice(sorted(live))
                rv, doc = storage.update(*key, obj(key[2], key[1], step=step), live[key][1])
                live[key] = (doc, rv)
            else:
                key = rng.choice(sorted(live))
                rv, _ = storage.delete(*key, live[key][1])
                del live[key]
            snapshots.append((rv, {k: v[0] for k, v in live.items()}))
        return snapshots

    @staticmethod
    def _expected(snapshot: dict, resource: str, namespace):
        return sorted((ns, name, doc) for (res, ns, name), doc in snapshot.items()
                      if res == resource and (namespace is None or ns == namespace))

    def test_list_at_older_revision_reconstructs_that_state(self, storage):
        snapshots = self._random_history(storage, 60, seed=11)
        assert len(snapshots) > 40
        for revision, snapshot in snapshots:
            for resource in ("foos", "foosbars"):
                for namespace in (None, "a", "a_"):
                    got, at = self.list_all(storage, resource, namespace, at=revision)
                    assert at == revision
                    assert got == self._expected(snapshot, resource, namespace), \
                        (revision, resource, namespace)
            paged, _ = self.list_all(storage, "foos", None, at=revision, page=2)
            assert paged == self._expected(snapshot, "foos", None)

    def test_list_at_revision_sees_deleted_and_recreated_keys_as_they_were(self, storage):
        r0 = storage.current_revision()
        rv_a, doc_a = storage.create("foos", "ns", "a", obj("a", "ns", v=1))
        rv_b, doc_b = storage.create("foos", "ns", "b", obj("b", "ns", v=1))
        snap = storage.list("foos", "ns")
        at = snap.revision
        storage.delete("foos", "ns", "a", rv_a)
        storage.create("foos", "ns", "a", obj("a", "ns", v=2))        # re-created after R
        storage.update("foos", "ns", "b", obj("b", "ns", v=2), rv_b)
        storage.create("foos", "ns", "0first", obj("0first", "ns"))   # sorts before both
        storage.create("foos", "ns", "c", obj("c", "ns"))
        again = storage.list("foos", "ns", at=at)
        assert again.items == snap.items == [doc_a, doc_b]
        assert again.revision == at
        assert storage.list("foos", "ns", at=r0).items == []
        page = storage.list("foos", "ns", at=at, limit=1)
        assert page.items == [doc_a] and page.more
        page = storage.list("foos", "ns", at=at, limit=1, after=page.last_key)
        assert page.items == [doc_b] and not page.more

    # ---- compaction ------------------------------------------------------------------------
    def test_compaction(self, storage):
        base = storage.compacted_revision()
        assert storage.compact(3600) == base        # nothing is an hour old: no-op
        rv_a, _ = storage.create("foos", "ns", "a", obj("a", "ns", v=1))
        rv_b, _ = storage.create("foos", "ns", "b", obj("b", "ns", v=1))
        rv_c, _ = storage.create("foos", "ns", "c", obj("c", "ns", v=1))
        before = storage.list("foos", "ns").revision
        rv_a, _ = storage.update("foos", "ns", "a", obj("a", "ns", v=2), rv_a)
        storage.delete("foos", "ns", "c", rv_c)
        at_target = storage.list("foos", "ns")
        target = storage.compact(-60)                # everything is older than "now + 60 s"
        assert target == at_target.revision == storage.compacted_revision()
        # later writes: the rebuild of revision `target` needs the latest row of each key
        storage.update("foos", "ns", "b", obj("b", "ns", v=2), rv_b)
        storage.delete("foos", "ns", "a", rv_a)
        storage.create("foos", "ns", "c", obj("c", "ns", v=3))
        storage.create("foos", "ns", "d", obj("d", "ns"))
        assert storage.list("foos", "ns", at=target).items == at_target.items
        paged, _ = self.list_all(storage, "foos", "ns", at=target, page=1)
        assert [p[2] for p in paged] == at_target.items
        with pytest.raises(Compacted) as exc:
            storage.list("foos", "ns", at=before)
        assert (exc.value.requested, exc.value.compacted) == (before, target)
        with pytest.raises(Compacted):
            storage.list("foos", "ns", at=target - 1, limit=1)
        # history above the compacted revision is complete
        changes = self.all_changes(storage, target)
        assert [c.rv for c in changes] == list(range(target + 1, storage.current_revision() + 1))
        # history below the target is gone: a change feed from there must say so
        with pytest.raises(Compacted):
            storage.changes_after(target - 1)
        # ... but the state as of the target survives: one row per live key, none for
        # deleted keys
        kept = storage.list("foos", "ns", at=target).items
        assert [orjson.loads(d)["metadata"]["name"] for d in kept] == ["a", "b"]
        # compacting again with nothing new to drop changes nothing
        assert storage.compact(3600) == target

    # ---- change log ------------------------------------------------------------------------
    def test_changes_after_is_dense_and_ordered(self, storage):
        start = storage.current_revision()
        snapshots = self._random_history(storage, 40, seed=5)
        end = storage.current_revision()
        changes = self.all_changes(storage, start)
        assert [c.rv for c in changes] == list(range(start + 1, end + 1))
        assert [c.rv for c in changes] == [rv for rv, _ in snapshots[1:]]
        live: dict = {}
        for c in changes:
            key = (c.resource, c.namespace, c.name)
            assert rv_of(c.doc) == str(c.rv)
            if c.type == "ADDED":
                assert key not in live
                live[key] = c.doc
            elif c.type == "MODIFIED":
                assert key in live
                live[key] = c.doc
            else:
                assert c.type == "DELETED" and key in live
                del live[key]
        assert live == snapshots[-1][1]           # replaying the log gives the final state
        # limit and resumption
        first = storage.changes_after(start, limit=3)
        assert [c.rv for c in first] == [start + 1, start + 2, start + 3]
        assert storage.changes_after(end) == []
        middle = storage.changes_after(end - 2)
        assert [c.rv for c in middle] == [end - 1, end]
