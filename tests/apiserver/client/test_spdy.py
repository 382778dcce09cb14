"""SPDY/3.1 framing (apiserver/client/spdy.py), stream state (spdy_session.py), the asyncio connection
(spdy_connection.py) and client helpers (spdy_client.py): the SPDY/3 dictionary, header
blocks against plain zlib, every frame's layout and round trip, the session's stream rules,
and a client and a server connection over a real loopback TCP socket."""
from __future__ import annotations

import asyncio
import shutil
import struct
import zlib

import pytest

from apiserver.client import spdy, spdy_session
from apiserver.client.spdy_connection import Connection


def test_the_dictionary_is_spdy3s():
    d = spdy.DICTIONARY
    assert len(d) == 1423 and zlib.adler32(d) == 0xE3C6A7C2
    assert d.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert d.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_kubectl_carries_the_same_dictionary():
    # client-go's spdystream compiles the dictionary into kubectl: the same bytes on both ends
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    with open(kubectl, "rb") as f:
        assert spdy.DICTIONARY in f.read()


HEADERS = {"streamType": "error", "port": "8080", "multi": ["a", "b"]}


def test_header_blocks_round_trip_against_zlib_with_the_dictionary():
    comp = spdy.HeaderCompressor()
    plain = zlib.decompressobj(zdict=spdy.DICTIONARY)
    for i in range(3):                     # one context for the whole connection
        block = plain.decompress(comp.compress({**HEADERS, "requestID": str(i)}))
        assert spdy.decode_header_block(block) == {
            "streamtype": ["error"], "port": ["8080"], "requestid": [str(i)],
            "multi": ["a", "b"]}
    # and the other way: what zlib (as Go's compress/zlib) writes, our side reads
    z = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=spdy.DICTIONARY)
    ours = spdy.HeaderDecompressor()
    for i in range(3):
        raw = spdy.encode_header_block({"x-stream-protocol-version": f"v{i}.channel.k8s.io"})
        data = z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)
        assert ours.decompress(data) == {"x-stream-protocol-version": [f"v{i}.channel.k8s.io"]}


def test_a_block_needs_the_dictionary_and_bombs_are_refused():
    data = spdy.HeaderCompressor().compress(HEADERS)
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(data)
    z = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=spdy.DICTIONARY)
    big = spdy.encode_header_block({"x": "a" * (spdy.MAX_HEADER_BLOCK + 10)})
    with pytest.raises(spdy.ProtocolError, match="too large"):
        spdy.HeaderDecompressor().decompress(z.compress(big) + z.flush(zlib.Z_SYNC_FLUSH))
    with pytest.raises(spdy.ProtocolError, match="does not inflate"):
        spdy.HeaderDecompressor().decompress(b"garbage!")
    with pytest.raises(spdy.ProtocolError, match="truncated"):
        spdy.decode_header_block(b"\x00\x00\x00\x02\x00\x00\x00\x01a")


def test_frame_layouts():
    w = spdy.FrameWriter()
    assert w.encode(spdy.Ping(7)) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x07"
    assert w.encode(spdy.RstStream(3, spdy.CANCEL)) == \
        b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00\x05"
    assert w.encode(spdy.GoAway(5, 0)) == \
        b"\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x00"
    assert w.encode(spdy.DataFrame(1, b"hi", spdy.FLAG_FIN)) == b"\x00\x00\x00\x01\x01\x00\x00\x02hi"
    assert w.encode(spdy.WindowUpdate(1, 100)) == \
        b"\x80\x03\x00\x09\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x64"
    syn = w.encode(spdy.SynStream(1, {"a": "b"}, spdy.FLAG_FIN, 0, 3))
    version, kind, length = struct.unpack(">HHI", syn[:8])
    assert (version, kind, length >> 24, length & 0xFFFFFF) == (0x8003, 1, 1, len(syn) - 8)
    assert syn[8:18] == b"\x00\x00\x00\x01\x00\x00\x00\x00\x60\x00"


