"""SPDY/3.1 transports of the kubelet's streaming endpoints (upstream
cri/streaming/remotecommand/httpstream.go and cri/streaming/portforward/httpstream.go, with
apimachinery pkg/util/httpstream ``Handshake`` and spdy/upgrade.go).

The request is a POST (or GET) with ``Connection: Upgrade``, ``Upgrade: SPDY/3.1`` and
``X-Stream-Protocol-Version`` values; the first the client lists that the endpoint supports
wins (none sent: ""; none supported: 403 with ``X-Accepted-Stream-Protocol-Versions``).  The
101 echoes ``Connection``, ``Upgrade`` and the chosen version; the connection is then taken
from uvicorn (``workers/serving/https.py``'s ``http.hijack``) and runs SPDY
(``apiserver.client.spdy_connection``).

* exec/attach: ``v4.channel.k8s.io`` (JSON Status on the error stream), ``v3`` (resize, text
  errors), ``v2``, ``channel.k8s.io`` (v1: stdin closed at once).  The client opens one
  stream per channel, its ``streamType`` header ``error``, ``stdin``, ``stdout``, ``stderr``
  or ``resize``; each gets a SYN_REPLY, and the session starts once all the expected ones
  are there (30 s, else the connection is dropped, as upstream).  At the end: the Status on
  the error stream, FIN on every stream, GOAWAY.
* port-forward: ``portforward.k8s.io``; each forwarded connection is a pair of streams
  (``streamType`` ``error`` and ``data``, the same ``port`` and ``requestID`` headers;
  without a requestID the error stream's id pairs with data id − 2).  A stream with a
  missing or bad header is reset; a pair not complete within 30 s gets "timed out waiting
  for streams" on its error stream.  Each complete pair is one TCP connection into the pod;
  a failure is written as text on the error stream, then both streams are FIN'd.  The
  connection lasts until the client closes it.
"""
from __future__ import annotations

import asyncio
import logging

import orjson

from apiserver.client import spdy
from apiserver.client.spdy_connection import Connection, Stream

from .streaming import Refusal, header_tokens, is_spdy_upgrade
from .streaming_session import CommandIO

log = logging.getLogger("workers.kubelet.streaming")

V4, V3, V2, V1 = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                  "channel.k8s.io")
COMMAND_PROTOCOLS = (V4, V3, V2, V1)
PORT_FORWARD_PROTOCOL = "portforward.k8s.io"
STREAM_CREATION_TIMEOUT = 30.0


def _go_list(items) -> str:
    return "[" + " ".join(items) + "]"


def handshake(scope, supported: tuple[str, ...]) -> str:
    """The protocol version both sides speak ("" when the client offers none), then the
    upgrade headers checked (apimachinery httpstream.go ``Handshake``, then spdy/upgrade.go
    ``UpgradeResponse``; both answer with Go's ``http.Error``, hence the newline)."""
    offered = header_tokens(scope, "x-stream-protocol-version")
    chosen = ""
    if offered:
        chosen = next((p for p in offered if p in supported), None)
        if chosen is None:
            raise Refusal(403, f"unable to upgrade: unable to negotiate protocol: client "
                               f"supports {_go_list(offered)}, server accepts "
                               f"{_go_list(supported)}\n",
                          [("x-accepted-stream-protocol-versions", p) for p in supported])
    if not is_spdy_upgrade(scope):
        raise Refusal(400, "unable to upgrade: missing upgrade headers in request\n")
    return chosen


