"""A minimal protobuf *encoder* for the decoder tests, independent of the decoder.

Built only on ``google.protobuf``'s wire-format primitives; field numbers are written by hand
in the tests (taken from upstream ``generated.proto``), never read from the generated table.
"""
from google.protobuf.internal import encoder, wire_format

MAGIC = b"k8s\x00"
_MASK64 = (1 << 64) - 1


def tag(num: int, wire: int) -> bytes:
    return encoder._VarintBytes(wire_format.PackTag(num, wire))


def varint(value: int) -> bytes:
    return encoder._VarintBytes(value & _MASK64)


def v(num: int, value: int) -> bytes:
    """A varint field (int32/int64/bool); negatives in 64-bit two's complement, as Go writes."""
    return tag(num, wire_format.WIRETYPE_VARINT) + varint(int(value))


def ld(num: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return tag(num, wire_format.WIRETYPE_LENGTH_DELIMITED) + varint(len(data)) + data


def s(num: int, text: str) -> bytes:
    return ld(num, text.encode("utf-8"))


def m(num: int, *parts: bytes) -> bytes:
    """An embedded message field built from already-encoded fields."""
    return ld(num, b"".join(parts))


def rs(num: int, items) -> bytes:
    """A repeated string field."""
    return b"".join(s(num, x) for x in items)


def packed(num: int, values) -> bytes:
    return ld(num, b"".join(varint(x) for x in values))


def smap(num: int, mapping: dict, value=None) -> bytes:
    """A ``map<string, …>`` field: one entry message {1: key, 2: value} per item."""
    value = value or s
    return b"".join(m(num, s(1, k), value(2, val)) for k, val in mapping.items())


def quantity(num: int, text: str) -> bytes:
    return m(num, s(1, text))


def int_or_string(num: int, val) -> bytes:
    if isinstance(val, str):
        return m(num, v(1, 1), v(2, 0), s(3, val))
    return m(num, v(1, 0), v(2, val), s(3, ""))


def timestamp(num: int, seconds: int, nanos: int = 0) -> bytes:
    """metav1.Time / MicroTime {1 seconds, 2 nanos}."""
    return m(num, v(1, seconds), v(2, nanos))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\0`` + runtime.Unknown{1 typeMeta{1 apiVersion, 2 kind}, 2 raw}."""
    return MAGIC + m(1, s(1, api_version), s(2, kind)) + ld(2, raw)
