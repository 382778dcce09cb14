"""An asyncio HTTP/1.1 JSON client for the Kubernetes REST API.

Contract:

* ``AsyncClient(config)`` talks to ``config.server`` (a ``ClientConfig``) over
  ``asyncio.open_connection`` with the config's TLS context and ``Authorization`` header.  No
  call blocks the event loop; the only file reads happen when the TLS context is first built
  and when a ``tokenFile`` is refreshed (once a minute).
* Connections are kept alive and reused (an idle pool of ``max_idle``); each concurrent
  request uses its own connection.  A request that fails on a *reused* connection before any
  response byte arrived (the server closed it while idle) is retried once on a new one.
* Responses are framed by ``Transfer-Encoding: chunked``, ``Content-Length``, or the
  connection closing (such a connection is then not reused; neither is one after
  ``Connection: close``).
* ``get``/``list``/``create``/``update``/``patch``/``delete`` return the decoded JSON body
  (a dict).  Any status >= 400 raises ``ApiError(status, reason, message, body)`` parsed from
  the ``Status`` object (or the raw body when it is not one).  ``OSError``/``asyncio``
  timeouts propagate for transport failures.
* ``request_stream`` answers a streaming GET (watch) as an async iterator of lines (bytes
  without the trailing newline; blank lines skipped).  Closing the iterator early closes its
  connection; a stream that ends cleanly returns its connection to the pool.

Standard library + orjson only (no Django: tests/test_layering.py).
"""
from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit

import orjson

from apiserver.client.errors import ApiError
from apiserver.client.kubeconfig import ClientConfig

__all__ = ["ApiError", "AsyncClient", "Response", "encode_params"]

READ_LIMIT = 1 << 20               # StreamReader buffer: longest header line we accept
DEFAULT_TIMEOUT = 60.0


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        try:
            self.writer.close()
        except (OSError, RuntimeError):
            pass


class _Stale(Exception):
    """A reused connection died before the response started: safe to retry once."""


class Response:
    """Status line + headers; the body is read through ``pieces()``."""

    def __init__(self, conn: _Conn, method: str, status: int, phrase: str, version: str,
                 headers: dict[str, str], read_timeout: float | None):
        self.conn, self.method, self.status, self.phrase = conn, method, status, phrase
        self.headers, self.read_timeout = headers, read_timeout
        conn_hdr = headers.get("connection", "").lower()
        self.keep_alive = ("close" not in conn_hdr if version == "HTTP/1.1"
                           else "keep-alive" in conn_hdr)
        self.complete = False
        self.body = b""             # filled in by AsyncClient.request

    async def _io(self, awaitable):
        if self.read_timeout is None:
            return await awaitable
        return await asyncio.wait_for(awaitable, self.read_timeout)

    async def pieces(self):
        """Yield the body in the pieces it arrives in, honouring its framing."""
        r = self.conn.reader
        if self.method == "HEAD" or self.status in (204, 304):
            self.complete = True
            return
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                line = await self._io(r.readline())
                if not line.endswith(b"\n"):
                    raise asyncio.IncompleteReadError(line, None)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (await self._io(r.readline())) not in (b"\r\n", b"\n"):
                        pass                # trailers (ignored); b"" means EOF: also stop
                    self.complete = True
                    return
                data = await self._io(r.readexactly(size))
                await self._io(r.readexactly(2))       # CRLF after the chunk
                yield data
        elif "content-length" in self.headers:
            left = int(self.headers["content-length"])
            while left > 0:
                data = await self._io(r.read(min(left, 1 << 16)))
                if not data:
                    raise asyncio.IncompleteReadError(b"", left)
                left -= len(data)
                yield data
            self.complete = True
        else:                                          # delimited by the connection closing
            self.keep_alive = False
            while data := await self._io(r.read(1 << 16)):
                yield data
            self.complete = True

    async def read(self) -> bytes:
        return b"".join([p async for p in self.pieces()])


def encode_params(params: dict | None) -> str:
    """Query string: booleans as ``true``/``false``, ``None`` dropped, lists repeated."""
    if not params:
        return ""
    items = []
    for key, value in params.items():
        if value is None:
            continue
        for v in (value if isinstance(value, (list, tuple)) else (value,)):
            items.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return urlencode(items)


