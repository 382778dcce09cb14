"""One SPDY/3.1 connection's stream state, sans-IO, on the frames of ``spdy``.

``Session.receive_data(bytes)`` returns events; every call that makes frames
(``open_stream``, ``reply``, ``send_data``, ``reset``, ``ping``, ``goaway`` and the automatic
answers) appends them to the buffer ``data_to_send()`` drains.  Errors the peer made on one
stream reset that stream; errors that break the connection (bad framing, a header block that
does not inflate, a stream id that goes backwards) raise ``ProtocolError`` after queueing a
GOAWAY with PROTOCOL_ERROR.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from apiserver.client.spdy import (CANCEL, FLAG_FIN, FLAG_UNIDIRECTIONAL, GOAWAY_OK,
                                   GOAWAY_PROTOCOL_ERROR, INVALID_STREAM, MAX_LENGTH,
                                   MAX_STREAM_ID, REFUSED_STREAM, STREAM_ALREADY_CLOSED,
                                   STREAM_IN_USE, DataFrame, FrameReader, FrameWriter, GoAway,
                                   Headers, HeadersFrame, Ping, ProtocolError, RstStream,
                                   SynReply, SynStream, normalize_headers)

# -- events ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamOpened:
    """The peer's SYN_STREAM (``fin``: it will send nothing more)."""
    stream_id: int
    headers: Headers
    fin: bool
    associated_id: int = 0
    priority: int = 0


@dataclass(frozen=True)
class StreamReplied:
    stream_id: int
    headers: Headers
    fin: bool


@dataclass(frozen=True)
class HeadersReceived:
    stream_id: int
    headers: Headers
    fin: bool


@dataclass(frozen=True)
class DataReceived:
    stream_id: int
    data: bytes
    fin: bool


@dataclass(frozen=True)
class StreamReset:
    stream_id: int
    status: int


@dataclass(frozen=True)
class PingAnswered:
    ping_id: int


@dataclass(frozen=True)
class GoAwayReceived:
    last_good_stream_id: int
    status: int


@dataclass
class StreamState:
    stream_id: int
    local: bool                        # opened by this side
    replied: bool = False              # SYN_REPLY sent (remote stream) or received (local)
    local_closed: bool = False         # this side sent FIN
    remote_closed: bool = False        # the peer sent FIN
    headers: Headers = field(default_factory=dict)


