"""exec, attach and port-forward over SPDY/3.1 against the real ``KubeletServer`` over TLS
(workers/kubelet/streaming_spdy.py, the ``http.hijack`` of workers/serving/https.py), driven
by ``apiserver.client.spdy_client`` as client-go drives a kubelet: the SPDY upgrade's
protocol negotiation, remote command streams (v4 JSON Status, v3 text errors, resize),
port-forward streams over a plain SPDY upgrade and tunnelled in a websocket
(``SPDY/3.1+portforward.k8s.io``, kubectl 1.32's default) to a real TCP echo server."""
from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect

from apiserver.client import spdy as frames
from apiserver.client.spdy_client import forward, remote_command, tunnel, upgrade
from apiserver.client.spdy_connection import Connection
from tests.workers.kubelet.streaming_support import (Host, SubprocessRuntime, client_ssl,
                                                     echo_server, make_pki, serve)
from tests.workers.serving.support import bind, review_client  # noqa: F401  (fixtures)
from workers.kubelet.simulated import SimulatedRuntime

KUBECTL_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                     "v2.channel.k8s.io", "channel.k8s.io"]
PORT_FORWARD = ["portforward.k8s.io"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("kubelet-spdy-pki"))


def run(coro_fn, pki, review_client, runtime=None):  # noqa: F811
    runtime = runtime or SubprocessRuntime()
    host = Host(runtime)
    host.add_pod("web", {"main": "c-main"})

    async def go():
        if isinstance(runtime, SubprocessRuntime):
            await runtime.start("c-main")
        try:
            async with serve(host, pki, review_client) as port:
                return await asyncio.wait_for(coro_fn(port, runtime), 30)
        finally:
            if isinstance(runtime, SubprocessRuntime):
                await runtime.stop_all()
    return asyncio.run(go())


def exec_path(*argv, **flags) -> str:
    return "/exec/ns/web/main?" + urlencode([("command", a) for a in argv] + list(flags.items()))


async def spdy(port, pki, path, protocols, who="admin"):
    return await upgrade("127.0.0.1", port, path, ssl=client_ssl(pki, who),
                         protocols=protocols)


def test_exec_negotiates_v4_and_reports_the_exit_code(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, exec_path("sh", "-c", "echo out; echo err >&2; exit 5",
                                             output=1, error=1), KUBECTL_PROTOCOLS)
        assert up.status == 101, up.body
        result = await remote_command(up.connection)
        await asyncio.wait_for(up.connection.closed.wait(), 5)   # the kubelet hangs up
        return up, result
    up, result = run(go, pki, review_client)
    assert up.protocol == "v4.channel.k8s.io"
    assert up.headers["upgrade"] == ["SPDY/3.1"] and up.headers["connection"] == ["Upgrade"]
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    assert result.status == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c echo out; echo err >&2; exit 5], exit code 5",
        "details": {"causes": [{"reason": "ExitCode", "message": "5"}]}}


def test_exec_with_stdin_succeeds(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, exec_path("cat", input=1, output=1), KUBECTL_PROTOCOLS)
        return await remote_command(up.connection, stdin=b"hello " * 20000, stderr=False)
    result = run(go, pki, review_client)
    assert result.stdout == b"hello " * 20000
    assert result.status == {"metadata": {}, "status": "Success"}


def test_tty_resize_over_the_resize_stream(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, exec_path("sh", "-c", "read l; stty size", input=1,
                                             output=1, tty=1), KUBECTL_PROTOCOLS)

        async def typed():
            await asyncio.sleep(0.3)
            yield b"go\n"
        result = await remote_command(up.connection, tty=True, sizes=[(100, 30)],
                                      stdin_chunks=typed())
        return result, rt.sessions[0].sizes
    result, sizes = run(go, pki, review_client)
    assert sizes == [(100, 30)]
    assert b"30 100" in result.stdout and result.status["status"] == "Success"


def test_v3_writes_only_an_errors_text(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, exec_path("sh", "-c", "exit 3", output=1),
                        ["v3.channel.k8s.io"])
        assert up.protocol == "v3.channel.k8s.io"
        failed = await remote_command(up.connection, stderr=False)
        up = await spdy(port, pki, exec_path("true", output=1), ["v3.channel.k8s.io"])
        ok = await remote_command(up.connection, stderr=False)
        return failed, ok
    failed, ok = run(go, pki, review_client)
    assert failed.error_text == b"command terminated with non-zero exit code: error " \
                                b"executing command [sh -c exit 3], exit code 3"
    assert ok.error_text == b""


def test_attach_over_spdy(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, "/attach/ns/web/main?input=1&output=1&error=1",
                        KUBECTL_PROTOCOLS)
        return await remote_command(up.connection, stdin=b"a\nb\n")
    result = run(go, pki, review_client)
    assert result.stdout == b"got a\ngot b\n"
    assert result.status == {"metadata": {}, "status": "Success"}


