"""Wire-level behaviour of the protobuf decoder: malformed input, bounds, proto2 rules."""
import time

import pytest

from apiserver.runtime.errors import BadRequest
from apiserver.runtime.protobuf import decode_body, decode_message
from apiserver.runtime.protobuf.decode import MAX_DEPTH, go_duration
from tests.apiserver.runtime.protobuf.pbenc import (MAGIC, envelope, ld, m, packed, s, tag, v,
                                                    varint)

CM = ("v1", "ConfigMap")


@pytest.mark.parametrize("body, message", [
    (b"", "prefix"),
    (b"k8s", "prefix"),
    (b"{\"kind\":\"Pod\"}", "prefix"),
    (MAGIC, "empty body"),
    (MAGIC + b"\x0a", "truncated"),                          # tag, then no length
    (MAGIC + b"\x28\x80", "truncated"),                      # varint cut short
    (MAGIC + b"\x12\x05ab", "past the end"),                  # length beyond the body
    (MAGIC + b"\x12" + b"\xff" * 9 + b"\x01", "past the end"),  # length near 2**64
    (MAGIC + b"\x28" + b"\xff" * 11, "overflows"),
    (MAGIC + b"\x00", "field number 0"),
    (MAGIC + b"\x0b", "wire type 3"),                         # groups are not supported
    (MAGIC + b"\x2d\x01\x02", "truncated"),                   # fixed32 cut short
    (envelope(*CM, v(1, 5)), "wrong wire type 0 for field ConfigMap.metadata"),
    (envelope(*CM, m(1, ld(1, b"\xff\xfe"))), "invalid UTF-8"),
    (envelope(*CM, m(1, m(11, v(1, 3)))), "wrong wire type 0 in map entry"),
    (envelope("v1", "Widget", b""), 'no kind "Widget" is registered for version "v1"'),
    (envelope("example.com/v1", "ConfigMap", b""), "no kind"),
    (envelope("a/b/c", "ConfigMap", b""), "unexpected GroupVersion"),
    (envelope("", "ConfigMap", b""), "apiVersion"),
    (envelope("apps/v1", "ControllerRevision", m(2, ld(1, b"{nope"))), "valid JSON"),
    (envelope("v1", "Service", m(2, m(1, m(4, v(1, 2))))), "IntOrString type 2"),
    (envelope(*CM, m(1, m(8, v(1, 10 ** 12)))), "out of range"),
    (envelope(*CM, m(1, m(8, v(1, -(2 ** 63))))), "out of range"),
    (envelope("coordination.k8s.io/v1", "Lease", m(2, m(3, v(1, 2 ** 62)))), "out of range"),
    (envelope("v1", "Pod", m(2, m(14, ld(4, b"\x80")))), "truncated"),  # packed varint cut
    (envelope(*CM, m(1, ld(1, b"ok")) + b"\x12"), "truncated"),
])
def test_malformed_input_is_a_bad_request(body, message):
    with pytest.raises(BadRequest, match="unable to decode protobuf body") as info:
        decode_body(body)
    assert message in str(info.value)
    assert info.value.code == 400 and info.value.reason == "BadRequest"


def _nested_watch_events(levels: int) -> bytes:
    """``levels`` WatchEvents, each carrying the next one as an embedded protobuf object.

    Built outside-in from prefixes so that construction stays linear in the output size.
    """
    body = envelope("v1", "ConfigMap", b"")
    size, prefixes = len(body), []
    header = MAGIC + m(1, s(1, "meta.k8s.io/v1"), s(2, "WatchEvent"))
    for _ in range(levels):
        raw_ext = tag(1, 2) + varint(size)
        typed = s(1, "ADDED") + tag(2, 2) + varint(len(raw_ext) + size) + raw_ext
        prefix = header + tag(2, 2) + varint(len(typed) + size) + typed
        prefixes.append(prefix)
        size += len(prefix)
    return b"".join(reversed(prefixes)) + body


def _nested_fields(levels: int, number: int, wrap) -> bytes:
    """``levels`` nested length-delimited fields numbered ``number`` around ``b""``."""
    size, prefixes = 0, []
    for _ in range(levels):
        prefix = tag(number, 2) + varint(size)
        prefixes.append(prefix)
        size += len(prefix)
    return wrap(b"".join(reversed(prefixes)))


def test_depth_bomb_through_embedded_objects_is_rejected_quickly():
    assert decode_body(_nested_watch_events(3))["object"]["object"]["object"]["kind"] == "ConfigMap"
    bomb = _nested_watch_events(10_000)
    start = time.monotonic()
    with pytest.raises(BadRequest, match=f"nesting exceeds {MAX_DEPTH} levels"):
        decode_body(bomb)
    assert time.monotonic() - start < 2


