"""SPDY/3.1 framing, sans-IO: frames to and from bytes and the compressed header blocks;
``spdy_session`` keeps one connection's stream state on top.  No sockets and no asyncio
here: ``spdy_connection`` runs a ``spdy_session.Session`` over asyncio streams, and
``spdy_client`` is a client side (tests, and anything that must speak SPDY itself).

Kubernetes still speaks SPDY/3.1 for exec, attach and port-forward between client-go,
kube-apiserver and the kubelet (moby/spdystream under apimachinery pkg/util/httpstream/spdy);
this module follows the SPDY/3.1 draft for what those peers send:

* a control frame is ``u16 0x8003`` (control bit, version 3), ``u16 type``, ``u8 flags``,
  ``u24 length`` and its payload; a data frame is ``u32 stream id`` (top bit clear),
  ``u8 flags``, ``u24 length`` and the bytes.  FIN (1) ends a direction of a stream,
  UNIDIRECTIONAL (2) marks a SYN_STREAM that will get no data back.
* SYN_STREAM, SYN_REPLY and HEADERS carry a header block: ``u32`` count, then for each pair
  ``u32`` length + lower-case name and ``u32`` length + value (several values joined by NUL).
  Blocks are zlib-compressed with the SPDY/3 dictionary, one compression context per
  direction for the whole connection, each block ended by a sync flush.
* streams opened by the client have odd ids, the server's even ones, each side's strictly
  increasing; PING ids follow the same parity, and a ping of the other parity is echoed.
* flow control (WINDOW_UPDATE, SETTINGS' initial window) is parsed but neither enforced nor
  advertised, as spdystream, which ignores both (a peer that relied on WINDOW_UPDATE to
  keep sending would stall after its initial 64 KiB window).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02

# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, UNSUPPORTED_VERSION, CANCEL = 1, 2, 3, 4, 5
INTERNAL_ERROR, FLOW_CONTROL_ERROR, STREAM_IN_USE, STREAM_ALREADY_CLOSED = 6, 7, 8, 9
# GOAWAY status codes
GOAWAY_OK, GOAWAY_PROTOCOL_ERROR, GOAWAY_INTERNAL_ERROR = 0, 1, 2

MAX_LENGTH = 0xFFFFFF                  # u24: the largest payload of one frame
MAX_HEADER_BLOCK = 1 << 20             # inflated header block limit (a zlib bomb is refused)
MAX_STREAM_ID = 0x7FFFFFFF


def _spdy3_dictionary() -> bytes:
    """The header-compression dictionary of the SPDY/3 draft (section 2.6.10.1): 65 words,
    each preceded by its u32 length, then one run of common values.  The bytes are the
    protocol's constant; a test checks them against zlib streams and the known checksum."""
    words = (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status 200~OK version HTTP/1.1 url public set-cookie "
        "keep-alive origin")
    parts = [w.replace("~", " ") for w in words.split()]     # "200 OK" is one word
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
        "charset=iso-8859-1,utf-,*,enq=0.")
    out = bytearray()
    for word in parts:
        out += struct.pack(">I", len(word)) + word.encode()
    return bytes(out) + tail.encode()


DICTIONARY = _spdy3_dictionary()


class ProtocolError(Exception):
    """The peer broke the framing; the connection cannot go on."""


# -- frames -------------------------------------------------------------------------------

Headers = dict  # name (lower case) -> list of values


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    flags: int = 0


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    flags: int = 0
    associated_id: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    entries: tuple = ()                # (flags, id, value) triples
    flags: int = 0


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


def normalize_headers(headers) -> Headers:
    """``{name: value or [values]}`` (or pairs) → ``{lower-case name: [values]}``."""
    items = headers.items() if isinstance(headers, dict) else headers
    out: Headers = {}
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        out.setdefault(name.lower(), []).extend(values)
    return out


def encode_header_block(headers) -> bytes:
    """The uncompressed block; a name with several values carries them NUL-joined."""
    headers = normalize_headers(headers)
    out = bytearray(struct.pack(">I", len(headers)))
    for name, values in headers.items():
        n, v = name.encode(), "\0".join(values).encode()
        if not n:
            raise ValueError("a header name cannot be empty")
        out += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
    return bytes(out)


def decode_header_block(block: bytes) -> Headers:
    def take(pos: int) -> tuple[bytes, int]:
        if pos + 4 > len(block):
            raise ProtocolError("truncated header block")
        (n,) = struct.unpack_from(">I", block, pos)
        if pos + 4 + n > len(block):
            raise ProtocolError("truncated header block")
        return block[pos + 4:pos + 4 + n], pos + 4 + n
    if len(block) < 4:
        raise ProtocolError("truncated header block")
    (count,) = struct.unpack_from(">I", block, 0)
    pos, out = 4, {}
    for _ in range(count):
        name, pos = take(pos)
        value, pos = take(pos)
        if not name:
            raise ProtocolError("empty header name")
        key = name.decode("latin-1").lower()
        if key in out:
            raise ProtocolError(f"duplicate header {key!r}")
        out[key] = value.decode("utf-8", "replace").split("\0")
    return out


