"""Test doubles for the client: a tiny scripted HTTP/1.1 server on asyncio streams."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict
    body: bytes
    connection: int             # 1-based number of the connection it arrived on
    index_on_connection: int    # 0 for the first request of a connection

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict:
        from urllib.parse import parse_qs
        return {k: v[-1] for k, v in parse_qs(self.target.partition("?")[2]).items()}


@dataclass
class FakeServer:
    """``respond(request, writer)`` writes raw response bytes and returns whether to keep the
    connection open for another request.  Every request is recorded in ``requests``."""

    respond: object
    ssl: object = None
    requests: list = field(default_factory=list)
    connections: int = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        scheme = "https" if self.ssl else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        try:
            await asyncio.wait_for(self.server.wait_closed(), 2)
        except asyncio.TimeoutError:
            pass

    async def _serve(self, reader, writer):
        self.connections += 1
        number, index = self.connections, 0
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                req = Request(method, target, headers, body, number, index)
                index += 1
                self.requests.append(req)
                keep = await self.respond(req, writer)
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def json_response(obj, status: int = 200, phrase: str = "OK", extra: str = "") -> bytes:
    body = json.dumps(obj).encode()
    return (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def chunked(*pieces: bytes, status: int = 200, trailers: str = "") -> bytes:
    out = [f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n".encode()]
    for p in pieces:
        out.append(f"{len(p):x}\r\n".encode() + p + b"\r\n")
    out.append(b"0\r\n" + trailers.encode() + b"\r\n")
    return b"".join(out)


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