def test_the_simulated_runtime_refuses_exec_over_spdy(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, exec_path("ls", output=1), KUBECTL_PROTOCOLS)
        return await remote_command(up.connection, stderr=False)
    result = run(go, pki, review_client, SimulatedRuntime())
    assert result.status["reason"] == "InternalError" and result.status["code"] == 500
    assert result.status["message"] == "Internal error occurred: error executing command " \
                                       "in container: the simulated runtime cannot run commands"


@pytest.mark.parametrize("path, protocols, who, status, body", [
    (exec_path("ls", output=1), ["v9.channel.k8s.io"], "admin", 403,
     b"unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], "
     b"server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io "
     b"channel.k8s.io]\n"),
    ("/exec/ns/nope/main?command=ls&output=1", KUBECTL_PROTOCOLS, "admin", 404,
     b"pod does not exist"),
    ("/exec/ns/web/other?command=ls&output=1", KUBECTL_PROTOCOLS, "admin", 500,
     b'container not found ("other")'),
    ("/exec/ns/web/wrong-uid/main?command=ls&output=1", KUBECTL_PROTOCOLS, "admin", 500,
     b'container not found ("main")'),
    (exec_path("ls", output=1), KUBECTL_PROTOCOLS, None, 401, b"Unauthorized"),
    (exec_path("ls", output=1), KUBECTL_PROTOCOLS, "node2", 403,
     b"Forbidden (user=system:node:node-2, verb=create, resource=nodes, subresource=proxy)"),
    ("/portForward/ns/web", ["v4.channel.k8s.io"], "admin", 403, None),
    ("/portForward/ns/nope", PORT_FORWARD, "admin", 404, b"pod does not exist"),
])
def test_refusals_before_the_upgrade(pki, review_client, path, protocols, who,  # noqa: F811
                                     status, body):
    async def go(port, rt):
        return await spdy(port, pki, path, protocols, who)
    up = run(go, pki, review_client)
    assert (up.status, up.connection) == (status, None)
    if body is not None:
        assert up.body == body
    if status == 403 and who == "admin":
        assert up.headers["x-accepted-stream-protocol-versions"]


def test_a_post_without_upgrade_headers_is_refused(pki, review_client):  # noqa: F811
    from tests.workers.kubelet.streaming_support import https_get

    async def go(port, rt):
        return await https_get(port, exec_path("ls", output=1), client_ssl(pki),
                               method="POST", headers=[("Content-Length", "0")])
    status, _, body = run(go, pki, review_client)
    assert (status, body) == (400, b"unable to upgrade: missing upgrade headers in request\n")


async def _forwards(conn: Connection, echo_port: int):
    """Two concurrent connections to the echo server, one to a closed port."""
    a, b, refused = await asyncio.gather(
        forward(conn, echo_port, 0, b"first " * 30000),
        forward(conn, echo_port, 1, b"second"),
        forward(conn, 1, 2, b"nobody"))
    return a, b, refused


def _check_forwards(results, echo_port, forwarded):
    a, b, refused = results
    assert a == (b"first " * 30000, b"") and b == (b"second", b"")
    assert refused == (b"", b'error forwarding port 1 to pod uid-web, uid : failed to connect '
                            b'to localhost:1 inside namespace "uid-web": connection refused')
    assert sorted(p for _, p in forwarded) == sorted([echo_port, echo_port, 1])


def test_port_forward_over_a_spdy_upgrade(pki, review_client):  # noqa: F811
    async def go(port, rt):
        echo, echo_port = await echo_server()
        try:
            up = await spdy(port, pki, "/portForward/ns/web", PORT_FORWARD)
            assert (up.status, up.protocol) == (101, "portforward.k8s.io")
            results = await _forwards(up.connection, echo_port)
            # a stream without the headers the kubelet needs is reset
            with pytest.raises(ConnectionResetError):
                await up.connection.open_stream({"streamType": "data"})
            await up.connection.close()
            return results, echo_port, rt.forwarded
        finally:
            echo.close()
    results, echo_port, forwarded = run(go, pki, review_client)
    _check_forwards(results, echo_port, forwarded)


def lenient_subprotocols(monkeypatch):
    """``websockets`` insists on RFC 7230 tokens, and "/" is not one; kubectl's gorilla
    client sends and accepts ``SPDY/3.1+portforward.k8s.io`` as it is."""
    monkeypatch.setattr("websockets.asyncio.client.validate_subprotocols", lambda _: None)
    monkeypatch.setattr("websockets.client.parse_subprotocol",
                        lambda value: [t.strip() for t in value.split(",")])