async def take_over(scope, protocol: str):
    """Answer 101 and take the connection from the server: (reader, writer)."""
    ext = (scope.get("extensions") or {}).get("http.hijack")
    if ext is None:                            # a server without the extension
        raise Refusal(500, "this server cannot take over connections\n")
    head = ["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Upgrade: SPDY/3.1"]
    if protocol:
        head.append(f"X-Stream-Protocol-Version: {protocol}")
    return ext["hijack"](("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))


async def _drain_request(receive) -> None:
    """Read the (empty) request body so the server has finished with the request."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


# -- exec / attach --------------------------------------------------------------------

async def serve_remote_command(scope, receive, send, session) -> None:
    negotiated = handshake(scope, COMMAND_PROTOCOLS)
    protocol = negotiated or V1               # no negotiation: the first protocol
    await _drain_request(receive)
    reader, writer = await take_over(scope, negotiated)
    opts = session.opts
    expected = {"error"} | {k for k, on in (("stdin", opts.stdin), ("stdout", opts.stdout),
                                            ("stderr", opts.stderr)) if on}
    if opts.tty and protocol in (V4, V3):
        expected.add("resize")
    streams: dict[str, Stream] = {}
    complete = asyncio.Event()

    def on_stream(stream: Stream) -> None:
        kind = stream.header("streamtype")
        if kind not in ("error", "stdin", "stdout", "stderr", "resize"):
            log.debug("unexpected stream type %r", kind)
            # upstream replies to every stream and ignores the ones it does not know
        stream.reply()
        if kind in expected and kind not in streams:
            streams[kind] = stream
            if set(streams) == expected:
                complete.set()
    conn = Connection(reader, writer, client=False, on_stream=on_stream).start()
    try:
        if not await _wait(complete, conn, STREAM_CREATION_TIMEOUT):
            log.info("exec/attach: timed out waiting for client to create streams")
            return
        if protocol == V1 and "stdin" in streams:
            streams.pop("stdin").reset()      # v1 closes stdin at once
        error = streams["error"]

        async def write_status(status: dict) -> None:
            if protocol == V4:
                await error.write(orjson.dumps(status))
            elif status.get("status") != "Success":
                await error.write(status.get("message", "").encode())

        def reader_of(kind):
            return streams[kind].read if kind in streams else None

        def writer_of(kind):
            return streams[kind].write if kind in streams else None
        io = CommandIO(write_status, stdin=reader_of("stdin"), stdout=writer_of("stdout"),
                       stderr=writer_of("stderr"), resize=reader_of("resize"),
                       gone=conn.closed)
        await session.run(io)
        for kind in ("stdout", "stderr", "error"):
            if kind in streams:
                try:
                    await streams[kind].close()
                except ConnectionError:
                    pass
    finally:
        await conn.close()


async def _wait(event: asyncio.Event, conn: Connection, timeout: float) -> bool:
    """True once ``event`` is set; False on timeout or when the connection ends first."""
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(conn.closed.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
    return event.is_set() and not conn.closed.is_set()


# -- port-forward ---------------------------------------------------------------------

async def serve_port_forward(scope, receive, send, forwarder, ports=()) -> None:
    """A plain SPDY upgrade of ``/portForward`` (``ports`` unused: the streams name them)."""
    protocol = handshake(scope, (PORT_FORWARD_PROTOCOL,))
    await _drain_request(receive)
    reader, writer = await take_over(scope, protocol)
    await port_forward_connection(reader, writer, forwarder)


def _check_stream(stream: Stream) -> str | None:
    """Upstream ``httpStreamReceived``'s checks: the error text, or None."""
    port = stream.header("port")
    if not port:
        return '"port" header is required'
    if not port.isdigit() or int(port) > 65535:
        return f'unable to parse "{port}" as a port'
    if int(port) < 1:
        return f'port "{port}" must be > 0'
    kind = stream.header("streamtype")
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return None


class _Pair:
    def __init__(self, request_id: str):
        self.request_id = request_id
        self.error: Stream | None = None
        self.data: Stream | None = None
        self.complete = asyncio.Event()


async def port_forward_connection(reader, writer, forwarder) -> None:
    """Serve SPDY port-forward streams on (reader, writer) until the client closes it."""
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task] = set()
    loop = asyncio.get_running_loop()

    def spawn(coro) -> None:
        task = loop.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_stream(stream: Stream) -> None:
        problem = _check_stream(stream)
        if problem is not None:
            log.debug("port-forward stream refused: %s", problem)
            stream.reset(spdy.PROTOCOL_ERROR)
            return
        kind = stream.header("streamtype")
        request_id = stream.header("requestid")
        if not request_id:                    # an old client: pair by stream id
            request_id = str(stream.id if kind == "error" else stream.id - 2)
        stream.reply()
        pair = pairs.get(request_id)
        if pair is None:
            pair = pairs[request_id] = _Pair(request_id)
            spawn(_monitor(pairs, pair))
        if getattr(pair, kind) is not None:
            spawn(_print(pair.error, f"error processing stream for request {request_id}: "
                                     f"{kind} stream already assigned"))
            stream.reset()
            return
        setattr(pair, kind, stream)
        if pair.error is not None and pair.data is not None:
            pair.complete.set()
            spawn(_forward(forwarder, pair))
    conn = Connection(reader, writer, client=False, on_stream=on_stream).start()
    try:
        await conn.wait_closed()
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await conn.close()


async def _monitor(pairs: dict, pair: _Pair) -> None:
    try:
        await asyncio.wait_for(pair.complete.wait(), STREAM_CREATION_TIMEOUT)
    except asyncio.TimeoutError:
        await _print(pair.error, f"(request={pair.request_id}) timed out waiting for streams")
    finally:
        pairs.pop(pair.request_id, None)


async def _print(stream: Stream | None, text: str) -> None:
    if stream is not None:
        try:
            await stream.write(text.encode())
        except ConnectionError:
            pass


async def _forward(forwarder, pair: _Pair) -> None:
    port = int(pair.data.header("port"))
    try:
        error = await forwarder.forward(port, pair.data.read, pair.data.write)
        if error:
            await _print(pair.error, error)
    finally:
        for stream in (pair.data, pair.error):
            try:
                await stream.close()
            except ConnectionError:
                pass
