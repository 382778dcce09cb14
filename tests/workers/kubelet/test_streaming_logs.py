"""``/containerLogs`` of the real ``KubeletServer`` over TLS (workers/kubelet/streaming_logs.py):
each PodLogOptions option on the runtime's lines, follow, previous, the refusals (404, 400,
401, 403), and the simulated runtime's own start/exit lines."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.workers.kubelet.streaming_support import (Host, SubprocessRuntime, client_ssl,
                                                     https_get, make_pki, serve)
from tests.workers.serving.support import bind, review_client  # noqa: F401  (fixtures)
from workers.kubelet import status as st
from workers.kubelet.simulated import SimulatedRuntime
from workers.kubelet.streaming_logs import format_time_ns, parse_time_ns


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("kubelet-logs-pki"))


def stamp(offset: float) -> str:
    return format_time_ns(int((time.time() + offset) * 1e9))


def logs_host():
    rt = SubprocessRuntime()
    host = Host(rt)
    host.add_pod("web", {"main": "c-main"})
    rt.add_log("c-main", "2026-01-01T00:00:01.500000000Z", "one\n")
    rt.add_log("c-main", "2026-01-01T00:00:02Z", "two\n", "stderr")
    rt.add_log("c-main", "2026-01-01T00:00:03.000000001Z", "three\n")
    rt.add_log("c-main", "2026-01-01T00:00:04Z", "four")          # a partial last line
    return host


def run(host, pki, review_client, requests, who="admin"):  # noqa: F811
    """[(status, body)] of each path in ``requests`` against one server."""
    async def go():
        async with serve(host, pki, review_client) as port:
            out = []
            for path in requests:
                status, _, body = await https_get(port, path, client_ssl(pki, who))
                out.append((status, body))
            return out
    return asyncio.run(go())


BASE = "/containerLogs/ns/web/main"


def test_each_log_option(pki, review_client):  # noqa: F811
    got = run(logs_host(), pki, review_client, [
        BASE, BASE + "?tailLines=2", BASE + "?tail=1", BASE + "?tail=all",
        BASE + "?timestamps=true&tailLines=1",
        BASE + "?sinceTime=2026-01-01T00:00:02Z", BASE + "?sinceTime=2026-01-01T01:00:02%2B01:00",
        BASE + "?limitBytes=6", BASE + "?tailLines=0"])
    assert got == [
        (200, b"one\ntwo\nthree\nfour"),
        (200, b"two\nthree\nfour"),                 # a partial line is not counted
        (200, b"three\nfour"),
        (200, b"one\ntwo\nthree\nfour"),
        (200, b"2026-01-01T00:00:03.000000001Z three\n2026-01-01T00:00:04Z four"),
        (200, b"two\nthree\nfour"),
        (200, b"two\nthree\nfour"),                 # the same instant in +01:00
        (200, b"one\ntw"),                       # cut inside a line
        (200, b"four"),
    ]


def test_since_seconds_counts_back_from_now(pki, review_client):  # noqa: F811
    rt = SubprocessRuntime()
    host = Host(rt)
    host.add_pod("web", {"main": "c-main"})
    rt.add_log("c-main", stamp(-120), "old\n")
    rt.add_log("c-main", stamp(-1), "new\n")
    assert run(host, pki, review_client, [BASE + "?sinceSeconds=30"]) == [(200, b"new\n")]


def test_follow_streams_new_lines_until_the_container_ends(pki, review_client):  # noqa: F811
    host = logs_host()
    rt = host.runtime

    async def go():
        async with serve(host, pki, review_client) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           ssl=client_ssl(pki))
            writer.write(f"GET {BASE}?follow=true&tailLines=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                         .encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"200 OK" in head and b"transfer-encoding: chunked" in head.lower()
            assert await read_chunks(reader, b"three\nfour") == b"three\nfour"
            rt.add_log("c-main", "2026-01-01T00:00:05Z", "five\n")
            assert await read_chunks(reader, b"five\n") == b"five\n"
            rt.end_log("c-main")
            assert await asyncio.wait_for(reader.readline(), 5) == b"0\r\n"
            writer.close()
    asyncio.run(go())


async def read_chunks(reader, expected: bytes) -> bytes:
    """Chunks of a chunked body until ``expected``'s length has arrived."""
    out = b""
    while len(out) < len(expected):
        size = int(await asyncio.wait_for(reader.readline(), 5), 16)
        out += (await reader.readexactly(size + 2))[:-2]
    return out