def test_port_forward_spdy_tunnelled_in_a_websocket(pki, review_client,  # noqa: F811
                                                    monkeypatch):
    lenient_subprotocols(monkeypatch)

    async def go(port, rt):
        echo, echo_port = await echo_server()
        try:
            ws = await connect(f"wss://127.0.0.1:{port}/portForward/ns/web",
                               ssl=client_ssl(pki), max_size=None,
                               subprotocols=["SPDY/3.1+portforward.k8s.io"])
            assert ws.subprotocol == "SPDY/3.1+portforward.k8s.io"
            reader, writer = await tunnel(ws)
            conn = Connection(reader, writer, client=True).start()
            results = await _forwards(conn, echo_port)
            await conn.close()
            return results, echo_port, rt.forwarded
        finally:
            echo.close()
    results, echo_port, forwarded = run(go, pki, review_client)
    _check_forwards(results, echo_port, forwarded)


def test_port_forward_on_the_simulated_runtime_reports_on_the_error_stream(
        pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, "/portForward/ns/web", PORT_FORWARD)
        result = await forward(up.connection, 8080, 0, b"x")
        await up.connection.close()
        return result
    assert run(go, pki, review_client, SimulatedRuntime()) == (
        b"", b"error forwarding port 8080 to pod uid-web, uid : the simulated runtime cannot "
             b"forward ports")


def test_a_client_that_leaves_kills_its_command(pki, review_client):  # noqa: F811
    async def go(port, rt):
        up = await spdy(port, pki, exec_path("sleep", "30", output=1), KUBECTL_PROTOCOLS)
        await up.connection.open_stream({"streamType": "error"})
        await up.connection.open_stream({"streamType": "stdout"})
        for _ in range(100):
            if rt.sessions:
                break
            await asyncio.sleep(0.05)
        await up.connection.close()
        proc = rt.sessions[0].proc
        return await asyncio.wait_for(proc.wait(), 10), rt.sessions[0].closed
    code, closed = run(go, pki, review_client)
    assert closed and code == -9


def test_streams_that_never_come_time_out(pki, review_client, monkeypatch):  # noqa: F811
    from workers.kubelet import streaming_spdy
    monkeypatch.setattr(streaming_spdy, "STREAM_CREATION_TIMEOUT", 0.3)

    async def go(port, rt):
        # exec: stdout is never opened, so the kubelet drops the connection
        up = await spdy(port, pki, exec_path("true", output=1), KUBECTL_PROTOCOLS)
        await up.connection.open_stream({"streamType": "error"})
        await asyncio.wait_for(up.connection.closed.wait(), 5)
        # port-forward: an error stream whose data stream never follows
        up = await spdy(port, pki, "/portForward/ns/web", PORT_FORWARD)
        error = await up.connection.open_stream({"streamType": "error", "port": "80",
                                                 "requestID": "7"})
        text = await asyncio.wait_for(error.read(), 5)
        await up.connection.close()
        return text, rt.sessions
    text, sessions = run(go, pki, review_client)
    assert text == b"(request=7) timed out waiting for streams" and sessions == []


def test_bytes_sent_with_the_request_reach_the_spdy_connection(pki, review_client):  # noqa: F811
    # a client that does not wait for the 101: its first frame arrives with the request,
    # before the app takes the connection over (workers/serving/https.py keeps it)
    async def go(port, rt):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ssl(pki))
        head = ("POST /portForward/ns/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n"
                "Content-Length: 0\r\n\r\n").encode()
        writer.write(head + frames.FrameWriter().encode(frames.Ping(1)))
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        echo = await asyncio.wait_for(reader.readexactly(12), 5)
        writer.close()
        return response, frames.FrameReader().feed(echo)
    response, echoed = run(go, pki, review_client)
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"X-Stream-Protocol-Version: portforward.k8s.io" in response
    assert echoed == [frames.Ping(1)]


def test_a_refused_upgrade_ends_its_connection(pki, review_client):  # noqa: F811
    async def go(port, rt):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ssl(pki))
        writer.write(b"POST /exec/ns/nope/main?command=ls&output=1 HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(-1), 5)     # to EOF: the server closed
        writer.close()
        return raw
    raw = run(go, pki, review_client)
    assert raw.startswith(b"HTTP/1.1 404 Not Found\r\n") and raw.endswith(b"pod does not exist")


def test_stopping_the_server_ends_open_spdy_connections(pki, review_client):  # noqa: F811
    async def go():
        host = Host(SubprocessRuntime())
        host.add_pod("web", {"main": "c-main"})
        loop = asyncio.get_running_loop()
        async with serve(host, pki, review_client) as port:
            up = await spdy(port, pki, "/portForward/ns/web", PORT_FORWARD)
            assert up.status == 101
            started = loop.time()
        # the kubelet's stop closed the taken-over connection instead of waiting for it
        took = loop.time() - started
        await asyncio.wait_for(up.connection.closed.wait(), 5)
        return took
    assert asyncio.run(go()) < 1.5