class AsyncClient:
    """See the module docstring.  Use as ``async with AsyncClient(cfg) as c: ...``."""

    def __init__(self, config: ClientConfig, *, timeout: float = DEFAULT_TIMEOUT,
                 max_idle: int = 8):
        self.config = config
        u = urlsplit(config.server)
        if u.scheme not in ("http", "https"):
            raise ValueError(f"unsupported server URL {config.server!r}")
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.netloc, self.prefix = u.netloc, u.path.rstrip("/")
        self.timeout, self.max_idle = timeout, max_idle
        self._idle: list[_Conn] = []
        self._ssl = config.ssl_context()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    # ---- URLs and headers (shared with the websocket transport) ---------------------------
    def target(self, path: str, params: dict | None = None) -> str:
        query = encode_params(params)
        if not query:
            return self.prefix + path
        return self.prefix + path + ("&" if "?" in path else "?") + query

    def url(self, path: str, params: dict | None = None, *, websocket: bool = False) -> str:
        scheme = ("wss" if self.scheme == "https" else "ws") if websocket else self.scheme
        return f"{scheme}://{self.netloc}{self.target(path, params)}"

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": self.config.user_agent,
                **self.config.auth_headers()}

    # ---- connections ----------------------------------------------------------------------
    async def _connect(self) -> _Conn:
        kw = {}
        if self._ssl is not None:
            kw = {"ssl": self._ssl, "server_hostname": self.config.server_hostname}
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=READ_LIMIT, **kw)
        return _Conn(reader, writer)

    def _release(self, conn: _Conn, resp: Response) -> None:
        if resp.complete and resp.keep_alive and conn.usable() and len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    async def close(self) -> None:
        """Close idle connections (in-flight requests keep theirs until they finish)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            try:
                await asyncio.wait_for(conn.writer.wait_closed(), 1)
            except (OSError, asyncio.TimeoutError, RuntimeError):
                pass

    async def _open(self, method: str, path: str, params, body: bytes | None,
                    content_type: str | None, read_timeout: float | None,
                    accept: str | None = None) -> Response:
        """Send a request and read the response head, retrying once on a stale connection."""
        hdrs = self.headers()
        if accept:
            hdrs["Accept"] = accept
        lines = [f"{method} {self.target(path, params)} HTTP/1.1", f"Host: {self.netloc}"]
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        if body is not None:
            lines += [f"Content-Type: {content_type or 'application/json'}",
                      f"Content-Length: {len(body)}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in (0, 1):
            conn = None
            while attempt == 0 and self._idle and conn is None:
                conn = self._idle.pop()
                if not conn.usable():
                    conn.close()
                    conn = None
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            try:
                try:
                    conn.writer.write(head + body if body else head)
                    await conn.writer.drain()
                except ConnectionError:
                    raise _Stale() from None
                return await self._read_head(conn, method, read_timeout)
            except _Stale:
                conn.close()
                if not reused:
                    raise ConnectionResetError("server closed the connection") from None
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    async def _read_head(self, conn: _Conn, method: str, read_timeout) -> Response:
        r = conn.reader
        while True:
            try:
                line = await (asyncio.wait_for(r.readline(), read_timeout) if read_timeout
                              else r.readline())
            except ConnectionError:
                line = b""
            if not line:            # no response byte yet: the request was not processed
                raise _Stale()
            version, _, rest = line.decode("latin-1").strip().partition(" ")
            code, _, phrase = rest.partition(" ")
            if not version.startswith("HTTP/") or not code.isdigit():
                raise ConnectionError(f"malformed status line {line[:100]!r}")
            headers: dict[str, str] = {}
            while (h := await r.readline()) not in (b"\r\n", b"\n"):
                if not h:
                    raise asyncio.IncompleteReadError(h, None)
                k, _, v = h.decode("latin-1").partition(":")
                k, v = k.strip().lower(), v.strip()
                headers[k] = f"{headers[k]}, {v}" if k in headers else v
            status = int(code)
            if 100 <= status < 200:
                continue                    # interim answer (100 Continue): the real one follows
            return Response(conn, method, status, phrase, version, headers, read_timeout)

    # ---- requests -------------------------------------------------------------------------
    async def request(self, method: str, path: str, params: dict | None = None,
                      body: bytes | None = None, content_type: str | None = None,
                      timeout: float | None = ..., accept: str | None = None) -> Response:
        """One request; returns the ``Response`` with its body read into ``.body``
        (``accept`` replaces the default ``Accept: application/json``)."""
        timeout = self.timeout if timeout is ... else timeout

        async def go():
            resp = await self._open(method, path, params, body, content_type, None, accept)
            try:
                resp.body = await resp.read()
            except BaseException:
                resp.conn.close()
                raise
            self._release(resp.conn, resp)
            return resp
        return await (asyncio.wait_for(go(), timeout) if timeout else go())

    async def request_json(self, method: str, path: str, params: dict | None = None,
                           obj=None, content_type: str | None = None,
                           accept: str | None = None) -> dict:
        body = None
        if obj is not None:
            body = obj if isinstance(obj, (bytes, bytearray)) else \
                (obj.encode() if isinstance(obj, str) else orjson.dumps(obj))
        resp = await self.request(method, path, params, body, content_type, accept=accept)
        if resp.status >= 400:
            raise ApiError.from_response(resp.status, resp.phrase, resp.body, resp.headers)
        if not resp.body:
            return {}
        try:
            return orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            raise ApiError(resp.status, "InvalidResponse", "the response body is not JSON",
                           resp.body, resp.headers) from None

    async def get(self, path: str, params: dict | None = None, *,
                  accept: str | None = None) -> dict:
        return await self.request_json("GET", path, params, accept=accept)

    async def list(self, path: str, params: dict | None = None) -> dict:
        """A collection GET.  With ``limit`` in ``params``, follows ``continue`` tokens and
        returns one list holding every page's items (metadata of the first page)."""
        result = await self.get(path, params)
        params = dict(params or {})
        token = (result.get("metadata") or {}).get("continue")
        while token:
            params["continue"] = token
            page = await self.get(path, params)
            result["items"] = (result.get("items") or []) + (page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
        meta = result.setdefault("metadata", {})
        if "continue" in meta:
            meta.pop("continue")
            meta.pop("remainingItemCount", None)
        return result

    async def create(self, path: str, obj: dict, params: dict | None = None) -> dict:
        """POST ``obj`` to a collection path."""
        return await self.request_json("POST", path, params, obj)

    async def update(self, path: str, obj: dict, params: dict | None = None) -> dict:
        """PUT ``obj`` to an object path (optimistic concurrency via its resourceVersion)."""
        return await self.request_json("PUT", path, params, obj)

    async def patch(self, path: str, body, content_type: str | None = None,
                    params: dict | None = None) -> dict:
        """PATCH an object.  ``content_type`` defaults to JSON patch for a list body and to
        ``application/merge-patch+json`` otherwise."""
        if content_type is None:
            content_type = ("application/json-patch+json" if isinstance(body, list)
                            else "application/merge-patch+json")
        return await self.request_json("PATCH", path, params, body, content_type)

    async def delete(self, path: str, options: dict | None = None,
                     params: dict | None = None) -> dict:
        """DELETE with optional ``DeleteOptions`` (the object or a Status is returned)."""
        return await self.request_json("DELETE", path, params, options)

    async def request_stream(self, path: str, params: dict | None = None, *,
                             read_timeout: float | None = None):
        """Async iterator over the lines of a streaming GET (watch, follow logs).

        Raises ``ApiError`` before the first line for a non-2xx answer, and
        ``asyncio.TimeoutError`` when nothing arrives for ``read_timeout`` seconds."""
        resp = await self._open("GET", path, params, None, None, read_timeout)
        try:
            if resp.status >= 300:
                body = await resp.read()
                raise ApiError.from_response(resp.status, resp.phrase, body, resp.headers)
            buf = b""
            async for piece in resp.pieces():
                if b"\n" not in piece:
                    buf += piece
                    continue
                *lines, rest = (buf + piece).split(b"\n")
                buf = rest
                for line in lines:
                    if line.strip():
                        yield line
            if buf.strip():
                yield buf
        except BaseException:
            resp.complete = False           # abandoned mid-body: the connection cannot be reused
            raise
        finally:
            if resp.complete:
                self._release(resp.conn, resp)
            else:
                resp.conn.close()
