"""exec, attach and port-forward over websockets against the real ``KubeletServer`` over TLS
(workers/kubelet/streaming_ws.py, streaming_session.py), with real processes
(``SubprocessRuntime``) and a real TCP echo server: v5 (kubectl) and v4 (the Python client,
TEXT frames too), the base64 form, the v5 CLOSE message, exit-code Status, resize on a tty,
port-forward channels, and the refusals a websocket handshake gets."""
from __future__ import annotations

import asyncio
import base64
import json
import struct
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.workers.kubelet.streaming_support import (Host, SubprocessRuntime, client_ssl,
                                                     echo_server, make_pki, serve)
from tests.workers.serving.support import bind, review_client  # noqa: F401  (fixtures)
from workers.kubelet.simulated import SimulatedRuntime

V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("kubelet-ws-pki"))


def command_query(*argv, **flags) -> str:
    return "?" + urlencode([("command", a) for a in argv] + list(flags.items()))


async def session(port, path, protocols, pki, sends=(), who="admin", text=False,
                  wait_before_send=0.0):
    """(negotiated protocol, [(channel, payload)], close code): every message the server
    sends until it closes; ``sends`` go out after the first frame (TEXT when ``text``)."""
    ws = await connect(f"wss://127.0.0.1:{port}{path}", ssl=client_ssl(pki, who),
                       subprotocols=list(protocols), max_size=None, open_timeout=10)
    frames = []
    try:
        first = await asyncio.wait_for(ws.recv(), 10)
        frames.append(first)
        await asyncio.sleep(wait_before_send)
        for message in sends:
            if isinstance(message, (int, float)):
                await asyncio.sleep(message)
                continue
            await ws.send(message.decode("latin-1") if text else message)
        while True:
            frames.append(await asyncio.wait_for(ws.recv(), 10))
    except ConnectionClosed:
        pass
    decoded = []
    for f in frames:
        if isinstance(f, str):
            decoded.append((int(f[0]), base64.b64decode(f[1:])))
        else:
            decoded.append((f[0], f[1:]))
    return ws.subprotocol, decoded, ws.close_code


def by_channel(frames, channel) -> bytes:
    return b"".join(p for c, p in frames if c == channel)


def run(coro_fn, pki, review_client, runtime=None):  # noqa: F811
    runtime = runtime or SubprocessRuntime()
    host = Host(runtime)
    host.add_pod("web", {"main": "c-main"})

    async def go():
        if isinstance(runtime, SubprocessRuntime):
            await runtime.start("c-main")
        try:
            async with serve(host, pki, review_client) as port:
                return await coro_fn(port, runtime)
        finally:
            if isinstance(runtime, SubprocessRuntime):
                await runtime.stop_all()
    return asyncio.run(go())


EXEC = "/exec/ns/web/main"


def test_v5_exec_streams_stdout_stderr_and_the_exit_code(pki, review_client):  # noqa: F811
    async def go(port, rt):
        q = command_query("sh", "-c", "echo out; echo err >&2; exit 5", output=1, error=1)
        return await session(port, EXEC + q, [V5], pki)
    protocol, frames, code = run(go, pki, review_client)
    assert protocol == V5 and code == 1000
    assert frames[0] == (1, b"")                       # the streams-ready frame
    assert by_channel(frames, 1) == b"out\n" and by_channel(frames, 2) == b"err\n"
    status = json.loads(by_channel(frames, 3))
    assert status == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c echo out; echo err >&2; exit 5], exit code 5",
        "details": {"causes": [{"reason": "ExitCode", "message": "5"}]}}
    assert frames[-1][0] == 3                          # the Status is the last message


