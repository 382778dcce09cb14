"""``--server-processes 2``: two server processes share the port (and the database); writes that
land on either worker reach every watcher, and SIGTERM stops them all."""
import concurrent.futures

import pytest

from watch_support import ServerGroup, WatchReader, Writer, new_namespace


@pytest.fixture(scope="module")
def processes():
    group = ServerGroup()
    try:
        yield group.start("--server-processes", "2", workers=True)
    finally:
        group.stop()


def test_two_processes_serve_and_every_watcher_sees_every_write(processes):
    ns = new_namespace(processes)
    readers = [WatchReader(processes, f"/api/v1/namespaces/{ns}/configmaps?watch=true&"
                                    "resourceVersion=0") for _ in range(4)]
    try:
        # 8 connections: the kernel spreads them over both processes
        def write(k):
            w = Writer(processes)
            try:
                for i in range(10):
                    status, _ = w.call("POST", f"/api/v1/namespaces/{ns}/configmaps",
                                       {"metadata": {"name": f"c{k}-{i}"}})
                    assert status == 201
            finally:
                w.close()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(8)))
        for r in readers:
            assert r.wait_count(80, timeout=20), len(r.events)
            rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in r.events]
            assert rvs == sorted(set(rvs)) and len(rvs) == 80
            assert {e["type"] for e in r.events} == {"ADDED"}
    finally:
        for r in readers:
            r.close()


def test_the_supervisor_runs_two_server_processes(processes):
    import subprocess
    import time

    def argv(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().split(b"\0")
        except FileNotFoundError:
            return []

    def children():
        return subprocess.run(["pgrep", "-P", str(processes.proc.pid)], capture_output=True,
                              text=True).stdout.split()
    # up also supervises the controller manager (a worker, not a server process), started
    # once the listener serves
    deadline = time.monotonic() + 15
    while not any(b"controller-manager" in argv(p) for p in children()):
        assert time.monotonic() < deadline, "no controller manager child"
        time.sleep(0.2)
    kids = children()
    workers = [p for p in kids if b"controller-manager" in argv(p)]
    assert len(workers) == 1
    assert len(kids) - len(workers) == 2


def _crd(group: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                         "openAPIV3Schema": {"type": "object",
                                             "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _statuses_from_fresh_connections(server, method, path, body=None, n=16):
    """One request per new connection: the kernel spreads them over both processes."""
    def one(i):
        w = Writer(server)
        try:
            payload = None if body is None else dict(body, metadata={"name": f"w{i}"})
            return w.call(method, path, payload)[0]
        finally:
            w.close()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def _eventually(fn, expected, timeout=15.0):
    import time
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_a_definition_reaches_and_leaves_every_process(processes):
    """A CRD created through one process is served by both (they learn it from the change
    log, not from the creating process's memory), and once deleted neither serves it."""
    import uuid
    ns = new_namespace(processes)
    group = f"g{uuid.uuid4().hex[:8]}.example.com"
    w = Writer(processes)
    try:
        status, _ = w.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                           _crd(group))
        assert status == 201
        path = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        assert _eventually(lambda: set(_statuses_from_fresh_connections(
            processes, "GET", path)), {200}) == {200}
        created = _statuses_from_fresh_connections(
            processes, "POST", path, {"apiVersion": f"{group}/v1", "kind": "Widget"})
        assert created == [201] * 16
        status, listed = w.call("GET", path)
        assert status == 200 and len(listed["items"]) == 16
        status, _ = w.call(
            "DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}")
        assert status == 200
        assert _eventually(lambda: set(_statuses_from_fresh_connections(
            processes, "GET", path)), {404}) == {404}
    finally:
        w.close()
