"""Commit order equals revision order under real concurrency.

The promise: a change-log reader never misses a write that committed late.  An
auto-increment revision would break it (taken at insert, visible at commit; see the gap
handling in k3s-io/kine:pkg/logstructured/sqllog/sql.go).

Real threads, each with its own database connection (``threaded_db``): on PostgreSQL the
writers queue on the revision row's lock, on SQLite on BEGIN IMMEDIATE; either way a reader
of the change log must never see revision N+1 committed before N, and the log must be a
dense range (no holes from rollbacks, no duplicates).
"""
from __future__ import annotations

import threading
import time

import orjson
import pytest

from apiserver.storage.base import KeyExists, RevisionMismatch
from apiserver.storage.sql import SQLStorage
from tests.apiserver.storage.support import other_backends, run_in_threads

THREADS, WRITES = 8, 50


def changes(storage, after):
    out = []
    while True:
        batch = storage.changes_after(out[-1].rv if out else after, limit=1000)
        if not batch:
            return out
        out += batch


def test_concurrent_writers_leave_a_dense_log(threaded_db):
    start = SQLStorage().current_revision()
    hot_increments = 5

    def writer(t):
        def run():
            storage = SQLStorage()
            mine, rvs = {}, []
            for i in range(WRITES - hot_increments):
                if i % 3 == 0 or not mine:
                    name = f"t{t}-{i}"
                    rv, _ = storage.create("things", f"ns{t % 3}", name,
                                           {"metadata": {"name": name}, "n": 0})
                    mine[name] = (0, rv)
                else:
                    name = sorted(mine)[i % len(mine)]
                    n, old = mine[name]
                    rv, _ = storage.update("things", f"ns{t % 3}", name,
                                           {"metadata": {"name": name}, "n": n + 1}, old)
                    mine[name] = (n + 1, rv)
                rvs.append(rv)
            # contended optimistic increments of one shared object: no lost update
            done = 0
            while done < hot_increments:
                doc, rv = storage.get("things", "", "hot")
                value = orjson.loads(doc)["n"]
                try:
                    rv, _ = storage.update("things", "", "hot",
                                           {"metadata": {"name": "hot"}, "n": value + 1}, rv)
                except RevisionMismatch:
                    continue
                rvs.append(rv)
                done += 1
            return rvs
        return run

    SQLStorage().create("things", "", "hot", {"metadata": {"name": "hot"}, "n": 0})
    results = run_in_threads([writer(t) for t in range(THREADS)])

    storage = SQLStorage()
    end = storage.current_revision()
    log = changes(storage, start)
    revisions = [c.rv for c in log]
    # exactly one revision per successful write, dense, no duplicates, in order
    assert len(revisions) == THREADS * WRITES + 1
    assert revisions == list(range(start + 1, end + 1))
    returned = sorted([start + 1] + [rv for rvs in results for rv in rvs])
    assert returned == revisions
    for rvs in results:                      # each writer saw its own writes in order
        assert rvs == sorted(rvs)
    # every object's rv is the revision of its last change row, with that row's document
    last = {}
    for c in log:
        last[(c.namespace, c.name)] = c
    for (ns, name), c in last.items():
        doc, rv = storage.get("things", ns, name)
        assert rv == c.rv and doc == c.doc
        assert orjson.loads(doc)["metadata"]["resourceVersion"] == str(rv)
    listed = storage.list("things", None)
    assert len(listed.items) == len(last) and listed.revision == end
    assert orjson.loads(storage.get("things", "", "hot")[0])["n"] == THREADS * hot_increments
    assert other_backends() == 0