def test_previous_reads_the_last_attempt(pki, review_client):  # noqa: F811
    host = logs_host()
    rec = host.workers["uid-web"].containers[0]
    rec.last_state = {"exitCode": 1, "containerID": "subprocess://c-old"}
    host.runtime.add_log("c-old", "2026-01-01T00:00:00Z", "before the crash\n")
    host.add_pod("fresh", {"main": "c-fresh"})
    got = run(host, pki, review_client, [BASE + "?previous=true",
                                         "/containerLogs/ns/fresh/main?previous=true"])
    assert got == [(200, b"before the crash\n"),
                   (400, b'previous terminated container "main" in pod "fresh" not found')]


def test_refusals(pki, review_client):  # noqa: F811
    host = logs_host()
    host.add_pod("waiting", {"main": ""}, state=st.WAITING)
    got = run(host, pki, review_client, [
        "/containerLogs/ns/nope/main", "/containerLogs/ns/web/other",
        "/containerLogs/ns/waiting/main", BASE + "?tailLines=x", BASE + "?limitBytes=0",
        BASE + "?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", BASE + "?stream=Stdout",
        "/containerLogs/ns/web"])
    assert got == [
        (404, b'pod "nope" does not exist\n'),
        (404, b'container "other" not found in pod "web"\n'),
        (400, b'container "main" in pod "waiting" is waiting to start: ContainerCreating'),
        (400, b'{"message": "Unable to decode query."}'),
        (422, b'{"message": "Invalid request."}'),
        (422, b'{"message": "Invalid request."}'),
        (400, b'unable to return the given log stream: "Stdout". Please enable '
              b'PodLogsQuerySplitStreams feature gate in kubelet'),
        (404, b"404 page not found\n"),
    ]


def test_unauthenticated_and_forbidden_callers(pki, review_client):  # noqa: F811
    assert run(logs_host(), pki, review_client, [BASE], who=None) == [(401, b"Unauthorized")]
    assert run(logs_host(), pki, review_client, [BASE], who="node2") == [
        (403, b"Forbidden (user=system:node:node-2, verb=get, resource=nodes, "
              b"subresource=proxy)")]


def test_the_simulated_runtime_logs_its_start_and_exit(pki, review_client):  # noqa: F811
    async def go():
        rt = SimulatedRuntime(pull_delay=0, start_delay=0)
        host = Host(rt)
        pod = {"metadata": {"uid": "u"}, "spec": {}}
        cid = await rt.create_container(pod, {"name": "main", "image": "busybox"}, 0)
        await rt.start_container(cid)
        host.add_pod("sim", {"main": cid})
        async with serve(host, pki, review_client) as port:
            path = "/containerLogs/ns/sim/main"
            status, _, body = await https_get(port, path, client_ssl(pki))
            assert status == 200
            assert body == b"simulated container main started " \
                           b"(image docker.io/library/busybox:latest)\n"
            follow = asyncio.ensure_future(https_get(port, path + "?follow=1&timestamps=1",
                                                     client_ssl(pki)))
            await asyncio.sleep(0.3)
            assert not follow.done()
            await rt.stop_container(cid, 0)
            status, _, body = await asyncio.wait_for(follow, 5)
            lines = body.decode().splitlines()
            assert [line.split(" ", 1)[1] for line in lines] == [
                "simulated container main started (image docker.io/library/busybox:latest)",
                "simulated container main exited with code 0"]
            assert all(parse_time_ns(line.split(" ", 1)[0]) for line in lines)
    asyncio.run(go())


def test_simulated_logs_end_with_the_exit_of_a_container_that_exits_by_itself():
    async def go():
        rt = SimulatedRuntime(pull_delay=0, start_delay=0)
        pod = {"metadata": {"uid": "u", "annotations": {"sim.kubelet/exit-after-seconds": "0.2",
                                                        "sim.kubelet/exit-code": "3"}}}
        cid = await rt.create_container(pod, {"name": "job", "image": "busybox:1.36"}, 0)
        assert [x async for x in rt.logs(cid, follow=False)] == []     # not started yet
        await rt.start_container(cid)
        follow = asyncio.ensure_future(_collect(rt.logs(cid, follow=True)))
        assert await rt.wait_container(cid) == 3
        lines = await asyncio.wait_for(follow, 5)
        assert [x.data for x in lines] == [
            b"simulated container job started (image docker.io/library/busybox:1.36)\n",
            b"simulated container job exited with code 3\n"]
        assert {x.stream for x in lines} == {"stdout"}
        await rt.remove_pod("u")
        assert [x async for x in rt.logs(cid, follow=True)] == []      # gone with its pod
    asyncio.run(go())


async def _collect(lines):
    return [x async for x in lines]