def test_v5_close_message_ends_stdin(pki, review_client):  # noqa: F811
    async def go(port, rt):
        return await session(port, EXEC + "?command=cat&input=1&output=1", [V5], pki,
                             sends=[b"\x00abc", b"\x00def", b"\xff\x00"])
    protocol, frames, code = run(go, pki, review_client)
    assert by_channel(frames, 1) == b"abcdef"
    assert json.loads(by_channel(frames, 3)) == {"metadata": {}, "status": "Success"}
    assert code == 1000


def test_v4_text_frames_as_the_python_client_sends(pki, review_client):  # noqa: F811
    async def go(port, rt):
        # the public names work too (stdin=True as the Python client spells it)
        q = "?command=head&command=-n1&stdin=True&stdout=True&stderr=True"
        return await session(port, EXEC + q, [V4], pki, sends=[b"\x00hello\nrest\n"],
                             text=True)
    protocol, frames, _ = run(go, pki, review_client)
    assert protocol == V4
    assert by_channel(frames, 1) == b"hello\n"
    assert json.loads(by_channel(frames, 3))["status"] == "Success"


def test_base64_protocol(pki, review_client):  # noqa: F811
    async def go(port, rt):
        ws = await connect(f"wss://127.0.0.1:{port}{EXEC}?command=echo&command=hi&output=1",
                           ssl=client_ssl(pki), subprotocols=["v4.base64.channel.k8s.io"])
        messages = []
        try:
            while True:
                messages.append(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed:
            pass
        return ws.subprotocol, messages
    protocol, messages = run(go, pki, review_client)
    assert protocol == "v4.base64.channel.k8s.io"
    assert all(isinstance(m, str) for m in messages)
    assert messages[0] == "1" and "1" + base64.b64encode(b"hi\n").decode() in messages
    assert json.loads(base64.b64decode(messages[-1][1:])) == {"metadata": {},
                                                              "status": "Success"}


def test_resize_on_a_tty(pki, review_client):  # noqa: F811
    async def go(port, rt):
        q = command_query("sh", "-c", "read l; stty size", tty=1, input=1, output=1, error=1)
        size = json.dumps({"Width": 120, "Height": 40}).encode() + b"\n"
        out = await session(port, EXEC + q, [V5], pki,
                            sends=[b"\x04" + size, 0.2, b"\x00go\n"])
        return out, rt.sessions[0].sizes
    (protocol, frames, code), sizes = run(go, pki, review_client)
    assert sizes == [(120, 40)]
    assert b"40 120" in by_channel(frames, 1)
    assert by_channel(frames, 2) == b""                # a tty has no stderr
    assert json.loads(by_channel(frames, 3))["status"] == "Success"


def test_attach_joins_the_containers_process(pki, review_client):  # noqa: F811
    async def go(port, rt):
        return await session(port, "/attach/ns/web/main?input=1&output=1&error=1", [V5], pki,
                             sends=[b"\x00x\n", 0.3, b"\xff\x00"])
    protocol, frames, code = run(go, pki, review_client)
    assert by_channel(frames, 1) == b"got x\n"
    # the container ended (exit 7): attach reports Success, only exec reports exit codes
    assert json.loads(by_channel(frames, 3)) == {"metadata": {}, "status": "Success"}


def test_the_simulated_runtime_refuses_commands_with_a_status(pki, review_client):  # noqa: F811
    async def go(port, rt):
        return await session(port, EXEC + "?command=ls&output=1", [V5], pki)
    rt = SimulatedRuntime()
    protocol, frames, code = run(go, pki, review_client, rt)
    assert json.loads(by_channel(frames, 3)) == {
        "metadata": {}, "status": "Failure", "code": 500, "reason": "InternalError",
        "message": "Internal error occurred: error executing command in container: the "
                   "simulated runtime cannot run commands",
        "details": {"causes": [{"message": "error executing command in container: the "
                                           "simulated runtime cannot run commands"}]}}
    assert code == 1000


def test_port_forward_channels_with_a_real_echo_server(pki, review_client):  # noqa: F811
    async def go(port, rt):
        echo, echo_port = await echo_server()
        closed = 1
        try:
            path = f"/portForward/ns/web?port={echo_port},{closed}"
            ws = await connect(f"wss://127.0.0.1:{port}{path}", ssl=client_ssl(pki),
                               subprotocols=[V4])
            tags = [await ws.recv() for _ in range(4)]
            await ws.send(b"\x00ping")
            got = sorted([await asyncio.wait_for(ws.recv(), 10) for _ in range(2)])
            echoed, error = got                  # in either order: two connections
            await ws.close()
            return ws.subprotocol, echo_port, tags, echoed, error, rt.forwarded
        finally:
            echo.close()
    protocol, echo_port, tags, echoed, error, forwarded = run(go, pki, review_client)
    assert protocol == V4
    lo = struct.pack("<H", echo_port)
    assert tags == [b"\x00" + lo, b"\x01" + lo, b"\x02\x01\x00", b"\x03\x01\x00"]
    assert echoed == b"\x00ping"
    assert error[:1] == b"\x03" and error[1:].decode() == (
        'error forwarding port 1 to pod uid-web, uid : failed to connect to localhost:1 '
        'inside namespace "uid-web": connection refused')
    assert [p for _, p in forwarded] == [echo_port, 1]


@pytest.mark.parametrize("path, protocols, who, status, body", [
    ("/exec/ns/nope/main?command=ls&output=1", [V5], "admin", 404, b"pod does not exist"),
    ("/exec/ns/web/other?command=ls&output=1", [V5], "admin", 500,
     b'container not found ("other")'),
    ("/exec/ns/web/main?command=ls", [V5], "admin", 400,
     b"you must specify at least 1 of stdin, stdout, stderr"),
    ("/exec/ns/web/main?command=ls&output=1", ["v9.channel.k8s.io"], "admin", 403, None),
    ("/exec/ns/web/main?command=ls&output=1", [V5], None, 401, b"Unauthorized"),
    ("/exec/ns/web/main?command=ls&output=1", [V5], "node2", 403,
     b"Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource=proxy)"),
    ("/portForward/ns/web", [V4], "admin", 400, b'query parameter "port" is required'),
    ("/portForward/ns/web/other-uid?port=80", [V4], "admin", 404, b"pod not found"),
    ("/portForward/ns/nope?port=80", [V4], "admin", 404, b"pod does not exist"),
])
def test_refusals_answer_the_handshake(pki, review_client, path, protocols, who,  # noqa: F811
                                       status, body):
    async def go(port, rt):
        with pytest.raises(InvalidStatus) as info:
            await connect(f"wss://127.0.0.1:{port}{path}", ssl=client_ssl(pki, who),
                          subprotocols=protocols)
        return info.value.response
    response = run(go, pki, review_client)
    assert response.status_code == status
    if body is not None:
        assert response.body == body


def test_pings_are_answered_during_a_session(pki, review_client):  # noqa: F811
    # kubectl pings every 5 s and gives up after 61 s without a pong
    async def go(port, rt):
        ws = await connect(f"wss://127.0.0.1:{port}{EXEC}?command=sleep&command=1&output=1",
                           ssl=client_ssl(pki), subprotocols=[V5])
        assert await ws.recv() == b"\x01"
        latency = await asyncio.wait_for(await ws.ping(), 5)
        await ws.close()
        return latency
    assert run(go, pki, review_client) >= 0


def test_a_client_that_leaves_kills_its_command(pki, review_client):  # noqa: F811
    async def go(port, rt):
        ws = await connect(f"wss://127.0.0.1:{port}{EXEC}?command=sleep&command=30&output=1",
                           ssl=client_ssl(pki), subprotocols=[V5])
        assert await ws.recv() == b"\x01"
        await ws.close()
        stream = rt.sessions[0]
        return await asyncio.wait_for(stream.proc.wait(), 10), stream.closed
    code, closed = run(go, pki, review_client)
    assert closed and code == -9
