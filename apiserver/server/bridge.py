"""The bridge from ASGI to Django views, with one fixed pool of request threads.

Django's own ``ASGIHandler`` gives every request a fresh thread context (and so a fresh
database connection) and spools every body to a temporary file.  Here a fixed pool of
threads each keeps its connection, and the body is read into memory under the 3 MiB limit
(upstream ``MaxRequestBodyBytes``), refused with 413 *while* it is being read, chunked or not.
"""
from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections

from apiserver.runtime import errors
from apiserver.endpoints.responses import send_status

MAX_BODY_BYTES = 3 * 1024 * 1024


async def read_body(receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The whole request body, or None when the client went away.  Raises 413 past ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise errors.RequestEntityTooLarge(f"Request entity too large: limit is {limit}")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def send_response(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


PRIORITY_THREADS = 2


def _priority(scope) -> bool:
    """coordination.k8s.io Leases: node heartbeats and leader elections.  Upstream's default
    API Priority and Fairness serves them in priority levels of their own (node-high,
    leader-election); here they get a lane of their own threads, so a queue of workload
    requests never delays a renewal past its deadline (a node would turn NotReady, a
    scheduler or controller manager lose its lease and exit)."""
    info = scope.get("k8s.request_info")
    return info is not None and info.api_group == "coordination.k8s.io" and \
        info.resource == "leases"


class DjangoBridge:
    """ASGI app running Django's URL routing and views on a fixed thread pool, with a small
    second pool for Lease requests (``_priority``)."""

    def __init__(self, threads: int = 8, executor=None):
        self.handler = BaseHandler()
        self.handler.load_middleware(is_async=False)
        # ``executor``: tests run views inline, in their own thread and transaction
        self.pool = executor or ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")
        self.priority_pool = executor or ThreadPoolExecutor(
            max_workers=PRIORITY_THREADS, thread_name_prefix="request-priority")

    def _run(self, scope, body: bytes):
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            return self.handler.get_response(request)
        finally:
            # keep the thread's connection unless it broke or aged out (CONN_MAX_AGE)
            close_old_connections()

    async def __call__(self, scope, receive, send):
        try:
            body = await read_body(receive)
        except errors.APIError as err:
            return await send_status(send, err)
        if body is None:
            return
        loop = asyncio.get_running_loop()
        pool = self.priority_pool if _priority(scope) else self.pool
        response = await loop.run_in_executor(pool, self._run, scope, body)
        headers = [(b"content-type", response["Content-Type"].encode("latin-1"))] \
            if response.has_header("Content-Type") else []
        for key, value in response.items():
            if key.lower() != "content-type":
                headers.append((key.encode("latin-1"), str(value).encode("latin-1")))
        content = response.content if not response.streaming else b"".join(response.streaming_content)
        headers.append((b"content-length", str(len(content)).encode()))
        await send_response(send, response.status_code, headers, content)
