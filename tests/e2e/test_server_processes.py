"""``--server-processes 2``: two server processes share the port (and the database); writes that
land on either worker reach every watcher, and SIGTERM stops them all."""
import concurrent.futures

import pytest

from watch_support import ServerGroup, WatchReader, Writer, new_namespace


@pytest.fixture(scope="module")
def processes():
    group = ServerGroup()
    try:
        yield group.start("--server-processes", "2")
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
    children = subprocess.run(["pgrep", "-P", str(processes.proc.pid)], capture_output=True,
                              text=True).stdout.split()

    def argv(pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    # up also supervises the controller manager (a worker, not a server process)
    workers = [p for p in children if b"controller-manager" in argv(p)]
    assert len(workers) == 1
    assert len(children) - len(workers) == 2
