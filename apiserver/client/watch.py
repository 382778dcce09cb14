"""Watching a collection over HTTP (chunked JSON lines) or websockets.

Contract of ``watch(client, path, params, resource_version, *, transport=...)``:

* An async iterator of event dicts ``{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK",
  "object": {...}}`` in server order, for the collection at ``path`` (e.g.
  ``/api/v1/namespaces/ns/pods``).  ``params`` adds selectors; ``watch=true``,
  ``resourceVersion``, ``allowWatchBookmarks`` and ``timeoutSeconds`` are set from the
  arguments.  ``resource_version=None`` asks for the current state as synthetic ADDED events
  first, as kube-apiserver does for an unset or "0" resourceVersion
  (kubernetes/apiserver:pkg/storage/cacher/watch_cache.go, ``getAllEventsSinceLocked``).
* An ``ERROR`` event raises ``ApiError`` built from its Status (410 ``Expired`` when the
  requested resourceVersion was compacted: the caller must list again); so does a non-2xx
  answer to the request or a refused websocket handshake.
* The iterator ends when the server ends the stream (``timeoutSeconds``, or a watcher that
  fell behind); the caller resumes from the last resourceVersion it saw.  A dropped
  connection raises ``OSError``/``ConnectionError``; ``read_timeout`` seconds without any data
  raise ``asyncio.TimeoutError``.  Leaving the loop early (or ``aclose()``) closes the
  connection.
* ``transport="websocket"`` uses the ``websockets`` package with the client's TLS context and
  ``Authorization`` header; each message is one event, plain or (when the server picked the
  ``base64.binary.k8s.io`` subprotocol) base64-encoded.

Standard library, orjson and (lazily) websockets only (no Django: tests/test_layering.py).
"""
from __future__ import annotations

import asyncio
import base64
from contextlib import aclosing

import orjson

from apiserver.client.rest import ApiError, AsyncClient

BASE64_PROTOCOL = "base64.binary.k8s.io"
TRANSPORTS = ("http", "websocket")
MAX_MESSAGE = 64 << 20          # one event; objects are capped far below this server-side


def watch_params(params: dict | None, resource_version: str | None, *,
                 allow_bookmarks: bool = True, timeout_seconds: float | None = None) -> dict:
    """The query of a watch request (``params`` first, watch options on top)."""
    q = dict(params or {})
    q["watch"] = "true"
    if resource_version not in (None, ""):
        q["resourceVersion"] = str(resource_version)
    if allow_bookmarks:
        q["allowWatchBookmarks"] = "true"
    if timeout_seconds is not None:
        q["timeoutSeconds"] = str(int(timeout_seconds))
    return q


async def watch(client: AsyncClient, path: str, params: dict | None = None,
                resource_version: str | None = None, *, transport: str = "http",
                allow_bookmarks: bool = True, timeout_seconds: float | None = None,
                read_timeout: float | None = None, base64_subprotocol: bool = False):
    """Async iterator of watch events; see the module docstring."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
    q = watch_params(params, resource_version, allow_bookmarks=allow_bookmarks,
                     timeout_seconds=timeout_seconds)
    if transport == "http":
        source = client.request_stream(path, q, read_timeout=read_timeout)
    else:
        source = _websocket_messages(client, path, q, read_timeout, base64_subprotocol)
    async with aclosing(source) as messages:
        async for raw in messages:
            event = orjson.loads(raw)
            if not isinstance(event, dict):
                raise ValueError(f"watch event is not an object: {raw[:200]!r}")
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                raise ApiError.from_status(status if isinstance(status, dict) else {})
            yield event


async def _websocket_messages(client: AsyncClient, path: str, query: dict,
                              read_timeout: float | None, offer_base64: bool):
    """Yield each websocket message as bytes (base64-decoded if that subprotocol won)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException

    headers = client.headers()
    user_agent = headers.pop("User-Agent", None)
    kw = {"additional_headers": headers, "user_agent_header": user_agent,
          "subprotocols": [BASE64_PROTOCOL] if offer_base64 else None,
          "max_size": MAX_MESSAGE, "open_timeout": client.timeout, "close_timeout": 2,
          "compression": None}
    ssl_ctx = client.config.ssl_context()
    if ssl_ctx is not None:
        kw.update(ssl=ssl_ctx, server_hostname=client.config.server_hostname)
    try:
        ws = await connect(client.url(path, query, websocket=True), **kw)
    except InvalidStatus as exc:
        r = exc.response
        raise ApiError.from_response(r.status_code, r.reason_phrase, r.body or b"",
                                     {k.lower(): v for k, v in r.headers.raw_items()}) from None
    except WebSocketException as exc:
        raise ConnectionError(f"websocket handshake failed: {exc}") from exc
    try:
        encoded = ws.subprotocol == BASE64_PROTOCOL
        while True:
            try:
                msg = await (asyncio.wait_for(ws.recv(), read_timeout) if read_timeout
                             else ws.recv())
            except ConnectionClosedOK:
                return
            except WebSocketException as exc:       # closed abnormally, protocol error
                raise ConnectionError(f"websocket watch failed: {exc}") from exc
            data = msg.encode() if isinstance(msg, str) else msg
            yield base64.b64decode(data) if encoded else data
    finally:
        await ws.close()
