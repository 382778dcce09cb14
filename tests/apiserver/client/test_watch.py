"""watch() over HTTP (scripted server) and websockets (a websockets test server)."""
from __future__ import annotations

import asyncio
import base64
import json

import pytest

from apiserver.client.kubeconfig import ClientConfig
from apiserver.client.rest import ApiError, AsyncClient
from apiserver.client.watch import watch

from .fakes import FakeServer, chunked, json_response, status


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def ev(kind, name, rv):
    return {"type": kind, "object": {"kind": "ConfigMap", "metadata": {
        "name": name, "namespace": "ns", "resourceVersion": str(rv)}}}


def line(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def test_http_watch_events_query_and_error_event():
    async def respond(req, w):
        if req.query.get("resourceVersion") == "1":
            w.write(chunked(line({"type": "ERROR", "object": status(
                410, "Expired", "too old resource version: 1 (9)")})))
        else:
            w.write(chunked(line(ev("ADDED", "a", 11)), line(ev("MODIFIED", "a", 12)),
                            line({"type": "BOOKMARK", "object": {"metadata": {
                                "resourceVersion": "13"}}}), line(ev("DELETED", "a", 14))))
        return True

    async def main():
        async with FakeServer(respond) as srv:
            async with AsyncClient(ClientConfig(server=srv.url)) as c:
                got = [(e["type"], e["object"]["metadata"]["resourceVersion"])
                       async for e in watch(c, "/api/v1/namespaces/ns/configmaps",
                                            {"labelSelector": "a=b"}, "10", timeout_seconds=30)]
                assert got == [("ADDED", "11"), ("MODIFIED", "12"), ("BOOKMARK", "13"),
                               ("DELETED", "14")]
                assert srv.requests[0].query == {
                    "labelSelector": "a=b", "watch": "true", "resourceVersion": "10",
                    "allowWatchBookmarks": "true", "timeoutSeconds": "30"}
                with pytest.raises(ApiError) as e:
                    async for _ in watch(c, "/api/v1/namespaces/ns/configmaps", None, "1"):
                        pass
                assert (e.value.status, e.value.reason) == (410, "Expired")
    run(main())


def test_http_watch_refused():
    async def respond(req, w):
        w.write(json_response(status(403, "Forbidden", "no"), 403, "Forbidden"))
        return True

    async def main():
        async with FakeServer(respond) as srv:
            async with AsyncClient(ClientConfig(server=srv.url)) as c:
                with pytest.raises(ApiError) as e:
                    async for _ in watch(c, "/api/v1/pods"):
                        pass
                assert e.value.status == 403
    run(main())


def test_unknown_transport():
    async def main():
        c = AsyncClient(ClientConfig(server="http://127.0.0.1:1"))
        with pytest.raises(ValueError):
            async for _ in watch(c, "/x", transport="carrier-pigeon"):
                pass
    run(main())


@pytest.mark.parametrize("offer_base64", [False, True])
def test_websocket_watch(offer_base64):
    from websockets.asyncio.server import serve
    seen = {}

    async def handler(ws):
        seen["path"] = ws.request.path
        seen["auth"] = ws.request.headers.get("Authorization")
        seen["subprotocol"] = ws.subprotocol
        for e in (ev("ADDED", "a", 5), ev("DELETED", "a", 6)):
            text = json.dumps(e)
            await ws.send(base64.b64encode(text.encode()).decode() if ws.subprotocol else text)
        await ws.close()

    async def main():
        pick = lambda conn, offered: "base64.binary.k8s.io" if offered else None  # noqa: E731
        async with serve(handler, "127.0.0.1", 0, select_subprotocol=pick) as server:
            port = server.sockets[0].getsockname()[1]
            async with AsyncClient(ClientConfig(server=f"http://127.0.0.1:{port}",
                                                token="tk")) as c:
                got = [(e["type"], e["object"]["metadata"]["name"]) async for e in watch(
                    c, "/api/v1/pods", None, "4", transport="websocket",
                    base64_subprotocol=offer_base64)]
        assert got == [("ADDED", "a"), ("DELETED", "a")]
        assert seen["auth"] == "Bearer tk"
        assert seen["path"].startswith("/api/v1/pods?watch=true&resourceVersion=4")
        assert seen["subprotocol"] == ("base64.binary.k8s.io" if offer_base64 else None)
    run(main())


def test_websocket_handshake_refused_is_an_api_error():
    from websockets.asyncio.server import serve
    from websockets.http11 import Response
    from websockets.datastructures import Headers

    def refuse(conn, request):
        body = json.dumps(status(401, "Unauthorized", "Unauthorized")).encode()
        return Response(401, "Unauthorized", Headers({"Content-Type": "application/json",
                                                      "Content-Length": str(len(body))}), body)

    async def handler(ws):
        await ws.close()

    async def main():
        async with serve(handler, "127.0.0.1", 0, process_request=refuse) as server:
            port = server.sockets[0].getsockname()[1]
            async with AsyncClient(ClientConfig(server=f"http://127.0.0.1:{port}")) as c:
                with pytest.raises(ApiError) as e:
                    async for _ in watch(c, "/api/v1/pods", transport="websocket"):
                        pass
                assert (e.value.status, e.value.reason) == (401, "Unauthorized")
    run(main())
