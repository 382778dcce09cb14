"""Watch as real clients use it.

Wire format as kubernetes/apiserver:pkg/endpoints/handlers/watch.go writes it; the Python
client's loop is kubernetes-client/python:kubernetes/base/watch/watch.py.  Promises tested: a
watch from a compacted resourceVersion ends with a 410 Expired
(kubernetes/apiserver:pkg/storage/cacher/watch_cache.go), and a watch ends cleanly once its
timeoutSeconds pass (kubernetes/apiserver:pkg/endpoints/handlers/get.go).

Two servers per database, each with its own module fixture because their settings differ:

* ``main``: bookmarks every second (``--watch-bookmark-interval 1s``).  kubectl ``get -w``
  (ConfigMaps and Pods, a list and one object), ``kubectl delete`` waiting on a finalizer,
  the Python client's ``Watch().stream``, websockets (plain and base64), bookmarks,
  ``sendInitialEvents``, ``timeoutSeconds`` and Table watches.
* ``compacting``: ``--etcd-compaction-interval 1s``.  Its fixture writes, lets compaction pass
  those writes, and writes more before anything watches, so the old resourceVersion is older
  than both the compacted history and the server's watch cache (which, like upstream's
  cacher, serves a watch from memory when it still holds the events): HTTP watch, websocket
  and Python client get 410 Expired, and an expired continue token gets 410.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import threading
import time

import pytest
import websockets
from kubernetes import client as k
from kubernetes import config, watch
from kubernetes.client.rest import ApiException

from conftest import KUBECTL
from watch_support import ServerGroup, WatchReader, Writer, list_rv, new_namespace

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture(scope="module")
def main():
    group = ServerGroup()
    try:
        yield group.start("--watch-bookmark-interval", "1s")
    finally:
        group.stop()


@pytest.fixture(scope="module")
def compacting():
    """(server, namespace, expired resourceVersion, expired continue token)."""
    group = ServerGroup()
    try:
        server = group.start("--etcd-compaction-interval", "1s")
        ns = new_namespace(server)
        base = f"/api/v1/namespaces/{ns}/configmaps"
        w = Writer(server)
        for name in ("c1", "c2"):
            assert w.call("POST", base, {"metadata": {"name": name}})[0] == 201
        page = server.get_json(f"{base}?limit=1")
        token, old_rv = page["metadata"]["continue"], page["metadata"]["resourceVersion"]
        assert token
        assert w.call("POST", base, {"metadata": {"name": "c3"}})[0] == 201
        # wait (> 1 s) until compaction has passed old_rv: an exact list at it is 410 then
        deadline = time.monotonic() + 15
        while True:
            status, _, _ = server.request(
                "GET", f"{base}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
            if status == 410:
                break
            assert status == 200 and time.monotonic() < deadline, status
            time.sleep(0.2)
        assert w.call("POST", base, {"metadata": {"name": "c4"}})[0] == 201
        w.close()
        yield server, ns, old_rv, token
    finally:
        group.stop()


def api(server):
    return config.new_client_from_config(config_file=str(server.kubeconfig))


def create_cm(server, ns, name, labels=None, **meta) -> dict:
    status, _, data = server.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body={
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, **({"labels": labels} if labels else {}), **meta}})
    assert status == 201, data
    return json.loads(data)


def patch_cm(server, ns, name, patch) -> dict:
    status, _, data = server.request(
        "PATCH", f"/api/v1/namespaces/{ns}/configmaps/{name}", body=patch,
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, data
    return json.loads(data)


def rv_of(obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def is_expired(event: dict) -> bool:
    s = event["object"]
    return (event["type"] == "ERROR" and s["kind"] == "Status" and s["code"] == 410
            and s["reason"] == "Expired" and s["status"] == "Failure"
            and "too old resource version" in s["message"])


# ---- 410 ---------------------------------------------------------------------------------------

def test_watch_from_a_compacted_revision_is_an_error_event_in_a_200_stream(compacting):
    server, ns, old_rv, _ = compacting
    w = WatchReader(server, f"/api/v1/namespaces/{ns}/configmaps?watch=true"
                            f"&resourceVersion={old_rv}")
    try:
        assert w.status == 200
        assert w.headers["content-type"].startswith("application/json")
        assert w.ended.wait(10), "the stream did not end after the ERROR event"
        assert len(w.events) == 1 and is_expired(w.events[0]), w.events
    finally:
        w.close()
    # a current resourceVersion on the same server still watches normally
    rv, _ = list_rv(server, f"/api/v1/namespaces/{ns}/configmaps")
    w = WatchReader(server, f"/api/v1/namespaces/{ns}/configmaps?watch=true"
                            f"&resourceVersion={rv}")
    try:
        created = create_cm(server, ns, "fresh")
        assert w.wait_count(1)
        assert (w.events[0]["type"], rv_of(w.events[0]["object"])) == ("ADDED", rv_of(created))
    finally:
        w.close()


def test_list_with_an_expired_continue_token_is_410(compacting):
    server, ns, _, token = compacting
    status, _, data = server.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1&continue={token}")
    body = json.loads(data)
    assert status == 410, body
    assert (body["kind"], body["code"], body["reason"]) == ("Status", 410, "Expired")


def test_python_client_raises_410_for_a_compacted_resource_version(compacting):
    server, ns, old_rv, _ = compacting
    with api(server) as c:
        v1 = k.CoreV1Api(c)
        # with timeout_seconds the first ERROR raises; without it the client retries once
        # with the same resourceVersion, then raises
        for kw in ({"timeout_seconds": 5}, {}):
            started = time.monotonic()
            with pytest.raises(ApiException) as exc:
                for _ in watch.Watch().stream(v1.list_namespaced_config_map, ns,
                                              resource_version=old_rv, **kw):
                    pass
            assert exc.value.status == 410
            assert "Expired" in exc.value.reason and "too old resource version" in exc.value.reason
            assert time.monotonic() - started < 4


def test_websocket_watch_from_a_compacted_revision_gets_an_error_message(compacting):
    server, ns, old_rv, _ = compacting
    messages, close_code = asyncio.run(ws_collect(
        server, f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={old_rv}"))
    assert len(messages) == 1 and is_expired(json.loads(messages[0])), messages
    assert close_code is not None


# ---- bookmarks, initial events, timeouts, tables -------------------------------------------

def test_bookmarks_follow_the_last_event(main):
    ns = new_namespace(main)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv, _ = list_rv(main, base)
    with_bm = WatchReader(main, f"{base}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true")
    without = WatchReader(main, f"{base}?watch=true&resourceVersion={rv}")
    try:
        created = create_cm(main, ns, "b1")
        assert with_bm.wait(lambda evs: any(
            e["type"] == "BOOKMARK" and rv_of(e["object"]) >= rv_of(created) for e in evs), 5)
        first = with_bm.events[0]
        assert (first["type"], rv_of(first["object"])) == ("ADDED", rv_of(created))
        bookmark = next(e for e in with_bm.events if e["type"] == "BOOKMARK")
        assert bookmark["object"]["kind"] == "ConfigMap"
        assert bookmark["object"]["apiVersion"] == "v1"
        assert set(bookmark["object"]["metadata"]) == {"resourceVersion"}
        # bookmarks never go back in time
        bms = [rv_of(e["object"]) for e in with_bm.events if e["type"] == "BOOKMARK"]
        assert bms == sorted(bms)
        time.sleep(1.2)
        assert [e["type"] for e in without.events] == ["ADDED"]     # not asked for: none
    finally:
        with_bm.close()
        without.close()


def test_send_initial_events_then_the_end_bookmark(main):
    ns = new_namespace(main)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    made = [create_cm(main, ns, n) for n in ("i1", "i2", "i3")]
    w = WatchReader(main, f"{base}?watch=true&sendInitialEvents=true"
                          "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
    try:
        assert w.wait(lambda evs: any(e["type"] == "BOOKMARK" for e in evs), 5)
        added = w.events[:3]
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in added] == \
            [("ADDED", "i1"), ("ADDED", "i2"), ("ADDED", "i3")]
        assert [rv_of(e["object"]) for e in added] == [rv_of(o) for o in made]
        end = w.events[3]
        assert end["type"] == "BOOKMARK"
        assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert rv_of(end["object"]) >= rv_of(made[-1])
        later = patch_cm(main, ns, "i2", {"data": {"x": "1"}})
        assert w.wait(lambda evs: any(e["type"] == "MODIFIED" for e in evs), 5)
        live = [e for e in w.events[4:] if e["type"] != "BOOKMARK"]
        assert [(e["type"], rv_of(e["object"])) for e in live] == [("MODIFIED", rv_of(later))]
    finally:
        w.close()
    # the parameter combinations upstream refuses
    for query, status in (("sendInitialEvents=true&allowWatchBookmarks=true", 422),
                          ("sendInitialEvents=true&resourceVersionMatch=NotOlderThan", 422),
                          ("resourceVersionMatch=NotOlderThan", 400)):
        got, _, data = main.request("GET", f"{base}?watch=true&{query}")
        assert got == status, (query, got, data)
        assert json.loads(data)["kind"] == "Status"


def test_timeout_seconds_ends_the_stream(main):
    ns = new_namespace(main)
    w = WatchReader(main, f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=2")
    try:
        assert w.status == 200
        assert w.ended.wait(6), "the stream was still open after 6 s"
        took = w.closed_at - w.opened
        assert 1.8 <= took < 4, took
        assert w.error is None and w.events == []
    finally:
        w.close()


def test_table_watch_has_column_definitions_only_in_the_first_event(main):
    ns = new_namespace(main)
    create_cm(main, ns, "t1")
    w = WatchReader(main, f"/api/v1/namespaces/{ns}/configmaps?watch=true",
                    headers={"Accept": TABLE})
    try:
        assert w.status == 200 and w.headers["content-type"].startswith(
            "application/json;as=Table")
        assert w.wait_count(1)
        create_cm(main, ns, "t2")
        patch_cm(main, ns, "t1", {"data": {"a": "1", "b": "2"}})
        assert w.wait_count(3)
        types = [(e["type"], e["object"]["rows"][0]["cells"][0]) for e in w.events]
        assert types == [("ADDED", "t1"), ("ADDED", "t2"), ("MODIFIED", "t1")]
        for i, e in enumerate(w.events):
            t = e["object"]
            assert (t["kind"], t["apiVersion"]) == ("Table", "meta.k8s.io/v1")
            assert len(t["rows"]) == 1
            assert ("columnDefinitions" in t) == (i == 0), (i, t.keys())
        names = [c["name"] for c in w.events[0]["object"]["columnDefinitions"]]
        assert names == ["Name", "Data", "Age"]
        assert w.events[2]["object"]["rows"][0]["cells"][1] == 2
        assert w.events[2]["object"]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    finally:
        w.close()


# ---- the Python client -------------------------------------------------------------------------

def test_python_client_stream_sees_added_modified_deleted(main):
    ns = new_namespace(main)
    seen = []

    def writes():
        time.sleep(0.5)
        create_cm(main, ns, "py", labels={"a": "1"})
        patch_cm(main, ns, "py", {"metadata": {"labels": {"a": "2"}}})
        assert main.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/py")[0] == 200

    t = threading.Thread(target=writes, daemon=True)
    with api(main) as c:
        v1 = k.CoreV1Api(c)
        w = watch.Watch()
        t.start()
        started = time.monotonic()
        for ev in w.stream(v1.list_namespaced_config_map, ns, timeout_seconds=5):
            if ev["type"] == "BOOKMARK":
                continue
            assert isinstance(ev["object"], k.V1ConfigMap)
            seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.labels,
                         ev["object"].metadata.resource_version))
            if ev["type"] == "DELETED":
                w.stop()
        t.join(5)
    assert time.monotonic() - started < 5
    assert [s[:3] for s in seen] == [("ADDED", "py", {"a": "1"}), ("MODIFIED", "py", {"a": "2"}),
                                     ("DELETED", "py", {"a": "2"})]
    rvs = [int(s[3]) for s in seen]
    assert rvs == sorted(set(rvs))


# ---- kubectl ----------------------------------------------------------------------------------

class Background:
    """A kubectl process whose stdout lines are collected on a thread."""

    def __init__(self, server, *args):
        env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
        self.proc = subprocess.Popen([KUBECTL, "--cache-dir", str(server.cache_dir), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()

    def rows(self) -> list[list[str]]:
        return [line.split() for line in self.lines]

    def wait_rows(self, n: int, timeout: float = 15) -> list[list[str]]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.lines) < n and time.monotonic() < deadline:
                self._cv.wait(0.1)
        return self.rows()

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.thread.join(5)
        return err


def test_kubectl_get_configmaps_watch(main):
    ns = new_namespace(main)
    create_cm(main, ns, "before")
    plain = Background(main, "get", "cm", "-n", ns, "-w")
    events = Background(main, "get", "cm", "-n", ns, "-w", "--output-watch-events")
    try:
        assert [r[:2] for r in plain.wait_rows(2)] == [["NAME", "DATA"], ["before", "0"]]
        assert events.wait_rows(2)[1][:2] == ["ADDED", "before"]
        main.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w1"},
             "data": {"k": "v"}}))
        main.kubectl("label", "-n", ns, "cm", "w1", "x=1")
        main.kubectl("delete", "-n", ns, "cm", "w1")
        rows = events.wait_rows(5)
        assert rows[0] == ["EVENT", "NAME", "DATA", "AGE"]
        assert [r[:3] for r in rows[1:]] == [["ADDED", "before", "0"], ["ADDED", "w1", "1"],
                                             ["MODIFIED", "w1", "1"], ["DELETED", "w1", "1"]]
        rows = plain.wait_rows(5)
        assert [r[:2] for r in rows[1:]] == [["before", "0"], ["w1", "1"], ["w1", "1"],
                                             ["w1", "1"]]
        time.sleep(0.5)
        assert len(plain.lines) == 5 and len(events.lines) == 5
    finally:
        plain.stop()
        events.stop()


def test_kubectl_get_pods_watch(main):
    ns = new_namespace(main)
    events = Background(main, "get", "pods", "-n", ns, "-w", "--output-watch-events")
    try:
        time.sleep(0.5)
        main.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
        main.kubectl("label", "-n", ns, "pod", "p1", "x=1")
        main.kubectl("delete", "-n", ns, "pod", "p1", "--wait=true", "--timeout=10s")
        rows = events.wait_rows(4)
        assert rows[0] == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert [r[:4] for r in rows[1:]] == [["ADDED", "p1", "0/1", "Pending"],
                                             ["MODIFIED", "p1", "0/1", "Pending"],
                                             ["DELETED", "p1", "0/1", "Pending"]]
    finally:
        events.stop()
    assert main.request("GET", f"/api/v1/namespaces/{ns}/pods/p1")[0] == 404


def test_kubectl_get_one_configmap_watch(main):
    ns = new_namespace(main)
    create_cm(main, ns, "one")
    create_cm(main, ns, "other")
    one = Background(main, "get", "cm", "one", "-n", ns, "-w")
    try:
        rows = one.wait_rows(2)
        assert [r[:2] for r in rows] == [["NAME", "DATA"], ["one", "0"]]
        patch_cm(main, ns, "other", {"data": {"a": "1"}})      # another object: not shown
        patch_cm(main, ns, "one", {"data": {"a": "1"}})
        patch_cm(main, ns, "one", {"data": {"a": "1", "b": "2"}})
        rows = one.wait_rows(4)
        assert [r[:2] for r in rows] == [["NAME", "DATA"], ["one", "0"], ["one", "1"],
                                         ["one", "2"]]
        time.sleep(0.5)
        assert len(one.lines) == 4
    finally:
        one.stop()


def test_kubectl_delete_waits_for_the_finalizer(main):
    ns = new_namespace(main)
    create_cm(main, ns, "fin", finalizers=["example.com/hold"])

    def release():
        time.sleep(1.0)
        patch_cm(main, ns, "fin", {"metadata": {"finalizers": None}})

    t = threading.Thread(target=release, daemon=True)
    t.start()
    started = time.monotonic()
    cp = main.kubectl("delete", "-n", ns, "cm", "fin", "--wait=true", "--timeout=10s",
                      check=False, timeout=30)
    took = time.monotonic() - started
    t.join(5)
    assert cp.returncode == 0, cp.stderr
    assert 'configmap "fin" deleted' in cp.stdout
    assert 0.9 <= took < 8, took                      # it waited for the DELETED event
    assert main.request("GET", f"/api/v1/namespaces/{ns}/configmaps/fin")[0] == 404


def test_kubectl_delete_times_out_while_the_finalizer_stays(main):
    ns = new_namespace(main)
    create_cm(main, ns, "stuck", finalizers=["example.com/hold"])
    cp = main.kubectl("delete", "-n", ns, "cm", "stuck", "--wait=true", "--timeout=2s",
                      check=False, timeout=30)
    assert cp.returncode != 0 and "timed out" in cp.stderr, (cp.returncode, cp.stderr)
    status, _, data = main.request("GET", f"/api/v1/namespaces/{ns}/configmaps/stuck")
    assert status == 200 and json.loads(data)["metadata"].get("deletionTimestamp")
    patch_cm(main, ns, "stuck", {"metadata": {"finalizers": None}})


# ---- websockets --------------------------------------------------------------------------------

async def ws_collect(server, path, *, subprotocols=None, until=None, during=None,
                     timeout: float = 10):
    """Open a watch websocket with the admin client certificate; collect messages until
    ``until(messages)`` holds or the server closes.  ``during`` (a blocking callable) runs on
    a thread once the socket is open.  Returns (messages, close code or None if still open)."""
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.load_cert_chain(str(server.admin_cert), str(server.admin_key))
    messages = []
    async with websockets.connect(f"wss://127.0.0.1:{server.port}{path}", ssl=ctx,
                                  subprotocols=subprotocols, open_timeout=10) as ws:
        if subprotocols:
            assert ws.subprotocol == subprotocols[0]
        job = asyncio.ensure_future(asyncio.to_thread(during)) if during else None
        try:
            async with asyncio.timeout(timeout):
                async for message in ws:
                    messages.append(message)
                    if until is not None and until(messages):
                        break
        finally:
            if job is not None:
                await job
        code = ws.close_code
    return messages, code


@pytest.mark.parametrize("subprotocol", [None, "base64.binary.k8s.io"])
def test_websocket_watch(main, subprotocol):
    ns = new_namespace(main)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv, _ = list_rv(main, base)
    expected = []

    def writes():
        time.sleep(0.3)
        expected.append(("ADDED", rv_of(create_cm(main, ns, "ws"))))
        expected.append(("MODIFIED", rv_of(patch_cm(main, ns, "ws", {"data": {"a": "b"}}))))
        main.request("DELETE", f"{base}/ws")

    messages, _ = asyncio.run(ws_collect(
        main, f"{base}?watch=true&resourceVersion={rv}",
        subprotocols=[subprotocol] if subprotocol else None, until=lambda m: len(m) >= 3,
        during=writes))
    assert all(isinstance(m, str) for m in messages)
    if subprotocol:
        messages = [base64.b64decode(m, validate=True).decode() for m in messages]
    events = [json.loads(m) for m in messages]
    assert [(e["type"], rv_of(e["object"])) for e in events[:2]] == expected
    assert events[2]["type"] == "DELETED" and rv_of(events[2]["object"]) > expected[1][1]
    assert {e["object"]["metadata"]["name"] for e in events} == {"ws"}


def test_websocket_watch_ends_at_timeout_seconds(main):
    ns = new_namespace(main)
    create_cm(main, ns, "x")
    started = time.monotonic()
    messages, code = asyncio.run(ws_collect(
        main, f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1"))
    assert [json.loads(m)["type"] for m in messages] == ["ADDED"]
    assert code == 1000 and 0.8 <= time.monotonic() - started < 4
