"""The one place ASGI code (filters, watch streams, the server chain) turns an error into a
``Status`` response; views go through the DRF exception handler in ``exceptions.py``."""
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