def test_frames_round_trip_even_fed_byte_by_byte():
    frames = [spdy.SynStream(1, {"streamtype": ["data"]}, 0, 0, 2),
              spdy.SynReply(1, {"x": ["y"]}, spdy.FLAG_FIN),
              spdy.HeadersFrame(1, {"h": ["v"]}),
              spdy.DataFrame(1, b"payload" * 100, spdy.FLAG_FIN),
              spdy.RstStream(3, spdy.PROTOCOL_ERROR),
              spdy.Settings(((0, 7, 65536), (1, 4, 100))),
              spdy.Ping(2), spdy.GoAway(9, 1), spdy.WindowUpdate(0, 5)]
    w = spdy.FrameWriter()
    wire = b"".join(w.encode(f) for f in frames)
    r = spdy.FrameReader()
    got = []
    for i in range(len(wire)):
        got += r.feed(wire[i:i + 1])
    assert got == frames


def test_unknown_control_frames_are_skipped_and_other_versions_refused():
    r = spdy.FrameReader()
    unknown = b"\x80\x03\x00\x63\x00\x00\x00\x02xx"
    assert r.feed(unknown + spdy.FrameWriter().encode(spdy.Ping(1))) == [spdy.Ping(1)]
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.FrameReader().feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")


def pump(a: spdy_session.Session, b: spdy_session.Session) -> list:
    return b.receive_data(a.data_to_send())


def test_sessions_open_reply_send_and_close_streams():
    client, server = spdy_session.Session(client=True), spdy_session.Session(client=False)
    assert [client.open_stream({"streamType": t}) for t in ("error", "data")] == [1, 3]
    opened = pump(client, server)
    assert opened == [spdy_session.StreamOpened(1, {"streamtype": ["error"]}, False),
                      spdy_session.StreamOpened(3, {"streamtype": ["data"]}, False)]
    server.reply(1)
    server.reply(3, {"a": "b"})
    assert pump(server, client) == [spdy_session.StreamReplied(1, {}, False),
                                    spdy_session.StreamReplied(3, {"a": ["b"]}, False)]
    client.send_data(3, b"hello", fin=True)
    assert pump(client, server) == [spdy_session.DataReceived(3, b"hello", True)]
    server.send_data(3, b"bye", fin=True)
    assert pump(server, client) == [spdy_session.DataReceived(3, b"bye", True)]
    assert 3 not in client.streams and 3 not in server.streams      # both halves closed
    with pytest.raises(ValueError):
        client.send_data(3, b"more")
    client.reset(1)
    assert pump(client, server) == [spdy_session.StreamReset(1, spdy.CANCEL)]
    # server-side streams are even
    assert server.open_stream({}) == 2


def test_large_data_is_split_into_frames():
    client, server = spdy_session.Session(client=True), spdy_session.Session(client=False)
    client.open_stream({})
    pump(client, server)
    client.send_data(1, b"x" * (spdy.MAX_LENGTH + 5))
    events = pump(client, server)
    assert [len(e.data) for e in events] == [spdy.MAX_LENGTH, 5]


def test_pings_of_the_peer_are_echoed_and_ours_answered():
    client, server = spdy_session.Session(client=True), spdy_session.Session(client=False)
    assert client.ping() == 1 and client.ping() == 3
    assert pump(client, server) == []                       # echoed, not reported
    assert pump(server, client) == [spdy_session.PingAnswered(1), spdy_session.PingAnswered(3)]