def test_depth_bomb_in_typed_fields_is_rejected_quickly():
    # Pod → spec(2) → containers(2) → image(2): the rest is read as a string, and the
    # varint length bytes are not valid UTF-8.
    bomb = _nested_fields(10_000, 2, lambda inner: envelope("v1", "Pod", inner))
    start = time.monotonic()
    with pytest.raises(BadRequest, match="invalid UTF-8"):
        decode_body(bomb)
    assert time.monotonic() - start < 2


def test_deep_unknown_field_is_skipped_without_recursion():
    bomb = _nested_fields(10_000, 99, lambda inner: envelope(*CM, m(1, s(1, "x")) + inner))
    assert decode_body(bomb)["metadata"] == {"name": "x"}


def test_deeply_nested_json_in_raw_extension_is_rejected():
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(BadRequest, match="valid JSON"):
        decode_body(envelope("apps/v1", "ControllerRevision", m(2, ld(1, deep))))


def test_unknown_fields_of_every_wire_type_are_skipped():
    unknown = (v(900, 7) + tag(901, 1) + b"\x00" * 8 + ld(902, b"\xff\xff")
               + tag(903, 5) + b"\x00" * 4)
    got = decode_body(envelope(*CM, unknown + m(1, unknown, s(1, "cm")) + unknown))
    assert got == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}


def test_envelope_content_type_and_encoding_and_unknown_fields_are_ignored():
    body = envelope(*CM, m(1, s(1, "cm"))) + s(3, "") + s(4, "application/vnd.kubernetes.protobuf")
    assert decode_body(bytearray(body))["metadata"] == {"name": "cm"}


def test_packed_and_unpacked_repeated_scalars_are_equivalent():
    def pod(groups):
        return envelope("v1", "Pod", m(2, m(14, groups)))
    unpacked = v(4, 1) + v(4, 2) + v(4, -3)
    assert decode_body(pod(packed(4, [1, 2, -3]))) == decode_body(pod(unpacked))
    assert decode_body(pod(unpacked))["spec"]["securityContext"] == {
        "supplementalGroups": [1, 2, -3]}


def test_negative_int32_written_as_ten_byte_varint():
    field = v(3, -1)  # Go sign-extends int32 to 64 bits: ten bytes on the wire
    assert len(field) == 11
    got = decode_body(envelope("v1", "Service", m(2, m(1, field))))
    assert got["spec"]["ports"] == [{"port": -1}]


def test_last_occurrence_of_a_scalar_wins_and_repeated_fields_accumulate():
    got = decode_body(envelope(*CM, m(1, s(1, "first"), s(1, "second"), s(14, "a"), s(14, "b"))))
    assert got["metadata"] == {"name": "second", "finalizers": ["a", "b"]}
    # A singular message field sent twice: the last occurrence wins (Go would merge the two;
    # no Kubernetes encoder writes a singular field twice).
    got = decode_body(envelope(*CM, m(1, s(1, "first"), s(14, "a")) + m(1, s(14, "b"))))
    assert got["metadata"] == {"finalizers": ["b"]}


def test_map_entry_defaults_and_last_key_wins():
    raw = m(1, m(11, s(2, "no-key")), m(11, s(1, "k")), m(11, s(1, "k"), s(2, "v2")))
    assert decode_body(envelope(*CM, raw))["metadata"]["labels"] == {"": "no-key", "k": "v2"}


@pytest.mark.parametrize("nanos, text", [
    (0, "0s"), (1, "1ns"), (999, "999ns"), (1_000, "1µs"), (1_500, "1.5µs"),
    (1_000_000, "1ms"), (1_234_567, "1.234567ms"), (1_000_000_000, "1s"),
    (1_500_000_000, "1.5s"), (90 * 10 ** 9, "1m30s"), (3600 * 10 ** 9, "1h0m0s"),
    (-(3661 * 10 ** 9 + 1), "-1h1m1.000000001s"),
    (-(2 ** 63), "-2562047h47m16.854775808s"),
])
def test_go_duration_format(nanos, text):
    assert go_duration(nanos) == text


def test_duration_message():
    assert decode_message(v(1, 300 * 10 ** 9), "k8s.io.apimachinery.pkg.apis.meta.v1.Duration") == "5m0s"
    assert decode_message(b"", "k8s.io.apimachinery.pkg.apis.meta.v1.Duration") == "0s"
    with pytest.raises(BadRequest, match="unknown message type"):
        decode_message(b"", "k8s.io.api.core.v1.Nope")
