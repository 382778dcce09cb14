"""The ASGI handler that hands one request to a service-backed APIService's backend.

Upstream: kube-aggregator pkg/apiserver/handler_proxy.go and k8s.io/apimachinery
pkg/util/proxy/upgradeaware.go.  The request has passed authentication and authorization in
this server already (the filters sit in front of the server chain); here it is resolved to an
endpoint (``resolver``), its headers cleaned and the caller's identity added
(``transport``), and sent over TLS verified with the APIService's caBundle.  Responses stream
back as they arrive, so watches and ``?follow`` streams work; websocket requests (watch over
websockets, exec-style streams) are relayed message by message.  When the backend cannot be
reached the caller gets a 503 ServiceUnavailable Status, never a traceback or the backend's
address beyond what upstream's message says.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import h11
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from apiserver.endpoints.responses import send_status
from apiserver.runtime import errors

from .resolver import Endpoint
from .transport import backend_headers, response_headers

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0       # dialling and the TLS handshake
MAX_BODY = 3 * 1024 * 1024  # the request body limit of this server


@dataclass
class Backend:
    """What one proxied request needs: where, how to verify, and who asks."""

    endpoint: Endpoint
    ssl: object              # ssl.SSLContext


def unavailable(message: str) -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable(message)


async def _read_body(receive) -> bytes | None:
    """The whole request body (None when the caller went away)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body = message.get("body", b"")
        size += len(body)
        if size > MAX_BODY:
            raise errors.RequestEntityTooLarge("the request is too large")
        chunks.append(body)
        if not message.get("more_body"):
            return b"".join(chunks)


async def proxy_http(scope, receive, send, backend: Backend) -> None:
    try:
        body = await _read_body(receive)
    except errors.APIError as err:
        return await send_status(send, err)
    if body is None:
        return
    ep = backend.endpoint
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            ep.host, ep.port, ssl=backend.ssl, server_hostname=ep.server_name), CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as exc:
        return await send_status(send, unavailable(_dial_error(ep, exc)))
    conn = h11.Connection(h11.CLIENT)
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    headers = backend_headers(scope.get("headers") or [], scope.get("k8s.user"),
                              f"{ep.server_name}:{ep.port}")
    headers.append((b"content-length", str(len(body)).encode()))
    started = False
    watcher = asyncio.ensure_future(_until_disconnect(receive))
    try:
        writer.write(conn.send(h11.Request(method=scope["method"], target=target,
                                           headers=headers)))
        if body:
            writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                read = asyncio.ensure_future(reader.read(65536))
                done, _ = await asyncio.wait({read, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if watcher in done:            # the caller left: drop the backend stream
                    read.cancel()
                    return
                conn.receive_data(read.result())
                continue
            if isinstance(event, h11.Response):
                started = True
                await send({"type": "http.response.start", "status": event.status_code,
                            "headers": response_headers(event.headers)})
            elif isinstance(event, h11.Data):
                await send({"type": "http.response.body", "body": bytes(event.data),
                            "more_body": True})
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
    except (OSError, h11.ProtocolError, asyncio.IncompleteReadError) as exc:
        if not started:
            return await send_status(send, unavailable(_dial_error(ep, exc)))
        # mid-stream: end the response; the caller sees a truncated stream, as upstream
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()
        writer.close()


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _dial_error(ep: Endpoint, exc) -> str:
    # upstream (pkg/util/proxy): "error trying to reach service: <dial error>"
    detail = getattr(exc, "strerror", None) or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError):
        detail = "i/o timeout"
    return f"error trying to reach service: dial tcp {ep.host}:{ep.port}: {detail}"


async def proxy_websocket(scope, receive, send, backend: Backend) -> None:
    ep = backend.endpoint
    path = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        path += b"?" + scope["query_string"]
    uri = f"wss://{ep.host}:{ep.port}{path.decode('latin-1')}"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in backend_headers(
        scope.get("headers") or [], scope.get("k8s.user"), f"{ep.server_name}:{ep.port}")
        if k not in (b"host", b"sec-websocket-protocol", b"origin")]
    try:
        upstream = await ws_connect(uri, ssl=backend.ssl, server_hostname=ep.server_name,
                                    additional_headers=headers,
                                    subprotocols=scope.get("subprotocols") or None,
                                    open_timeout=CONNECT_TIMEOUT, max_size=None,
                                    compression=None, ping_interval=None)
    except (OSError, asyncio.TimeoutError, InvalidStatus, WebSocketException) as exc:
        return await send_status(send, unavailable(_dial_error(ep, exc)), scope)
    await receive()                                           # websocket.connect
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

    async def to_backend():
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            await upstream.send(data if data is not None else message.get("text", ""))

    async def to_client():
        try:
            async for data in upstream:
                key = "bytes" if isinstance(data, bytes) else "text"
                await send({"type": "websocket.send", key: data})
        except ConnectionClosed:
            pass

    tasks = [asyncio.ensure_future(to_backend()), asyncio.ensure_future(to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await upstream.close()
        try:
            await send({"type": "websocket.close", "code": 1000})
        except Exception:          # the caller's socket is gone already
            pass
