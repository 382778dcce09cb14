"""A SPDY/3.1 connection over asyncio streams (``spdy_session.Session`` driven by a read loop), for
either side.

* ``Connection(reader, writer, client=…, on_stream=…)``; ``start()`` runs the read loop in a
  task.  ``writer`` is an ``asyncio.StreamWriter`` or anything with ``write``, ``drain``,
  ``close`` and ``wait_closed`` (a websocket tunnel).
* The peer's new streams go to ``on_stream(stream)`` (a plain function, called from the read
  loop: it inspects ``stream.headers`` and calls ``stream.reply()`` or ``stream.reset()``);
  without one they are refused (RST_STREAM REFUSED_STREAM).
* ``await open_stream(headers, timeout=)`` sends SYN_STREAM and waits for the SYN_REPLY
  (``TimeoutError`` past ``timeout``, ``ConnectionError`` when the peer resets it).
* ``Stream``: ``read()`` returns the next bytes, ``b""`` once the peer half-closed or reset
  the stream (``reset_status`` then tells which); ``write(data)``, ``close()`` (FIN: this
  direction ends), ``reset(status)``.
* ``close()`` sends GOAWAY and closes the transport; ``closed`` is set when the connection
  is gone, whichever side ended it; every stream then reads EOF.

No flow control (as spdystream): a stream whose reader falls more than ``BUFFER_LIMIT``
bytes behind pauses the whole read loop, so the transport's own back-pressure reaches the
peer.  Pings of the peer are echoed by the session.
"""
from __future__ import annotations

import asyncio
import collections
import logging

from apiserver.client import spdy, spdy_session

log = logging.getLogger("apiserver.client.spdy")

BUFFER_LIMIT = 1 << 20
READ_SIZE = 64 * 1024


class Stream:
    """One SPDY stream of a ``Connection``."""

    def __init__(self, conn: "Connection", stream_id: int, headers: dict):
        self.conn, self.id, self.headers = conn, stream_id, headers
        self.reply_headers: dict = {}
        self.replied = asyncio.Event()
        self.reset_status: int | None = None
        self._settled = asyncio.Event()     # replied to or reset
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._write_closed = False

    def header(self, name: str) -> str:
        """The first value of a request header (names are lower case on the wire)."""
        return (self.headers.get(name.lower()) or [""])[0]

    # -- the read side ----------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        if data and not self._eof:
            self._chunks.append(data)
            self._size += len(data)
            if self._size > BUFFER_LIMIT:
                self._space.clear()
        self._readable.set()

    def _end(self) -> None:
        self._settled.set()
        self._eof = True
        self._readable.set()
        self._space.set()

    async def read(self) -> bytes:
        while not self._chunks:
            if self._eof:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self._size -= len(data)
        if self._size <= BUFFER_LIMIT:
            self._space.set()
        return data

    async def read_all(self) -> bytes:
        out = bytearray()
        while data := await self.read():
            out += data
        return bytes(out)

    # -- the write side ---------------------------------------------------------------
    def reply(self, headers=(), *, fin: bool = False) -> None:
        self.conn.session.reply(self.id, headers, fin=fin)
        self._write_closed = fin
        self.replied.set()
        self.conn._flush_soon()

    async def write(self, data: bytes) -> None:
        if self._write_closed or self.reset_status is not None or self.conn.closed.is_set():
            raise ConnectionResetError(f"SPDY stream {self.id} is closed")
        try:
            self.conn.session.send_data(self.id, bytes(data))
        except ValueError:
            raise ConnectionResetError(f"SPDY stream {self.id} is closed") from None
        await self.conn._flush()

    async def close(self) -> None:
        """FIN: nothing more from this side (a closed or reset stream is left alone)."""
        if self._write_closed or self.reset_status is not None or self.conn.closed.is_set():
            return
        self._write_closed = True
        try:
            self.conn.session.send_data(self.id, b"", fin=True)
        except ValueError:
            return
        await self.conn._flush()

    def reset(self, status: int = spdy.CANCEL) -> None:
        if self.reset_status is None and not self.conn.closed.is_set():
            self.reset_status = status
            self.conn.session.reset(self.id, status)
            self.conn._flush_soon()
        self._write_closed = True
        self._end()
        self.conn.streams.pop(self.id, None)


