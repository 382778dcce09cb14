"""Decode Kubernetes protobuf request bodies into the JSON-shaped dicts the JSON path sees.

client-go 1.32+ typed clients (kubectl ``create token``, ``auth can-i``, ``auth whoami`` …)
send ``Content-Type: application/vnd.kubernetes.protobuf``.  The body is the 4-byte magic
``k8s\\0`` followed by a ``runtime.Unknown`` message whose ``typeMeta`` names the kind and
whose ``raw`` holds the typed message.  This module reads that wire format with a small,
bounded, pure-Python reader driven by the generated field table (``table.py``) and produces
what Go's ``encoding/json`` would print for the same Go object:

* fields flattened by ``json:",inline"`` are merged into their parent;
* zero scalars of non-pointer ``omitempty`` fields are dropped (Go clients always write
  non-pointer scalars on the wire, Go's JSON encoder omits them);
* well-known types get their JSON form: ``Time`` → ``"2024-01-01T00:00:00Z"``, ``MicroTime``
  → ``"…T00:00:00.000000Z"``, ``Duration`` → Go duration string, ``Quantity`` → string,
  ``IntOrString`` → int or string, ``RawExtension``/``FieldsV1`` → embedded JSON,
  ``bytes`` → base64, ``ExtraValue``-style wrappers → lists;
* where Go would print ``null`` (zero ``Time``, empty ``RawExtension``) the key is omitted.

Every malformed input raises :class:`~apiserver.runtime.errors.BadRequest`; unknown field
numbers are skipped.  The caller caps the body size; nesting is limited to ``MAX_DEPTH``.

May import: the standard library, orjson, ``apiserver.runtime.errors``.
"""
from __future__ import annotations

import base64
import datetime
import struct

import orjson

from apiserver.runtime.errors import BadRequest
from apiserver.runtime.protobuf.table import (EVERY_GROUP_VERSION, INLINE, KINDS, LIST_WRAPPERS,
                                              MAP, MESSAGES, OMITEMPTY, POINTER, REPEATED)

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAX_DEPTH = 100

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_MASK64 = (1 << 64) - 1
_VARINT_KINDS = frozenset({"int32", "int64", "uint32", "uint64", "bool"})
_WIRE = {"string": 2, "bytes": 2, "message": 2, "double": 1, "float": 5}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_ZEROS = ("", 0, False)  # zero scalars (0 == 0.0 == False in Python)
_ABSENT = object()  # a well-known value Go prints as null: the key is left out