class Session:
    """One SPDY/3.1 connection's state; ``client`` decides the id parity."""

    def __init__(self, client: bool):
        self.client = client
        self._writer, self._reader = FrameWriter(), FrameReader()
        self._out = bytearray()
        self._next_stream = 1 if client else 2
        self._next_ping = 1 if client else 2
        self._last_remote = 0
        self.streams: dict[int, StreamState] = {}
        self.goaway_sent = self.goaway_received = False

    # -- output -----------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def _emit(self, frame) -> None:
        self._out += self._writer.encode(frame)

    def _mine(self, stream_id: int) -> bool:
        return (stream_id % 2 == 1) == self.client

    def open_stream(self, headers, *, fin: bool = False, priority: int = 0,
                    associated_id: int = 0) -> int:
        if self.goaway_sent or self.goaway_received:
            raise ProtocolError("the connection is going away")
        sid = self._next_stream
        if sid > MAX_STREAM_ID:
            raise ProtocolError("stream ids exhausted")
        self._next_stream += 2
        state = StreamState(sid, local=True, local_closed=fin)
        self.streams[sid] = state
        self._emit(SynStream(sid, normalize_headers(headers), FLAG_FIN if fin else 0,
                             associated_id, priority))
        return sid

    def reply(self, stream_id: int, headers=(), *, fin: bool = False) -> None:
        state = self.streams.get(stream_id)
        if state is None or state.local or state.replied:
            raise ValueError(f"stream {stream_id} cannot be replied to")
        state.replied = True
        state.local_closed = state.local_closed or fin
        self._emit(SynReply(stream_id, normalize_headers(headers), FLAG_FIN if fin else 0))
        self._forget(state)

    def send_data(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        state = self.streams.get(stream_id)
        if state is None or state.local_closed:
            raise ValueError(f"stream {stream_id} is closed for writing")
        view = memoryview(data)
        while len(view) > MAX_LENGTH:
            self._emit(DataFrame(stream_id, bytes(view[:MAX_LENGTH])))
            view = view[MAX_LENGTH:]
        if len(view) or fin:
            self._emit(DataFrame(stream_id, bytes(view), FLAG_FIN if fin else 0))
        if fin:
            state.local_closed = True
            self._forget(state)

    def reset(self, stream_id: int, status: int = CANCEL) -> None:
        self.streams.pop(stream_id, None)
        self._emit(RstStream(stream_id, status))

    def ping(self) -> int:
        pid = self._next_ping
        self._next_ping = (self._next_ping + 2) & 0xFFFFFFFF or (1 if self.client else 2)
        self._emit(Ping(pid))
        return pid

    def goaway(self, status: int = GOAWAY_OK) -> None:
        if not self.goaway_sent:
            self.goaway_sent = True
            self._emit(GoAway(self._last_remote, status))

    def _forget(self, state: StreamState) -> None:
        if state.local_closed and state.remote_closed:
            self.streams.pop(state.stream_id, None)

    # -- input ------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list:
        try:
            frames = self._reader.feed(data)
        except ProtocolError:
            self.goaway(GOAWAY_PROTOCOL_ERROR)
            raise
        events = []
        for frame in frames:
            event = self._on_frame(frame)
            if event is not None:
                events.append(event)
        return events

    def _fatal(self, message: str):
        self.goaway(GOAWAY_PROTOCOL_ERROR)
        raise ProtocolError(message)

    def _on_frame(self, frame):
        if isinstance(frame, DataFrame):
            return self._on_data(frame)
        if isinstance(frame, SynStream):
            return self._on_syn_stream(frame)
        if isinstance(frame, (SynReply, HeadersFrame)):
            state = self.streams.get(frame.stream_id)
            fin = bool(frame.flags & FLAG_FIN)
            if state is None:
                self.reset(frame.stream_id, INVALID_STREAM)
                return None
            if isinstance(frame, SynReply):
                if not state.local or state.replied:
                    self.reset(frame.stream_id, STREAM_IN_USE)
                    return None
                state.replied = True
            state.headers = {**state.headers, **frame.headers}
            if fin:
                state.remote_closed = True
                self._forget(state)
            cls = StreamReplied if isinstance(frame, SynReply) else HeadersReceived
            return cls(frame.stream_id, frame.headers, fin)
        if isinstance(frame, RstStream):
            if self.streams.pop(frame.stream_id, None) is None:
                return None
            return StreamReset(frame.stream_id, frame.status)
        if isinstance(frame, Ping):
            if self._mine(frame.ping_id):
                return PingAnswered(frame.ping_id)
            self._emit(Ping(frame.ping_id))           # echo the peer's ping
            return None
        if isinstance(frame, GoAway):
            self.goaway_received = True
            return GoAwayReceived(frame.last_good_stream_id, frame.status)
        return None                                    # SETTINGS, WINDOW_UPDATE: no flow control

    def _on_syn_stream(self, frame: SynStream):
        sid = frame.stream_id
        if sid == 0 or self._mine(sid) or sid <= self._last_remote:
            self._fatal(f"invalid stream id {sid} in SYN_STREAM")
        self._last_remote = sid
        if self.goaway_sent:
            self.reset(sid, REFUSED_STREAM)
            return None
        fin = bool(frame.flags & FLAG_FIN)
        state = StreamState(sid, local=False, remote_closed=fin, headers=frame.headers,
                            local_closed=bool(frame.flags & FLAG_UNIDIRECTIONAL))
        self.streams[sid] = state
        return StreamOpened(sid, frame.headers, fin, frame.associated_id, frame.priority)

    def _on_data(self, frame: DataFrame):
        state = self.streams.get(frame.stream_id)
        if state is None:
            self.reset(frame.stream_id, INVALID_STREAM)
            return None
        if state.remote_closed:
            self.reset(frame.stream_id, STREAM_ALREADY_CLOSED)
            return None
        fin = bool(frame.flags & FLAG_FIN)
        if fin:
            state.remote_closed = True
            self._forget(state)
        return DataReceived(frame.stream_id, frame.data, fin)