class HeaderCompressor:
    """One direction's deflate context (the dictionary set once, a sync flush per block)."""

    def __init__(self):
        self._z = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                   zdict=DICTIONARY)

    def compress(self, headers) -> bytes:
        block = encode_header_block(headers)
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    def __init__(self):
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data, MAX_HEADER_BLOCK)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not inflate: {exc}") from None
        if self._z.unconsumed_tail:
            raise ProtocolError("header block too large")
        return decode_header_block(block)


def _control(kind: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


class FrameWriter:
    """Frames to bytes; holds this direction's header compressor."""

    def __init__(self):
        self._headers = HeaderCompressor()

    def encode(self, frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_LENGTH:
                raise ValueError("data frame too large")
            return struct.pack(">II", frame.stream_id & MAX_STREAM_ID,
                               (frame.flags << 24) | len(frame.data)) + frame.data
        if isinstance(frame, SynStream):
            payload = struct.pack(">IIBB", frame.stream_id, frame.associated_id,
                                  (frame.priority & 7) << 5, 0)
            return _control(SYN_STREAM, frame.flags,
                            payload + self._headers.compress(frame.headers))
        if isinstance(frame, (SynReply, HeadersFrame)):
            kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            return _control(kind, frame.flags, struct.pack(">I", frame.stream_id)
                            + self._headers.compress(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (f << 24) | i, v) for f, i, v in frame.entries)
            return _control(SETTINGS, frame.flags, body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id,
                                                   frame.status))
        if isinstance(frame, WindowUpdate):
            return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameReader:
    """Bytes to frames: ``feed`` returns every complete frame so far, in order.  Unknown
    control frame types are skipped (the draft says to ignore them)."""

    def __init__(self):
        self._buf = bytearray()
        self._headers = HeaderDecompressor()

    def feed(self, data: bytes) -> list:
        self._buf += data
        out = []
        while len(self._buf) >= 8:
            (length,) = struct.unpack_from(">I", self._buf, 4)
            flags, length = length >> 24, length & MAX_LENGTH
            if len(self._buf) < 8 + length:
                break
            head = bytes(self._buf[:4])
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            frame = self._parse(head, flags, payload)
            if frame is not None:
                out.append(frame)
        return out

    def _parse(self, head: bytes, flags: int, payload: bytes):
        first, kind = struct.unpack(">HH", head)
        if not first & 0x8000:
            return DataFrame(struct.unpack(">I", head)[0] & MAX_STREAM_ID, payload, flags)
        if first & 0x7FFF != VERSION:
            raise ProtocolError(f"unsupported SPDY version {first & 0x7FFF}")

        def need(n):
            if len(payload) < n:
                raise ProtocolError(f"control frame type {kind} too short")
        if kind == SYN_STREAM:
            need(10)
            sid, assoc, prio = struct.unpack_from(">IIB", payload)
            return SynStream(sid & MAX_STREAM_ID, self._headers.decompress(payload[10:]), flags,
                             assoc & MAX_STREAM_ID, prio >> 5)
        if kind in (SYN_REPLY, HEADERS):
            need(4)
            sid = struct.unpack_from(">I", payload)[0] & MAX_STREAM_ID
            headers = self._headers.decompress(payload[4:])
            cls = SynReply if kind == SYN_REPLY else HeadersFrame
            return cls(sid, headers, flags)
        if kind == RST_STREAM:
            need(8)
            sid, status = struct.unpack_from(">II", payload)
            return RstStream(sid & MAX_STREAM_ID, status)
        if kind == SETTINGS:
            need(4)
            (count,) = struct.unpack_from(">I", payload)
            need(4 + 8 * count)
            entries = []
            for i in range(count):
                fid, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                entries.append((fid >> 24, fid & 0xFFFFFF, value))
            return Settings(tuple(entries), flags)
        if kind == PING:
            need(4)
            return Ping(struct.unpack_from(">I", payload)[0])
        if kind == GOAWAY:
            need(4)
            last = struct.unpack_from(">I", payload)[0] & MAX_STREAM_ID
            status = struct.unpack_from(">I", payload, 4)[0] if len(payload) >= 8 else 0
            return GoAway(last, status)
        if kind == WINDOW_UPDATE:
            need(8)
            sid, delta = struct.unpack_from(">II", payload)
            return WindowUpdate(sid & MAX_STREAM_ID, delta & MAX_STREAM_ID)
        return None
