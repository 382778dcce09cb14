"""In-process HTTP against the real handler chain: an ASGI call per request, no socket.

``ASGIClient(app)`` sends a request through the filters and the server chain exactly as
uvicorn would, with the client-certificate subject uvicorn puts in the scope (default: a
``system:masters`` user).  Views run inline in the test's thread (``InlineExecutor``) on the
test's own database connection, so they see — and write into — the test's transaction.
For the duration of a call: Django's guard against ORM calls from a thread running an event
loop is lifted; the event loop's context is given the test's connection (Django keeps
connections per async context, and ``asyncio.run`` starts a fresh one); and the bridge's
per-request connection clean-up is skipped (it would close the test's connection, which is
inside a transaction).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
from urllib.parse import urlencode

import orjson

MASTERS = (("commonName", "tester"), ("organizationName", "system:masters"))


class InlineExecutor(concurrent.futures.Executor):
    """Runs each submitted call at once, in the submitting thread."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:   # handed to the awaiting code, as a pool would
            future.set_exception(exc)
        return future


def _keep_connection() -> None:
    """The bridge's clean-up while a test's transaction owns the connection: nothing."""


class Response:
    def __init__(self, status: int, headers: list, body: bytes):
        self.status_code = status
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        self.content = body

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self):
        return orjson.loads(self.content)


class ASGIClient:
    def __init__(self, app, subject=MASTERS):
        self.app = app
        self.subject = subject

    async def acall(self, method: str, path: str, body: bytes = b"", headers=None,
                    query: dict | str | None = None) -> Response:
        qs = query if isinstance(query, str) else urlencode(query or {}, doseq=True)
        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
                 "query_string": qs.encode(), "headers": raw, "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 6443), "extensions": {}}
        if self.subject:
            scope["extensions"]["tls"] = {"k8s.subject": self.subject,
                                          "k8s.verified_by": frozenset({"client-ca"})}
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        out = {"status": 0, "headers": [], "body": b""}

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"], out["headers"] = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")
        await self.app(scope, receive, send)
        return Response(out["status"], out["headers"], out["body"])

    def request(self, method, path, body=b"", headers=None, query=None) -> Response:
        if isinstance(body, (dict, list)):
            body = orjson.dumps(body)
            headers = {"content-type": "application/json", **(headers or {})}
        from django.db import connections

        from apiserver.server import bridge

        conn = connections["default"]

        async def call():
            connections["default"] = conn          # this context uses the test's connection
            return await self.acall(method, path, body, headers, query)
        saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        saved_cleanup = bridge.close_old_connections
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        bridge.close_old_connections = _keep_connection
        try:
            return asyncio.run(call())
        finally:
            bridge.close_old_connections = saved_cleanup
            if saved is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved

    def get(self, path, headers=None, query=None):
        return self.request("GET", path, headers=headers, query=query)

    def post(self, path, body, headers=None, query=None):
        return self.request("POST", path, body, headers, query)

    def put(self, path, body, headers=None, query=None):
        return self.request("PUT", path, body, headers, query)

    def patch(self, path, body, content_type, query=None):
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.request("PATCH", path, data, {"content-type": content_type}, query)

    def delete(self, path, body=b"", query=None):
        return self.request("DELETE", path, body, None, query)


def in_process_app(**config):
    """(completed config, ASGI app with every filter) over the test database."""
    from apiserver.server.handler_chain import build_handler_chain
    from tests.conftest import build_server

    config.setdefault("request_executor", InlineExecutor())
    completed, head = build_server(**config)
    return completed, build_handler_chain(head, completed)