def _late_commit(storage_a_op, storage_b_op):
    """Writer A takes revision N and holds its transaction open 0.5 s; writer B writes
    meanwhile; a poller reads the log all along.  Returns what everyone saw."""
    probe = SQLStorage()
    start = probe.current_revision()
    a_took, stop = threading.Event(), threading.Event()
    seen = {"a_rv": None}
    observations = []

    def hook(rv):
        seen["a_rv"], seen["a_took_at"] = rv, time.monotonic()
        a_took.set()
        time.sleep(0.5)

    storage_a, storage_b = SQLStorage(), SQLStorage()
    storage_a.before_commit = hook
    assert SQLStorage.before_commit is None and storage_b.before_commit is None

    def writer_a():
        rv = storage_a_op(storage_a)
        return rv, time.monotonic()

    def writer_b():
        assert a_took.wait(10)
        began = time.monotonic()
        rv = storage_b_op(storage_b)
        return rv, began, time.monotonic()

    def poller():
        storage = SQLStorage()
        assert a_took.wait(10)
        while not stop.is_set():
            observations.append([c.rv for c in storage.changes_after(start)])
            time.sleep(0.005)
        observations.append([c.rv for c in storage.changes_after(start)])

    finished = []

    def counted(fn):
        def run():
            try:
                return fn()
            finally:
                finished.append(fn)
                if len(finished) == 2:
                    stop.set()       # both writers are done: let the poller finish
        return run

    (a_rv, a_done), (b_rv, _, b_done), _ = run_in_threads(
        [counted(writer_a), counted(writer_b), poller])
    return start, seen["a_rv"], a_rv, a_done, b_rv, seen["a_took_at"], b_done, observations


@pytest.mark.parametrize("b_kind", ["create", "update"])
def test_a_late_commit_is_never_overtaken(threaded_db, b_kind):
    SQLStorage().create("things", "ns", "existing", {"metadata": {"name": "existing"}})
    existing_rv = SQLStorage().get("things", "ns", "existing")[1]

    def op_a(storage):
        return storage.create("things", "ns", "a", {"metadata": {"name": "a"}})[0]

    def op_b(storage):
        if b_kind == "create":
            return storage.create("things", "ns", "b", {"metadata": {"name": "b"}})[0]
        return storage.update("things", "ns", "existing",
                              {"metadata": {"name": "existing"}, "x": 1}, existing_rv)[0]

    start, n, a_rv, a_done, b_rv, a_took_at, b_done, observations = _late_commit(op_a, op_b)
    assert n == a_rv == start + 1
    assert b_rv == n + 1
    # B was held until A committed: it cannot finish before A's 0.5 s in the hook is over
    assert b_done - a_took_at >= 0.45
    assert b_done >= a_done - 0.25     # (A's own clock read follows its commit, loosely)
    # the poller never saw N+1 without N: every observation is a dense prefix
    assert observations, "the poller never ran"
    for seen in observations:
        assert seen == list(range(start + 1, start + 1 + len(seen))), seen
    assert observations[-1] == [n, n + 1]
    assert any(seen == [] for seen in observations)   # it did poll while A was open
    assert other_backends() == 0


def test_a_rolled_back_write_leaves_no_hole(threaded_db):
    """Writer A takes revision N then fails (its hook raises) after B started waiting: B
    gets N, not N+1, and the log has no hole."""
    start = SQLStorage().current_revision()

    class Boom(Exception):
        pass

    def hook(rv):
        time.sleep(0.3)
        raise Boom(rv)

    storage_a, storage_b = SQLStorage(), SQLStorage()
    storage_a.before_commit = hook

    def writer_a():
        with pytest.raises(Boom):
            storage_a.create("things", "ns", "a", {"metadata": {"name": "a"}})
        return "rolled back"

    def writer_b():
        time.sleep(0.1)                     # A holds revision start+1 by now
        return storage_b.create("things", "ns", "b", {"metadata": {"name": "b"}})[0]

    assert run_in_threads([writer_a, writer_b]) == ["rolled back", start + 1]
    probe = SQLStorage()
    assert probe.get("things", "ns", "a") is None
    assert [c.rv for c in probe.changes_after(start)] == [start + 1]
    assert probe.current_revision() == start + 1
    # and a duplicate create racing a create: one wins, the loser consumes nothing
    outcomes = run_in_threads([
        (lambda: _try_create("dup")) for _ in range(6)])
    assert sorted(outcomes, key=str) == [start + 2] + ["exists"] * 5
    assert [c.rv for c in probe.changes_after(start)] == [start + 1, start + 2]
    assert other_backends() == 0


def _try_create(name):
    try:
        return SQLStorage().create("things", "ns", name, {"metadata": {"name": name}})[0]
    except KeyExists:
        return "exists"
