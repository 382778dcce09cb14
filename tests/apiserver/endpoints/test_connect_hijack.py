"""Taking over an upgrade request's connection (``k8s.hijack``, apiserver.server.serve) on a
real uvicorn with the server's protocol classes: SPDY-style and websocket upgrades, bytes
sent before the answer, and a refused upgrade that must close the connection."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from apiserver.authentication.x509 import CertificatePools
from apiserver.server.serve import HIJACK, protocols

CALLS: list = []


async def app(scope, receive, send):
    if scope["type"] not in ("http", "websocket"):
        return
    CALLS.append((scope["type"], scope["path"]))
    hijack = (scope.get("extensions") or {}).get(HIJACK)
    if scope["path"] == "/refuse" or hijack is None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "websocket.http.response.body", "body": b"no"})
            return
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"refused"})
        return
    raw = hijack()
    raw.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
              b"Upgrade: raw\r\n\r\n")
    while True:
        data = await raw.read()
        if not data:
            break
        raw.write(data.upper())
        await raw.drain()
        if b"bye" in data:
            break
    raw.close()


@pytest.fixture(scope="module")
def port():
    http, ws = protocols(CertificatePools({}))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=http, ws=ws, lifespan="off", log_level="warning",
                            interface="asgi3")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(5)


def _recv_until(conn, wanted: bytes, data: bytes = b"") -> bytes:
    while wanted not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_spdy_style_upgrade_is_handed_over_with_bytes_sent_early(port):
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"POST /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                 b"Upgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\nearly")
    data = _recv_until(conn, b"EARLY")
    assert data.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert data.endswith(b"\r\n\r\nEARLY")
    conn.sendall(b"more GET / HTTP/1.1\r\n\r\n bye")
    assert _recv_until(conn, b"BYE") == b"MORE GET / HTTP/1.1\r\n\r\n BYE"
    assert conn.recv(10) == b""              # the app closed it
    conn.close()


def test_websocket_upgrade_is_handed_over_before_uvicorn_answers(port):
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"\r\n")
    head = _recv_until(conn, b"\r\n\r\n")
    # the app's own 101, not uvicorn's (which would carry Sec-WebSocket-Accept)
    assert head == b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n"
    conn.sendall(b"\x81\x02hi bye")
    assert _recv_until(conn, b"BYE") == b"\x81\x02HI BYE"
    conn.close()


def test_a_refused_upgrade_closes_and_never_serves_what_follows(port):
    CALLS.clear()
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"POST /refuse HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                 b"Upgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n"
                 b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    assert data.startswith(b"HTTP/1.1 400 ") and b"\r\nconnection: close\r\n" in data
    assert b"refused" in data and data.count(b"HTTP/1.1") == 1
    time.sleep(0.2)
    assert CALLS == [("http", "/refuse")]


def test_a_refused_websocket_gets_the_apps_status(port):
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"GET /refuse HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                 b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    data = _recv_until(conn, b"no")
    conn.close()
    assert data.startswith(b"HTTP/1.1 403 ") and data.endswith(b"\r\n\r\nno")


def test_plain_requests_are_unaffected(port):
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    data = _recv_until(conn, b"refused")
    assert data.startswith(b"HTTP/1.1 400 ")
    conn.close()
