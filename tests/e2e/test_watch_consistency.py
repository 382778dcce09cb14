"""Watch consistency against real servers.

Promises tested: every committed write reaches each watcher exactly once and in revision
order, watchers started from the same resourceVersion see the same sequence, and an object
leaving or entering a selector is DELETED or ADDED for that watcher (upstream's conformance
tests of the same: kubernetes/kubernetes:test/e2e/apimachinery/watch.go).

8 writers × 200 writes (creates, label/data updates, deletes of ConfigMaps in one namespace)
race 5 HTTP watchers: two from the same listed resourceVersion, one started half-way from a
list, one with a label selector that objects keep entering and leaving, one with a field
selector on one name.  Every write's answer is recorded; the unfiltered watcher's sequence is
checked against those records (each committed write exactly once, nothing else, revisions
strictly increasing, each writer's writes in its own order), and every other watcher must see
exactly what that history implies for its filter.

Then the same with two server processes on one database: writes on A, watchers on B (woken
by NOTIFY on PostgreSQL, by its 1 s poll on SQLite, where both processes share the WAL file).
"""
from __future__ import annotations

import random
import threading
import time

import pytest

from watch_support import (ServerGroup, WatchReader, Writer, list_rv, new_namespace,
                                summary)

WRITERS, WRITES, NAMES = 8, 200, 6
SELECTOR = "sel%3Dyes"


@pytest.fixture(scope="module")
def pair():
    """Server A (``up``) and server B (``apiserver``) on one database."""
    group = ServerGroup()
    try:
        a = group.start()
        b = group.start()
        yield group, a, b
    finally:
        group.stop()


# ---- the workload and its record ----------------------------------------------------------

def run_writers(server, ns, writers: int, writes: int, progress=None) -> list[list[dict]]:
    """Each writer owns NAMES names and does ``writes`` seeded random writes on them,
    sequentially; returns every writer's list of {op, name, rv, labels, n}."""
    records: list[list[dict]] = [[] for _ in range(writers)]
    failures: list[BaseException] = []
    base = f"/api/v1/namespaces/{ns}/configmaps"

    def writer(i):
        rng = random.Random(1000 + i)
        w = Writer(server)
        alive: dict[str, bool] = {}
        try:
            for step in range(writes):
                name = f"w{i}-{rng.randrange(NAMES)}"
                sel = rng.choice(["yes", "no"])
                labels = {"w": str(i), "sel": sel}
                if not alive.get(name):
                    status, body = w.call("POST", base, {
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "labels": labels},
                        "data": {"n": str(step)}})
                    assert status == 201, (status, body)
                    op = "ADDED"
                    alive[name] = True
                elif rng.random() < 0.7:
                    status, body = w.call("PATCH", f"{base}/{name}", {
                        "metadata": {"labels": {"sel": sel}}, "data": {"n": str(step)}},
                        content_type="application/merge-patch+json")
                    assert status == 200, (status, body)
                    op = "MODIFIED"
                else:
                    status, body = w.call("DELETE", f"{base}/{name}")
                    assert status == 200, (status, body)
                    op, alive[name] = "DELETED", False
                rec = {"op": op, "name": name, "rv": None, "labels": None, "n": None}
                if op != "DELETED":
                    rec.update(rv=int(body["metadata"]["resourceVersion"]),
                               labels=body["metadata"]["labels"], n=body["data"]["n"])
                records[i].append(rec)
                if progress is not None:
                    progress(1)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            w.close()

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    if failures:
        raise failures[0]
    return records


def check_history(history: list[dict], records: list[list[dict]], ns: str) -> None:
    """``history`` (an unfiltered watch from before the first write) is exactly the recorded
    writes: one event per write, nothing else, strictly increasing revisions, each writer's
    events in the order it wrote, created/updated objects as the write answered them."""
    total = sum(len(r) for r in records)
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in history]
    assert len(history) == total, f"{len(history)} events for {total} writes"
    assert rvs == sorted(set(rvs)), "revisions not strictly increasing (or repeated)"
    by_rv = {}
    for e in history:
        assert e["type"] in ("ADDED", "MODIFIED", "DELETED"), e
        assert e["object"]["metadata"]["namespace"] == ns
        by_rv[int(e["object"]["metadata"]["resourceVersion"])] = e
    for i, recs in enumerate(records):
        mine = [e for e in history if e["object"]["metadata"]["labels"]["w"] == str(i)]
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in mine] == \
            [(r["op"], r["name"]) for r in recs], f"writer {i}: history differs from its writes"
        for e, r in zip(mine, recs):
            if r["rv"] is not None:
                assert by_rv[r["rv"]] is e
                assert e["object"]["metadata"]["labels"] == r["labels"]
                assert e["object"]["data"]["n"] == r["n"]