def _fail(detail: str) -> BadRequest:
    return BadRequest(f"unable to decode protobuf body: {detail}")


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a base-128 varint (at most 10 bytes, truncated to 64 bits like Go)."""
    if pos < end and buf[pos] < 0x80:  # the common one-byte case
        return buf[pos], pos + 1
    result = shift = 0
    while True:
        if pos >= end:
            raise _fail("truncated message (varint runs past the end)")
        if shift >= 64:
            raise _fail("varint overflows 64 bits")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    n, pos = _varint(buf, pos, end)
    if n > end - pos:
        raise _fail("truncated message (length-delimited field runs past the end)")
    return pos + n, pos


def _skip(buf: bytes, pos: int, end: int, wire: int) -> int:
    """Skip the value of an unknown field."""
    if wire == 0:
        return _varint(buf, pos, end)[1]
    if wire == 2:
        return _length(buf, pos, end)[0]
    size = {1: 8, 5: 4}.get(wire)
    if size is None:
        raise _fail(f"unsupported wire type {wire}")
    if size > end - pos:
        raise _fail("truncated message (fixed-size field runs past the end)")
    return pos + size


def _scalar(kind: str, v: int):
    """Convert a varint to the Go value of ``kind`` (two's complement for signed kinds)."""
    if kind == "bool":
        return v != 0
    if kind == "int32":
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v
    if kind == "int64":
        return v - (1 << 64) if v >= 1 << 63 else v
    if kind == "uint32":
        return v & 0xFFFFFFFF
    return v


def _fixed(kind: str, data: bytes):
    return struct.unpack("<d" if kind == "double" else "<f", data)[0]


def _where(field: tuple[str, str]) -> str:
    """``Message.field`` for error messages (formatted only when an error is raised)."""
    return f"{field[0].rsplit('.', 1)[1]}.{field[1]}"


def _text(buf: bytes, start: int, stop: int, field: tuple[str, str]) -> str:
    try:
        return buf[start:stop].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(f"invalid UTF-8 in string field {_where(field)}") from None


class _Decoder:
    """One decoding run over ``buf`` (positions index into it; nothing is re-sliced)."""

    def __init__(self, buf: bytes):
        self.buf = buf

    def value(self, kind: str, ref, pos: int, end: int, field: tuple[str, str], depth: int,
              raw_bytes: bool = False):
        """Read one (non-packed) value of ``kind``; return ``(value, new_pos)``."""
        buf = self.buf
        if kind in _VARINT_KINDS:
            v, pos = _varint(buf, pos, end)
            return _scalar(kind, v), pos
        if kind in ("double", "float"):
            size = 8 if kind == "double" else 4
            if size > end - pos:
                raise _fail("truncated message (fixed-size field runs past the end)")
            return _fixed(kind, buf[pos:pos + size]), pos + size
        stop, start = _length(buf, pos, end)
        if kind == "string":
            return _text(buf, start, stop, field), stop
        if kind == "bytes":
            data = buf[start:stop]
            return (data if raw_bytes else base64.b64encode(data).decode("ascii")), stop
        return self.message(ref, start, stop, depth + 1), stop

    def message(self, name: str, pos: int, end: int, depth: int):
        """Decode the message ``name`` in ``buf[pos:end]`` to its JSON form."""
        if depth > MAX_DEPTH:
            raise _fail(f"message nesting exceeds {MAX_DEPTH} levels")
        special = _SPECIAL.get(name)
        raw_bytes = special is not None
        fields = MESSAGES[name]
        buf, out, empty = self.buf, {}, pos == end
        while pos < end:
            tag, pos = _varint(buf, pos, end)
            num, wire = tag >> 3, tag & 7
            entry = fields.get(num)
            if entry is None:
                if num == 0:
                    raise _fail("illegal field number 0")
                pos = _skip(buf, pos, end, wire)
                continue
            json_name, kind, flags, ref = entry
            field = (name, json_name)
            expected = _WIRE.get(kind, 0)
            if flags & MAP:
                if wire != 2:
                    raise _fail(f"wrong wire type {wire} for field {_where(field)}")
                key, value, pos = self.map_entry(kind, ref, pos, end, field, depth)
                out.setdefault(json_name, {})[key] = value
                continue
            if flags & REPEATED:
                items = out.setdefault(json_name, [])
                if wire == 2 and expected != 2:  # packed scalars
                    stop, pos = _length(buf, pos, end)
                    while pos < stop:
                        v, pos = self.value(kind, ref, pos, stop, field, depth)
                        items.append(v)
                    continue
                if wire != expected:
                    raise _fail(f"wrong wire type {wire} for field {_where(field)}")
                v, pos = self.value(kind, ref, pos, end, field, depth, raw_bytes)
                items.append(None if v is _ABSENT else v)
                continue
            if wire != expected:
                raise _fail(f"wrong wire type {wire} for field {_where(field)}")
            v, pos = self.value(kind, ref, pos, end, field, depth, raw_bytes)
            if flags & INLINE:
                out.update(v)
            elif v is _ABSENT or (flags & OMITEMPTY and not flags & POINTER
                                  and kind != "message" and v in _ZEROS):
                out.pop(json_name, None)  # Go's encoding/json leaves this key out
            else:
                out[json_name] = v  # proto2: the last occurrence wins
        if special is not None:
            return special(out, empty, depth)
        if name in LIST_WRAPPERS:
            return out.get("items", [])
        return out

    def map_entry(self, kind, ref, pos, end, field, depth):
        """Read one ``map<string, kind>`` entry message; missing key/value are zero values."""
        stop, pos = _length(self.buf, pos, end)
        key, value = "", None
        while pos < stop:
            tag, pos = _varint(self.buf, pos, stop)
            num, wire = tag >> 3, tag & 7
            if num == 1 and wire == 2:
                key, pos = self.value("string", None, pos, stop, field, depth)
            elif num == 2 and wire == _WIRE.get(kind, 0):
                value, pos = self.value(kind, ref, pos, stop, field, depth)
            elif num in (1, 2):
                raise _fail(f"wrong wire type {wire} in map entry of {_where(field)}")
            elif num == 0:
                raise _fail("illegal field number 0")
            else:
                pos = _skip(self.buf, pos, stop, wire)
        if value is None:
            value = (_scalar(kind, 0) if kind in _VARINT_KINDS else "" if kind in ("string", "bytes")
                     else 0.0 if kind in ("double", "float")
                     else self.message(ref, stop, stop, depth + 1))
        return key, (None if value is _ABSENT else value), stop


# ---- well-known types -------------------------------------------------------------------

def _utc(micros: int) -> datetime.datetime:
    try:
        return _EPOCH + datetime.timedelta(microseconds=micros)
    except OverflowError:
        raise _fail("timestamp out of range") from None


def _date(t: datetime.datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def _time(raw, empty, _depth):
    # metav1.Time keeps whole seconds only (time_proto.go); zero length is the zero Time.
    if empty:
        return _ABSENT
    return _date(_utc(raw.get("seconds", 0) * 1_000_000)) + "Z"


def _micro_time(raw, empty, _depth):
    if empty:
        return _ABSENT
    micros = (raw.get("seconds", 0) * 1_000_000_000 + raw.get("nanos", 0)) // 1000
    t = _utc(micros)
    return f"{_date(t)}.{t.microsecond:06d}Z"


def _frac(u: int, prec: int) -> str:
    whole, frac = divmod(u, 10 ** prec)
    digits = f"{frac:0{prec}d}".rstrip("0") if prec else ""
    return f"{whole}.{digits}" if digits else str(whole)


def go_duration(ns: int) -> str:
    """Format nanoseconds exactly like Go's ``time.Duration.String`` (``1h2m3.5s``, ``1.5µs``)."""
    if ns == 0:
        return "0s"
    u, sign = abs(ns), "-" if ns < 0 else ""
    if u < 1_000_000_000:
        unit, prec = ("ns", 0) if u < 1000 else ("µs", 3) if u < 1_000_000 else ("ms", 6)
        return sign + _frac(u, prec) + unit
    secs, frac = divmod(u, 1_000_000_000)
    text = _frac(secs % 60 * 1_000_000_000 + frac, 9) + "s"
    minutes = secs // 60
    if minutes:
        text = f"{minutes % 60}m" + text
        if minutes // 60:
            text = f"{minutes // 60}h" + text
    return sign + text


def _duration(raw, _empty, _depth):
    return go_duration(raw.get("duration", 0))


def _quantity(raw, _empty, _depth):
    return raw.get("string", "0") if raw else "0"


def _int_or_string(raw, _empty, _depth):
    kind = raw.get("type", 0)
    if kind == 0:
        return raw.get("intVal", 0)
    if kind == 1:
        return raw.get("strVal", "")
    raise _fail(f"invalid IntOrString type {kind}")


def _embedded_json(data, depth, where):
    if not data:
        return _ABSENT
    if data.startswith(MAGIC):  # an embedded protobuf object (e.g. WatchEvent.object)
        return _envelope(data, None, depth + 1)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _fail(f"{where} does not hold valid JSON") from None


def _raw_extension(raw, _empty, depth):
    return _embedded_json(raw.get("raw", b""), depth, "RawExtension")


def _fields_v1(raw, _empty, depth):
    return _embedded_json(raw.get("Raw", b""), depth, "FieldsV1")


_SPECIAL = {
    _META + "Time": _time,
    _META + "MicroTime": _micro_time,
    _META + "Duration": _duration,
    _META + "FieldsV1": _fields_v1,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": _quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_extension,
}
_SPECIAL[_UNKNOWN] = lambda raw, _empty, _depth: raw  # keep ``raw`` as bytes


# ---- envelope ---------------------------------------------------------------------------

def _parse_api_version(api_version: str) -> tuple[str, str]:
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise _fail(f"unexpected GroupVersion string: {api_version}")


def message_for(group: str, version: str, kind: str) -> str | None:
    """The protobuf message of a built-in ``group/version, Kind`` (``None`` if unknown)."""
    name = KINDS.get((group, version, kind))
    if name is None and version:
        name = EVERY_GROUP_VERSION.get(kind)
    return name


def _envelope(body: bytes, expected, depth: int) -> dict:
    if len(body) < len(MAGIC) or not body.startswith(MAGIC):
        raise _fail("the body does not start with the Kubernetes protobuf prefix 'k8s\\x00'")
    if len(body) == len(MAGIC):
        raise _fail("empty body")
    dec = _Decoder(body)
    unknown = dec.message(_UNKNOWN, len(MAGIC), len(body), depth)
    # Unknown embeds runtime.TypeMeta inline, so apiVersion and kind land at the top.
    group, version = _parse_api_version(unknown.get("apiVersion", ""))
    kind = unknown.get("kind", "")
    if expected is not None:  # copyKindDefaults: the request's kind fills in what is missing
        if not kind:
            kind = expected[2]
        if not version and expected[1]:
            group, version = expected[0], expected[1]
    if not kind:
        raise _fail("Object 'Kind' is missing in the protobuf envelope")
    if not version:
        raise _fail("Object 'apiVersion' is missing in the protobuf envelope")
    api_version = f"{group}/{version}" if group else version
    name = message_for(group, version, kind)
    if name is None:
        raise _fail(f'no kind "{kind}" is registered for version "{api_version}"')
    raw = unknown.get("raw", b"")
    obj = _Decoder(raw).message(name, 0, len(raw), depth + 1)
    return {"apiVersion": api_version, "kind": kind, **obj}


def decode_body(body: bytes, expected: tuple[str, str, str] | None = None) -> dict:
    """Decode a ``application/vnd.kubernetes.protobuf`` request body to a JSON-shaped dict.

    ``expected`` is the ``(group, version, kind)`` the endpoint expects; like upstream's
    ``copyKindDefaults`` it supplies the kind and group-version when the envelope's
    ``typeMeta`` leaves them empty.  The result always carries ``apiVersion`` and ``kind``.
    Raises :class:`BadRequest` for any malformed or unknown input.
    """
    return _envelope(bytes(body), expected, 0)


def decode_message(data: bytes, message: str):
    """Decode one typed message (no envelope) given its full name, e.g. ``k8s.io.api.core.v1.Pod``."""
    if message not in MESSAGES:
        raise _fail(f"unknown message type {message}")
    data = bytes(data)
    return _Decoder(data).message(message, 0, len(data), 0)
