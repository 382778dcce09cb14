"""The one place ASGI code (filters, watch streams, the server chain) turns an error into a
``Status`` response; views go through the DRF exception handler in ``exceptions.py``."""
from __future__ import annotations

import orjson

from apiserver.runtime.errors import APIError


async def send_status(send, err: APIError, scope=None) -> None:
    """``err`` as a Status response.  On a websocket that is not accepted yet, the same
    HTTP response where the server offers the ASGI websocket denial-response extension,
    else a close (the server then refuses the upgrade with 403)."""
    body = orjson.dumps(err.to_status())
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    for key, value in err.response_headers().items():
        headers.append((key.lower().encode(), str(value).encode()))
    prefix = "http"
    if scope is not None and scope.get("type") == "websocket":
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        prefix = "websocket.http"
    await send({"type": f"{prefix}.response.start", "status": err.code, "headers": headers})
    await send({"type": f"{prefix}.response.body", "body": body})