def matches(obj: dict) -> bool:
    return obj["metadata"].get("labels", {}).get("sel") == "yes"


def expected_for(history: list[dict], after: int = 0, selector=None, name: str | None = None):
    """What a watcher from ``after`` with a label predicate or a name should see, derived from
    the full history with upstream's selector transitions."""
    previous: dict[str, dict] = {}
    out = []
    for e in history:
        obj, t = e["object"], e["type"]
        key = obj["metadata"]["name"]
        before = previous.get(key)
        previous[key] = None if t == "DELETED" else obj
        if int(obj["metadata"]["resourceVersion"]) <= after:
            continue
        if name is not None and key != name:
            continue
        if selector is not None:
            now = selector(obj)
            if t == "MODIFIED":
                was = before is not None and selector(before)
                t = ("MODIFIED" if was else "ADDED") if now else ("DELETED" if was else None)
            elif not now:
                t = None
            if t is None:
                continue
        out.append((t, int(obj["metadata"]["resourceVersion"]), key))
    return out


def state_at(history: list[dict], rv: int) -> dict[str, int]:
    """name → resourceVersion of the objects alive at revision ``rv``."""
    alive: dict[str, int] = {}
    for e in history:
        m = e["object"]["metadata"]
        if int(m["resourceVersion"]) > rv:
            break
        if e["type"] == "DELETED":
            alive.pop(m["name"], None)
        else:
            alive[m["name"]] = int(m["resourceVersion"])
    return alive


def settle(watchers_and_counts, timeout=30):
    """Wait until each watcher has at least its expected number of events, then a little
    longer so that duplicates or extras would show."""
    for w, n in watchers_and_counts:
        assert w.wait_count(n, timeout), \
            f"{w.path}: {len(w.events)} of {n} events (error {w.error!r})"
    time.sleep(0.5)


# ---- one server ------------------------------------------------------------------------------

def test_concurrent_writers_and_watchers_agree(pair):
    _, server, _ = pair
    ns = new_namespace(server)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    r0, items = list_rv(server, base)
    assert items == []
    watch = f"{base}?watch=true&resourceVersion={r0}"
    w1 = WatchReader(server, watch)
    w2 = WatchReader(server, watch)
    w_label = WatchReader(server, f"{watch}&labelSelector={SELECTOR}")
    w_field = WatchReader(server, f"{watch}&fieldSelector=metadata.name%3Dw0-0")
    assert [w.status for w in (w1, w2, w_label, w_field)] == [200] * 4

    half = WRITERS * WRITES // 2
    done = {"n": 0}
    lock = threading.Lock()
    mid: dict = {}

    def progress(k):
        with lock:
            done["n"] += k
            start_mid = done["n"] == half
        if start_mid:
            # half-way: list, then watch from the list's resourceVersion
            mid["rv"], mid["items"] = list_rv(server, base)
            mid["watch"] = WatchReader(server, f"{base}?watch=true&resourceVersion={mid['rv']}")

    t0 = time.monotonic()
    records = run_writers(server, ns, WRITERS, WRITES, progress)
    elapsed = time.monotonic() - t0
    total = WRITERS * WRITES
    try:
        assert w1.wait_count(total, 30), f"w1 got {len(w1.events)} of {total}"
        history = list(w1.events)
        check_history(history, records, ns)
        w_mid = mid["watch"]
        mid_rv = int(mid["rv"])
        exp_mid = expected_for(history, after=mid_rv)
        exp_label = expected_for(history, selector=matches)
        exp_field = expected_for(history, name="w0-0")
        settle([(w2, total), (w_mid, len(exp_mid)), (w_label, len(exp_label)),
                (w_field, len(exp_field))])
        # two watchers from the same resourceVersion: identical, object for object
        assert len(w1.events) == total and w2.events == w1.events
        # half-way watcher: exactly the events after the list it started from, and that
        # list was the state the history implies at its revision
        assert summary(w_mid.events) == exp_mid
        listed = {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"])
                  for o in mid["items"]}
        assert listed == state_at(history, mid_rv)
        assert exp_mid and exp_mid[0][1] > mid_rv
        # selectors, with ADDED/DELETED when an object enters or leaves
        assert summary(w_label.events) == exp_label
        stored_type = {int(e["object"]["metadata"]["resourceVersion"]): e["type"]
                       for e in history}
        edges = {(stored_type[rv], t) for t, rv, _ in exp_label}
        # updates that moved objects in and out of the selector, as well as plain ones
        assert {("MODIFIED", "ADDED"), ("MODIFIED", "DELETED"), ("MODIFIED", "MODIFIED"),
                ("ADDED", "ADDED"), ("DELETED", "DELETED")} <= edges, edges
        assert summary(w_field.events) == exp_field
        assert len(exp_field) >= 5 and {n for _, _, n in exp_field} == {"w0-0"}
    finally:
        for w in (w1, w2, w_label, w_field, mid.get("watch")):
            if w is not None:
                w.close()
    print(f"{total} writes in {elapsed:.1f}s")