class Connection:
    def __init__(self, reader, writer, *, client: bool, on_stream=None):
        self.reader, self.writer = reader, writer
        self.session = spdy_session.Session(client)
        self.on_stream = on_stream
        self.streams: dict[int, Stream] = {}
        self.closed = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._flushing: asyncio.Task | None = None
        self._pings: dict[int, asyncio.Future] = {}

    def start(self) -> "Connection":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def wait_closed(self) -> None:
        await self.closed.wait()

    # -- output -----------------------------------------------------------------------
    async def _flush(self) -> None:
        data = self.session.data_to_send()
        if data and not self.closed.is_set():
            try:
                self.writer.write(data)
                await self.writer.drain()
            except (OSError, RuntimeError) as exc:
                self._lost(exc)
                raise ConnectionResetError("the SPDY connection is gone") from exc

    def _flush_soon(self) -> None:
        """Write what the session queued without waiting (callers that cannot await)."""
        data = self.session.data_to_send()
        if data and not self.closed.is_set():
            try:
                self.writer.write(data)
            except (OSError, RuntimeError) as exc:
                self._lost(exc)

    async def open_stream(self, headers, *, fin: bool = False,
                          timeout: float | None = 30.0) -> Stream:
        if self.closed.is_set():
            raise ConnectionResetError("the SPDY connection is closed")
        sid = self.session.open_stream(headers, fin=fin)
        stream = Stream(self, sid, spdy.normalize_headers(headers))
        stream._write_closed = fin
        self.streams[sid] = stream
        await self._flush()
        waiter = asyncio.ensure_future(stream._settled.wait())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({waiter, closed}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            closed.cancel()
        if not stream.replied.is_set() or stream.reset_status is not None:
            if stream.reset_status is not None or self.closed.is_set():
                raise ConnectionResetError(f"SPDY stream {sid} was refused "
                                           f"(status {stream.reset_status})")
            stream.reset()
            raise TimeoutError(f"no SYN_REPLY for SPDY stream {sid} in {timeout}s")
        return stream

    async def ping(self, timeout: float = 10.0) -> float:
        """Round-trip time of one PING."""
        loop = asyncio.get_running_loop()
        pid = self.session.ping()
        fut = self._pings[pid] = loop.create_future()
        started = loop.time()
        await self._flush()
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            self._pings.pop(pid, None)
        return loop.time() - started

    async def close(self, status: int = spdy.GOAWAY_OK) -> None:
        if not self.closed.is_set():
            self.session.goaway(status)
            try:
                await self._flush()
            except ConnectionError:
                pass
        self._lost(None)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.writer.wait_closed()
        except (OSError, RuntimeError):
            pass

    def _lost(self, exc) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in list(self.streams.values()):
            stream._write_closed = True
            stream._end()
        self.streams.clear()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(ConnectionResetError("the SPDY connection is closed"))
        try:
            self.writer.close()
        except (OSError, RuntimeError):
            pass

    # -- input ------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    return
                for event in self.session.receive_data(data):
                    await self._dispatch(event)
                await self._flush()
        except spdy.ProtocolError as exc:
            log.debug("SPDY protocol error: %s", exc)
            try:
                await self._flush()             # the GOAWAY the session queued
            except ConnectionError:
                pass
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._lost(None)

    async def _dispatch(self, event) -> None:
        if isinstance(event, spdy_session.StreamOpened):
            stream = Stream(self, event.stream_id, event.headers)
            self.streams[event.stream_id] = stream
            if event.fin:
                stream._end()
            if self.on_stream is None:
                stream.reset(spdy.REFUSED_STREAM)
                return
            try:
                self.on_stream(stream)
            except Exception:               # noqa: BLE001  (a handler bug refuses the stream)
                log.exception("SPDY stream handler failed")
                stream.reset(spdy.INTERNAL_ERROR)
            return
        stream = self.streams.get(getattr(event, "stream_id", -1))
        if isinstance(event, spdy_session.DataReceived) and stream is not None:
            stream._feed(event.data)
            if event.fin:
                stream._end()
            if not stream._space.is_set():
                await stream._space.wait()
        elif isinstance(event, (spdy_session.StreamReplied, spdy_session.HeadersReceived)) and stream:
            stream.reply_headers = {**stream.reply_headers, **event.headers}
            stream.replied.set()
            stream._settled.set()
            if event.fin:
                stream._end()
        elif isinstance(event, spdy_session.StreamReset) and stream is not None:
            stream.reset_status = event.status
            stream._write_closed = True
            stream._end()
            self.streams.pop(event.stream_id, None)
        elif isinstance(event, spdy_session.PingAnswered):
            fut = self._pings.get(event.ping_id)
            if fut is not None and not fut.done():
                fut.set_result(None)
