"""Websocket transports of the kubelet's streaming endpoints (an ASGI websocket scope on
uvicorn, which answers the client's pings itself).

Channel protocols (apimachinery pkg/util/httpstream/wsstream/conn.go, the kubelet's
protocol lists of cri/streaming/remotecommand/websocket.go and portforward/websocket.go):
every message is one channel byte and a payload, BINARY for ``channel.k8s.io``,
``v4.channel.k8s.io``, ``v5.channel.k8s.io`` and no subprotocol, TEXT with the channel as
``'0'+n`` and a standard base64 payload for the ``base64`` forms.  Incoming messages may be
TEXT or BINARY whatever the protocol (the Python client sends TEXT for str data); frames for
channels nobody reads are dropped.  The first protocol in the client's order that the
endpoint supports wins (no offer means ""); none → 403 before the upgrade.

* exec/attach: channels 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize; right after the
  upgrade one empty frame on the lowest writable channel; v5 adds the client's CLOSE
  message ``[255, ch]`` (half-closes ``ch``: ``[255, 0]`` is stdin EOF).  The session ends
  with its Status on channel 3 (JSON for v4/v5, only an error's text for the older ones)
  and a close frame 1000.
* port-forward (``v4.channel.k8s.io``, ``v4.base64.channel.k8s.io``, ""): port i of
  ``port=…`` gets data channel 2i and error channel 2i+1, each opened with the port as a
  little-endian u16; the websocket closes when every port's connection has ended.
* ``SPDY/3.1+portforward.k8s.io`` (kubectl 1.32's port-forward, client-go
  tools/portforward/tunneling_dialer.go): the BINARY payloads form one SPDY/3.1 byte stream
  whatever their boundaries; ``streaming_spdy.py`` serves it over ``WebSocketStream``.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import logging
import struct

import orjson

from .streaming import Refusal
from .streaming_session import CommandIO, Pipe

log = logging.getLogger("workers.kubelet.streaming")

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
BASE64 = "base64.channel.k8s.io"
CHANNEL = "channel.k8s.io"
COMMAND_PROTOCOLS = (V5, V4, V4_BASE64, BASE64, CHANNEL, "")
PORT_FORWARD_PROTOCOLS = (V4, V4_BASE64, "")
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
CLOSE_SIGNAL = 255                   # v5 (apimachinery pkg/util/remotecommand constants.go)


def negotiate(offered: list[str], supported: tuple[str, ...]) -> str:
    """The client's first protocol that is ``supported`` (``handshake`` in wsstream)."""
    for protocol in offered or [""]:
        if protocol in supported:
            return protocol
    raise Refusal(403, f"requested protocol(s) are not supported: [{' '.join(offered)}]; "
                       f"supports [{' '.join(p for p in supported if p)}]")


class ChannelSocket:
    """One accepted websocket speaking a channel protocol; ``readers`` are the channels
    whose incoming payloads are kept, each a ``Pipe`` closed at EOF."""

    def __init__(self, receive, send, protocol: str, readers: dict[int, Pipe]):
        self.receive, self.send, self.protocol = receive, send, protocol
        self.base64 = protocol in (V4_BASE64, BASE64)
        self.readers = readers
        self.gone = asyncio.Event()
        self.closed = False

    async def accept(self) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            raise ConnectionError("the client left before the upgrade")
        accept = {"type": "websocket.accept"}
        if self.protocol:
            accept["subprotocol"] = self.protocol
        await self.send(accept)

    async def write(self, channel: int, data: bytes) -> None:
        if self.closed:
            raise ConnectionError("websocket closed")
        if self.base64:
            await self.send({"type": "websocket.send",
                             "text": chr(48 + channel) + base64.b64encode(data).decode()})
        else:
            await self.send({"type": "websocket.send", "bytes": bytes([channel]) + data})

    async def close(self, code: int = 1000) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.send({"type": "websocket.close", "code": code})
        except OSError:
            pass

    async def read_loop(self) -> None:
        """Dispatch incoming messages until the client goes away."""
        try:
            while True:
                message = await self.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message["type"] != "websocket.receive":
                    continue
                data = message.get("bytes")
                if data is None:
                    data = (message.get("text") or "").encode()
                if data:
                    await self._dispatch(data[0], data[1:])
        finally:
            self.gone.set()
            for pipe in self.readers.values():
                pipe.close()

    async def _dispatch(self, channel: int, payload: bytes) -> None:
        if self.base64:
            channel -= 48
            try:
                payload = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                log.debug("dropping a frame that is not base64 on channel %d", channel)
                return
        if channel == CLOSE_SIGNAL and self.protocol == V5:
            if len(payload) == 1 and payload[0] in self.readers:
                self.readers[payload[0]].close()
            return
        pipe = self.readers.get(channel)
        if pipe is not None:
            await pipe.put(payload)