def test_resume_after_disconnect_gets_exactly_the_missed_events(pair):
    _, server, _ = pair
    ns = new_namespace(server)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    w = Writer(server)
    r0, _ = list_rv(server, base)
    first = WatchReader(server, f"{base}?watch=true&resourceVersion={r0}")
    for i in range(3):
        assert w.call("POST", base, {"metadata": {"name": f"c{i}"}})[0] == 201
    assert first.wait_count(3)
    first.close()
    seen = summary(first.events)
    assert [t for t, _, _ in seen] == ["ADDED"] * 3
    last = seen[-1][1]
    # nobody watches while these happen
    missed = []
    status, body = w.call("PATCH", f"{base}/c0", {"data": {"k": "v"}},
                          content_type="application/merge-patch+json")
    missed.append(("MODIFIED", int(body["metadata"]["resourceVersion"]), "c0"))
    status, body = w.call("DELETE", f"{base}/c1")
    assert status == 200
    status, body = w.call("POST", base, {"metadata": {"name": "c3"}})
    missed.append(("ADDED", int(body["metadata"]["resourceVersion"]), "c3"))
    again = WatchReader(server, f"{base}?watch=true&resourceVersion={last}&timeoutSeconds=2")
    assert again.ended.wait(10), "timeoutSeconds=2 did not end the stream"
    got = summary(again.events)
    assert [(t, n) for t, _, n in got] == [("MODIFIED", "c0"), ("DELETED", "c1"), ("ADDED", "c3")]
    assert got[0] == missed[0] and got[2] == missed[1]
    assert missed[0][1] < got[1][1] < missed[1][1]
    again.close()
    w.close()


# ---- two processes on one database -----------------------------------------------------------

def test_writes_on_one_server_reach_watchers_on_another_in_order(pair):
    group, a, b = pair
    ns = new_namespace(a)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    r0, _ = list_rv(a, base)
    watch = f"{base}?watch=true&resourceVersion={r0}"
    ref = WatchReader(a, watch)                      # the history, from the writing server
    on_b = WatchReader(b, watch)
    on_b_label = WatchReader(b, f"{watch}&labelSelector={SELECTOR}")
    writers, writes = 4, 100
    try:
        records = run_writers(a, ns, writers, writes)
        total = writers * writes
        assert ref.wait_count(total, 30)
        history = list(ref.events)
        check_history(history, records, ns)
        exp_label = expected_for(history, selector=matches)
        settle([(on_b, total), (on_b_label, len(exp_label))])
        assert on_b.events == history
        assert summary(on_b_label.events) == exp_label
    finally:
        for w in (ref, on_b, on_b_label):
            w.close()


def test_the_other_server_is_woken_promptly(pair):
    """Single writes on A at random intervals: B's watcher gets each one.  On PostgreSQL
    NOTIFY wakes B's tailer at once (a few ms); without it B would find each write by its 1 s
    poll, and six deliveries all under 0.5 s would be luck with odds of 0.5^6.  On SQLite B
    finds each within its poll interval."""
    group, a, b = pair
    ns = new_namespace(a)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    r0, _ = list_rv(a, base)
    on_b = WatchReader(b, f"{base}?watch=true&resourceVersion={r0}")
    w = Writer(a)
    delays = []
    rng = random.Random()
    try:
        for i in range(6):
            time.sleep(rng.uniform(0.2, 0.6))    # no fixed phase against B's 1 s poll
            t0 = time.monotonic()
            status, body = w.call("POST", base, {"metadata": {"name": f"p{i}"}})
            assert status == 201
            assert on_b.wait_count(i + 1, 5), f"B never delivered write {i}"
            delays.append(on_b.arrivals[i] - t0)
            assert summary(on_b.events)[i] == ("ADDED", int(body["metadata"]["resourceVersion"]),
                                               f"p{i}")
    finally:
        on_b.close()
        w.close()
    print("delivery delays on the other server:", [round(d, 3) for d in delays])
    limit = 0.5 if group.vendor == "postgresql" else 1.6
    assert max(delays) < limit, f"delivery delays on the other server: {delays}"