def test_peer_mistakes_reset_a_stream_or_end_the_connection():
    client, server = spdy_session.Session(client=True), spdy_session.Session(client=False)
    w = spdy.FrameWriter()
    # data for a stream that was never opened: RST INVALID_STREAM
    assert server.receive_data(w.encode(spdy.DataFrame(5, b"x"))) == []
    assert spdy.FrameReader().feed(server.data_to_send()) == [
        spdy.RstStream(5, spdy.INVALID_STREAM)]
    # data after the peer's FIN: STREAM_ALREADY_CLOSED
    client.open_stream({}, fin=True)
    server.receive_data(client.data_to_send())
    server.receive_data(spdy.FrameWriter().encode(spdy.DataFrame(1, b"late")))
    assert spdy.RstStream(1, spdy.STREAM_ALREADY_CLOSED) in spdy.FrameReader().feed(
        server.data_to_send())
    # a stream id that goes backwards (or has the server's parity) ends the connection
    fresh = spdy_session.Session(client=False)
    writer = spdy.FrameWriter()
    fresh.receive_data(writer.encode(spdy.SynStream(5, {})))
    with pytest.raises(spdy.ProtocolError):
        fresh.receive_data(writer.encode(spdy.SynStream(3, {})))
    assert spdy.FrameReader().feed(fresh.data_to_send()) == [
        spdy.GoAway(5, spdy.GOAWAY_PROTOCOL_ERROR)]
    with pytest.raises(spdy.ProtocolError):
        spdy_session.Session(client=False).receive_data(spdy.FrameWriter().encode(
            spdy.SynStream(2, {})))


def test_after_goaway_new_streams_are_refused():
    client, server = spdy_session.Session(client=True), spdy_session.Session(client=False)
    server.goaway()
    assert pump(server, client) == [spdy_session.GoAwayReceived(0, 0)]
    with pytest.raises(spdy.ProtocolError):
        client.open_stream({})
    late = spdy.FrameWriter().encode(spdy.SynStream(1, {}))
    assert server.receive_data(late) == []
    assert spdy.FrameReader().feed(server.data_to_send()) == [
        spdy.RstStream(1, spdy.REFUSED_STREAM)]


# -- the asyncio connection over TCP ------------------------------------------------------

async def _pair(on_stream):
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        accepted.set_result(Connection(reader, writer, client=False,
                                       on_stream=on_stream).start())
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Connection(reader, writer, client=True).start()
    return server, client, await accepted


def test_connection_streams_both_ways_over_tcp():
    async def go():
        seen = []

        def on_stream(stream):
            seen.append(stream)
            if stream.header("streamtype") == "refuse":
                stream.reset(spdy.REFUSED_STREAM)
                return
            stream.reply({"ok": "yes"})

            async def echo():
                while data := await stream.read():
                    await stream.write(data.upper())
                await stream.close()
            asyncio.get_running_loop().create_task(echo())
        server, client, srv = await _pair(on_stream)
        s = await client.open_stream({"streamType": "data"})
        assert s.reply_headers == {"ok": ["yes"]}
        await s.write(b"hello ")
        await s.write(b"world" * 10000)
        await s.close()
        assert await s.read_all() == b"HELLO " + b"WORLD" * 10000
        with pytest.raises(ConnectionResetError, match="refused"):
            await client.open_stream({"streamType": "refuse"})
        assert await client.ping() >= 0
        await client.close()
        await asyncio.wait_for(srv.closed.wait(), 5)
        assert [x.header("streamtype") for x in seen] == ["data", "refuse"]
        server.close()
        await server.wait_closed()
    asyncio.run(go())


def test_a_stream_nobody_answers_times_out_and_close_ends_readers():
    async def go():
        def on_stream(stream):
            if stream.header("x") != "silent":
                stream.reply()
        server, client, srv = await _pair(on_stream)
        with pytest.raises(TimeoutError):
            await client.open_stream({"x": "silent"}, timeout=0.2)
        s2 = await client.open_stream({"x": "2"})
        reading = asyncio.ensure_future(s2.read())
        await srv.close()
        assert await asyncio.wait_for(reading, 5) == b""
        await asyncio.wait_for(client.closed.wait(), 5)
        server.close()
    asyncio.run(go())
