"""The client side of Kubernetes' SPDY streaming (what client-go's SPDY executor and port
forwarder do), for tests and for proxies that need to speak it themselves.

* ``upgrade(host, port, path, …)``: one HTTP/1.1 request with ``Connection: Upgrade``,
  ``Upgrade: SPDY/3.1`` and ``X-Stream-Protocol-Version`` (one per protocol, client order),
  over TLS when ``ssl`` is given (client-go transport/spdy/spdy.go).  A 101 gives a started
  client ``Connection`` and the negotiated protocol; any other status gives its status,
  headers and body (``Upgraded.connection`` is None).
* ``tunnel(ws)``: the byte stream of a websocket whose BINARY messages carry SPDY (kubectl's
  ``SPDY/3.1+portforward.k8s.io``, client-go tools/portforward/tunneling_dialer.go), as a
  reader/writer pair a ``Connection`` runs on; ``ws`` is a ``websockets`` asyncio client.
* ``remote_command(conn, …)``: one exec/attach session on the v4 protocol (client-go
  tools/remotecommand v4.go): the error stream first, then stdin, stdout, stderr and resize
  streams as asked; stdin is written then half-closed; returns stdout, stderr and the
  decoded Status of the error stream.
* ``forward(conn, port, request_id, data)``: one port-forward connection (client-go
  tools/portforward portforward.go ``handleConnection``): the error stream (half-closed at
  once), then the data stream; sends ``data``, half-closes, reads until the pod's side ends.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from apiserver.client.spdy_connection import Connection, Stream

HEAD_LIMIT = 64 * 1024
BODY_LIMIT = 1 << 20


@dataclass
class Upgraded:
    status: int
    headers: dict               # lower-case name -> list of values
    body: bytes = b""
    connection: Connection | None = None

    @property
    def protocol(self) -> str:
        return (self.headers.get("x-stream-protocol-version") or [""])[0]


def _parse_head(head: bytes) -> tuple[int, dict]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP response: {lines[0]!r}")
    headers: dict = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(parts[1]), headers


async def _read_body(reader, headers: dict) -> bytes:
    length = (headers.get("content-length") or [None])[0]
    if length is not None and length.isdigit():
        return await reader.readexactly(min(int(length), BODY_LIMIT))
    if "chunked" in ",".join(headers.get("transfer-encoding") or []).lower():
        out = bytearray()
        while len(out) < BODY_LIMIT:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            out += await reader.readexactly(size)
            await reader.readexactly(2)
        return bytes(out)
    return await reader.read(BODY_LIMIT)


async def upgrade(host: str, port: int, path: str, *, ssl=None, method: str = "POST",
                  protocols=(), headers=(), server_hostname: str | None = None,
                  timeout: float = 30.0) -> Upgraded:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        host, port, ssl=ssl, server_hostname=server_hostname if ssl else None,
        limit=HEAD_LIMIT), timeout)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}",
                 "Connection: Upgrade", "Upgrade: SPDY/3.1", "Content-Length: 0"]
        lines += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
        lines += [f"{k}: {v}" for k, v in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status, response_headers = _parse_head(head[:-4])
        if status != 101:
            body = await asyncio.wait_for(_read_body(reader, response_headers), timeout)
            writer.close()
            return Upgraded(status, response_headers, body)
    except BaseException:
        writer.close()
        raise
    conn = Connection(reader, writer, client=True).start()
    return Upgraded(status, response_headers, b"", conn)


class _WebSocketWriter:
    """The writer half of ``tunnel``: each write one BINARY message (queued in order)."""

    def __init__(self, ws):
        self.ws = ws
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._send())
        self._error: BaseException | None = None

    async def _send(self) -> None:
        while True:
            data = await self._queue.get()
            if data is None:
                return
            try:
                await self.ws.send(data)
            except Exception as exc:           # noqa: BLE001  (the websocket is gone)
                self._error = exc
                return

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise ConnectionResetError("the websocket is closed")
        if data:
            self._queue.put_nowait(bytes(data))

    async def drain(self) -> None:
        if self._error is not None:
            raise ConnectionResetError("the websocket is closed")

    def close(self) -> None:
        self._queue.put_nowait(None)

    async def wait_closed(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)
        await self.ws.close()


async def tunnel(ws) -> tuple[asyncio.StreamReader, _WebSocketWriter]:
    reader = asyncio.StreamReader(limit=1 << 24)

    async def pump():
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    reader.feed_data(message)
        except Exception:                      # noqa: BLE001  (closed either way: EOF)
            pass
        finally:
            reader.feed_eof()
    writer = _WebSocketWriter(ws)
    writer.pump = asyncio.get_running_loop().create_task(pump())
    return reader, writer


@dataclass
class CommandResult:
    stdout: bytes
    stderr: bytes
    status: dict | None          # the decoded error stream (None when it was empty)
    error_text: bytes = b""


async def remote_command(conn: Connection, *, stdin: bytes | None = None, stdout=True,
                         stderr=True, tty=False, sizes=(), timeout: float = 30.0,
                         stdin_chunks=None) -> CommandResult:
    """See the module docstring; ``sizes`` are (width, height) pairs sent on the resize
    stream (tty only); ``stdin_chunks`` an async iterator used instead of ``stdin``."""
    error = await conn.open_stream({"streamType": "error"}, timeout=timeout)
    streams: dict[str, Stream] = {}
    for kind, wanted in (("stdin", stdin is not None or stdin_chunks is not None),
                         ("stdout", stdout), ("stderr", stderr and not tty),
                         ("resize", tty)):
        if wanted:
            streams[kind] = await conn.open_stream({"streamType": kind}, timeout=timeout)

    async def feed():
        s = streams["stdin"]
        if stdin_chunks is not None:
            async for chunk in stdin_chunks:
                await s.write(chunk)
        elif stdin:
            await s.write(stdin)
        await s.close()

    async def resize():
        for width, height in sizes:
            await streams["resize"].write(
                json.dumps({"Width": width, "Height": height}).encode() + b"\n")

    async def nothing():
        return b""
    helpers = [asyncio.ensure_future(feed())] if "stdin" in streams else []
    if "resize" in streams:
        helpers.append(asyncio.ensure_future(resize()))
    out, err, status = await asyncio.gather(
        streams["stdout"].read_all() if "stdout" in streams else nothing(),
        streams["stderr"].read_all() if "stderr" in streams else nothing(),
        error.read_all())
    for h in helpers:
        h.cancel()
    await asyncio.gather(*helpers, return_exceptions=True)
    try:
        decoded = json.loads(status) if status else None
    except ValueError:
        decoded = None
    return CommandResult(out, err, decoded, status)


async def forward(conn: Connection, port: int, request_id: int, data: bytes = b"", *,
                  timeout: float = 30.0, half_close: bool = True) -> tuple[bytes, bytes]:
    """(what the pod's side sent back until it closed, the error stream's text)."""
    headers = {"port": str(port), "requestID": str(request_id)}
    error = await conn.open_stream({**headers, "streamType": "error"}, timeout=timeout)
    await error.close()
    stream = await conn.open_stream({**headers, "streamType": "data"}, timeout=timeout)
    if data:
        await stream.write(data)
    if half_close:
        await stream.close()
    received, text = await asyncio.gather(stream.read_all(), error.read_all())
    return received, text
