"""Writing a ``Status`` straight from ASGI code (filters answer before any view runs)."""
from __future__ import annotations

import orjson

from apiserver.runtime.errors import APIError


async def send_status(send, err: APIError) -> None:
    body = orjson.dumps(err.to_status())
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    for key, value in err.response_headers().items():
        headers.append((key.lower().encode(), str(value).encode()))
    await send({"type": "http.response.start", "status": err.code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