async def serve_remote_command(scope, receive, send, session) -> None:
    """exec/attach over a websocket (``session``: a ``streaming_session.RemoteCommand``)."""
    protocol = negotiate(scope.get("subprotocols") or [], COMMAND_PROTOCOLS)
    opts = session.opts
    readers = {RESIZE: Pipe()}
    if opts.stdin:
        readers[STDIN] = Pipe()
    sock = ChannelSocket(receive, send, protocol, readers)
    await sock.accept()
    reader = asyncio.get_running_loop().create_task(sock.read_loop())
    try:
        # tell the client the streams are ready (remotecommand/websocket.go)
        first = STDOUT if opts.stdout else STDERR if opts.stderr else ERROR
        await sock.write(first, b"")
        json_status = protocol in (V5, V4, V4_BASE64)

        async def write_status(status: dict) -> None:
            if json_status:
                await sock.write(ERROR, orjson.dumps(status))
            elif status.get("status") != "Success":
                await sock.write(ERROR, status.get("message", "").encode())

        def writer(channel):
            async def write(data: bytes) -> None:
                await sock.write(channel, data)
            return write
        io = CommandIO(write_status, stdin=readers[STDIN].read if opts.stdin else None,
                       stdout=writer(STDOUT) if opts.stdout else None,
                       stderr=writer(STDERR) if opts.stderr else None,
                       resize=readers[RESIZE].read, gone=sock.gone)
        await session.run(io)
    except OSError:
        pass                             # the client went away
    finally:
        await sock.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def serve_port_forward(scope, receive, send, forwarder, ports: list[int]) -> None:
    """Port-forward over websocket channels (the Python client's ``portforward``)."""
    protocol = negotiate(scope.get("subprotocols") or [], PORT_FORWARD_PROTOCOLS)
    readers = {2 * i: Pipe() for i in range(len(ports))}
    sock = ChannelSocket(receive, send, protocol, readers)
    await sock.accept()
    loop = asyncio.get_running_loop()
    reader = loop.create_task(sock.read_loop())

    async def pair(i: int, port: int) -> None:
        async def write(data: bytes) -> None:
            await sock.write(2 * i, data)
        error = await forwarder.forward(port, readers[2 * i].read, write)
        if error:
            await sock.write(2 * i + 1, error.encode())
    try:
        for i, port in enumerate(ports):
            tag = struct.pack("<H", port)
            await sock.write(2 * i, tag)
            await sock.write(2 * i + 1, tag)
        pairs = [loop.create_task(pair(i, port)) for i, port in enumerate(ports)]
        gone = loop.create_task(sock.gone.wait())
        await asyncio.wait([gone, loop.create_task(_all(pairs))],
                           return_when=asyncio.FIRST_COMPLETED)
        for t in pairs + [gone]:
            t.cancel()
        await asyncio.gather(*pairs, gone, return_exceptions=True)
    except OSError:
        pass
    finally:
        await sock.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def _all(tasks) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


class WebSocketStream:
    """A websocket's BINARY payloads as one byte stream: ``reader`` an
    ``asyncio.StreamReader`` fed by ``pump()``, and this object the writer (each write one
    BINARY message; ``drain`` waits for uvicorn's flow control through ``send``)."""

    def __init__(self, receive, send):
        self.receive, self.send = receive, send
        self.reader = asyncio.StreamReader(limit=2 ** 24)
        self._pending: collections.deque[bytes] = collections.deque()
        self._flushing: asyncio.Task | None = None
        self._closed = False
        self.gone = asyncio.Event()

    async def pump(self) -> None:
        try:
            while True:
                message = await self.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message["type"] == "websocket.receive" and message.get("bytes"):
                    self.reader.feed_data(message["bytes"])
        finally:
            self.reader.feed_eof()
            self.gone.set()

    # -- the asyncio.StreamWriter subset a SPDY connection uses --------------------------
    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        self._pending.append(bytes(data))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending and not self._closed:
            data = self._pending.popleft()
            try:
                await self.send({"type": "websocket.send", "bytes": data})
            except OSError:
                self._closed = True
                self._pending.clear()

    async def drain(self) -> None:
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        if self._closed and self.gone.is_set():
            raise ConnectionResetError("the websocket is closed")

    def is_closing(self) -> bool:
        return self._closed

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name, default=None):
        return default

    def close(self) -> None:
        if not self._closed:
            asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        if not self._closed:
            self._closed = True
            try:
                await self.send({"type": "websocket.close", "code": 1000})
            except OSError:
                pass

    async def wait_closed(self) -> None:
        await self._close()


async def serve_tunnel(scope, receive, send, forwarder) -> None:
    """kubectl's port-forward: SPDY/3.1 inside the websocket (see the module docstring)."""
    from . import streaming_spdy
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "subprotocol": TUNNEL_PROTOCOL})
    stream = WebSocketStream(receive, send)
    pump = asyncio.get_running_loop().create_task(stream.pump())
    try:
        await streaming_spdy.port_forward_connection(stream.reader, stream, forwarder)
    finally:
        await stream.wait_closed()
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
