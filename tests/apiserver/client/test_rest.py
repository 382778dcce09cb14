"""AsyncClient against a tiny scripted asyncio HTTP server: framing, keep-alive, errors."""
from __future__ import annotations

import asyncio
import base64
import json
import ssl

import pytest

from apiserver.client.kubeconfig import ClientConfig
from apiserver.client.rest import ApiError, AsyncClient, encode_params

from .fakes import FakeServer, chunked, json_response, status


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def client_for(srv, **kw) -> AsyncClient:
    return AsyncClient(ClientConfig(server=srv.url, token="t0k"), **kw)


def test_encode_params():
    assert encode_params({"watch": True, "x": False, "n": None, "limit": 5,
                          "labelSelector": "a=b,c in (d)", "l": ["1", "2"]}) == \
        "watch=true&x=false&limit=5&labelSelector=a%3Db%2Cc+in+%28d%29&l=1&l=2"


def test_content_length_keep_alive_and_request_headers():
    async def respond(req, w):
        w.write(json_response({"n": len(req.body), "path": req.target}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            for i in range(3):
                assert (await c.get("/api/v1/pods", {"limit": i}))["path"] == \
                    f"/api/v1/pods?limit={i}"
            assert srv.connections == 1
            req = srv.requests[0]
            assert req.method == "GET"
            assert req.headers["authorization"] == "Bearer t0k"
            assert req.headers["accept"] == "application/json"
            assert req.headers["host"] == f"127.0.0.1:{srv.port}"
    run(main())


def test_server_url_path_prefix_is_kept():
    async def respond(req, w):
        w.write(json_response({"target": req.target}))
        return True

    async def main():
        async with FakeServer(respond) as srv:
            async with AsyncClient(ClientConfig(server=srv.url + "/k8s/c1/")) as c:
                assert (await c.get("/api")) == {"target": "/k8s/c1/api"}
    run(main())


def test_chunked_with_extensions_and_trailers_then_reuse():
    async def respond(req, w):
        if req.index_on_connection == 0:
            body = chunked(b'{"items": [', b'1, 2', b"]}", trailers="X-Trailer: yes\r\n")
            assert b"4\r\n1, 2" in body
            w.write(body.replace(b"4\r\n1, 2", b"4;ext=1\r\n1, 2"))     # a chunk extension
        else:
            w.write(json_response({"second": True}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            assert await c.get("/a") == {"items": [1, 2]}
            assert await c.get("/b") == {"second": True}
            assert srv.connections == 1
    run(main())


def test_connection_close_delimited_body():
    async def respond(req, w):
        w.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"eof": ')
        await w.drain()
        w.write(b"true}")
        return False

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            assert await c.get("/x") == {"eof": True}
            assert await c.get("/x") == {"eof": True}
            assert srv.connections == 2 and not c._idle
    run(main())


def test_connection_close_header_is_honoured():
    async def respond(req, w):
        w.write(json_response({}, extra="Connection: close\r\n"))
        return True             # the server would keep it; the client must not reuse it

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            await c.get("/x")
            await c.get("/x")
            assert srv.connections == 2
    run(main())


def test_interim_100_continue_is_skipped():
    async def respond(req, w):
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n" + json_response({"ok": 1}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            assert await c.create("/x", {"a": 1}) == {"ok": 1}
    run(main())


def test_errors_are_parsed_from_status():
    async def respond(req, w):
        if req.path == "/missing":
            w.write(json_response(status(404, "NotFound", 'pods "web" not found'), 404,
                                  "Not Found"))
        elif req.path == "/busy":
            w.write(json_response(status(429, "TooManyRequests", "slow down"), 429,
                                  "Too Many Requests", extra="Retry-After: 3\r\n"))
        else:
            w.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\noops")
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            with pytest.raises(ApiError) as e:
                await c.get("/missing")
            assert (e.value.status, e.value.reason, e.value.message) == \
                (404, "NotFound", 'pods "web" not found')
            assert e.value.body["kind"] == "Status" and e.value.code == 404
            with pytest.raises(ApiError) as e:
                await c.delete("/busy")
            assert e.value.reason == "TooManyRequests" and e.value.retry_after == 3.0
            with pytest.raises(ApiError) as e:
                await c.get("/text")
            assert (e.value.status, e.value.reason, e.value.message) == (502, "Bad Gateway", "oops")
            assert srv.connections == 1          # error answers keep the connection too
    run(main())


def test_write_verbs_send_bodies_and_content_types():
    async def respond(req, w):
        w.write(json_response({"method": req.method, "ct": req.headers.get("content-type"),
                               "body": json.loads(req.body) if req.body else None}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            assert await c.create("/c", {"a": 1}) == \
                {"method": "POST", "ct": "application/json", "body": {"a": 1}}
            assert (await c.update("/c/x", {"b": 2}))["method"] == "PUT"
            assert (await c.patch("/c/x", {"c": 3}))["ct"] == "application/merge-patch+json"
            assert (await c.patch("/c/x", [{"op": "remove", "path": "/a"}]))["ct"] == \
                "application/json-patch+json"
            smp = "application/strategic-merge-patch+json"
            assert (await c.patch("/c/x", {"d": 4}, smp))["ct"] == smp
            r = await c.delete("/c/x", {"propagationPolicy": "Background"})
            assert r["method"] == "DELETE" and r["body"] == {"propagationPolicy": "Background"}
            assert (await c.delete("/c/x"))["body"] is None
    run(main())


def test_list_follows_continue_tokens():
    pages = {None: (["a", "b"], "t1"), "t1": (["c", "d"], "t2"), "t2": (["e"], "")}

    async def respond(req, w):
        items, nxt = pages[req.query.get("continue")]
        assert req.query["limit"] == "2"
        w.write(json_response({"kind": "PodList", "items": [{"n": i} for i in items],
                               "metadata": {"resourceVersion": "7", "continue": nxt,
                                            **({"remainingItemCount": 1} if nxt else {})}}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            got = await c.list("/api/v1/pods", {"limit": 2})
            assert [i["n"] for i in got["items"]] == list("abcde")
            assert got["metadata"] == {"resourceVersion": "7"}
    run(main())


def test_stale_pooled_connection_is_retried_once_on_a_new_one():
    async def respond(req, w):
        if req.index_on_connection == 1:
            return False        # closes without answering: a keep-alive race
        w.write(json_response({"conn": req.connection}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            assert await c.get("/x") == {"conn": 1}
            assert await c.create("/x", {"a": 1}) == {"conn": 2}
            assert srv.connections == 2
    run(main())


def test_fresh_connection_closed_without_answer_raises():
    async def respond(req, w):
        return False

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            with pytest.raises(ConnectionError):
                await c.get("/x")
            assert srv.connections == 1
    run(main())


def test_request_timeout():
    async def respond(req, w):
        await asyncio.sleep(5)
        return False

    async def main():
        async with FakeServer(respond) as srv, client_for(srv, timeout=0.2) as c:
            with pytest.raises(asyncio.TimeoutError):
                await c.get("/slow")
    run(main())


def test_request_stream_splits_lines_across_and_within_chunks():
    async def respond(req, w):
        if req.path == "/watch":
            w.write(chunked(b'{"n":1}\n{"n":2}\n', b'{"n"', b':3', b'}\n', b"\n", b'{"n":4}'))
        else:
            w.write(json_response({"after": True}))
        return True

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            lines = [json.loads(x) async for x in c.request_stream("/watch", {"watch": True})]
            assert lines == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]
            assert srv.requests[0].target == "/watch?watch=true"
            assert await c.get("/next") == {"after": True}
            assert srv.connections == 1          # a completed stream returns its connection
    run(main())


def test_request_stream_error_status_and_early_close():
    async def respond(req, w):
        if req.path == "/gone":
            w.write(json_response(status(410, "Expired", "too old"), 410, "Gone"))
            return True
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        w.write(b'8\r\n{"n":1}\n\r\n')
        await w.drain()
        await asyncio.sleep(3)
        return False

    async def main():
        async with FakeServer(respond) as srv, client_for(srv) as c:
            with pytest.raises(ApiError) as e:
                async for _ in c.request_stream("/gone"):
                    pass
            assert e.value.status == 410 and e.value.reason == "Expired"
            stream = c.request_stream("/slow")
            async for line in stream:
                assert line == b'{"n":1}'
                break
            await stream.aclose()
            assert not c._idle                   # abandoned mid-body: closed, not pooled
            with pytest.raises(asyncio.TimeoutError):
                async for _ in c.request_stream("/slow", read_timeout=0.3):
                    pass
    run(main())


def test_tls_with_client_certificate_from_inline_kubeconfig_data(tmp_path):
    from apiserver.pki import PKI
    pki = PKI(tmp_path).ensure()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
    server_ctx.load_verify_locations(pki.ca_cert)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    seen = []

    async def respond(req, w):
        peer = w.get_extra_info("peercert")
        seen.append(dict(x[0] for x in peer["subject"])["commonName"])
        w.write(json_response({"tls": True}))
        return True

    async def main():
        async with FakeServer(respond, ssl=server_ctx) as srv:
            b = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
            cfg = ClientConfig.from_dict({
                "current-context": "x",
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "clusters": [{"name": "c", "cluster": {
                    "server": srv.url, "certificate-authority-data": b(pki.ca_cert)}}],
                "users": [{"name": "u", "user": {"client-certificate-data": b(pki.admin_cert),
                                                 "client-key-data": b(pki.admin_key)}}]})
            async with AsyncClient(cfg) as c:
                assert await c.get("/x") == {"tls": True}
                assert await c.get("/x") == {"tls": True}
            assert seen == ["kubernetes-admin"] * 2 and srv.connections == 1
    run(main())
