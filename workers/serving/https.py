"""``HttpsServer``: one ASGI app on uvicorn over TLS, started and stopped on the running loop.

uvicorn's ``Server.serve`` installs signal handlers and ticks ten times a second; a process
running a hundred simulated kubelets wants neither, so this drives ``startup`` and
``shutdown`` itself (the caller owns the process's signals).  uvicorn does not publish the
peer certificate in the scope, so the protocol classes read it once per connection from the
TLS object (the handshake has verified it against ``client_ca_files`` by then) and put its
DER bytes under ``scope["extensions"]["tls"]["client_cert_der"]`` and its subject (a list of
``{attribute: value}``, as ``ssl`` decodes it) under ``"client_subject"``.

Upgrades other than websocket (SPDY/3.1 for the kubelet's exec, attach and port-forward)
are plain HTTP to uvicorn, which would answer the 101 and then drop the connection's bytes.
For such a request (``Connection: Upgrade`` with an ``Upgrade`` that is not websocket) the
scope carries ``scope["extensions"]["http.hijack"]["hijack"]``: called with the raw
response head (``b"HTTP/1.1 101 Switching Protocols\r\n…\r\n\r\n"``) instead of any
``http.response.*`` message, it writes the head, takes the connection away from uvicorn
(the bytes the client sent after its request included) and returns an
``(asyncio.StreamReader, asyncio.StreamWriter)`` pair the app owns from then on: uvicorn
sends nothing more on it, and the app closes the writer when done; a server shutdown closes
the connection (the app's reader sees EOF).  An upgrade request the
app answers with an ordinary response instead has its connection closed after it.

Websocket subprotocols reach the scope as the client wrote them, also those that are not
RFC 7230 tokens (kubectl's ``SPDY/3.1+portforward.k8s.io``).

A ``port`` of 0 binds a free port; ``port`` then tells which one (the kubelet reports it as
``daemonEndpoints.kubeletEndpoint``).
"""
from __future__ import annotations

import asyncio
import logging
import ssl

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, httptools
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger(__name__)


def _with_peer(app, transport):
    """``app`` with the connection's verified peer certificate added to each scope."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return app
    # the decoded subject too: a server with one client CA needs no X.509 parsing of its own
    subject = [dict(rdn) for rdn in ssl_object.getpeercert().get("subject", ())]
    tls = {"client_cert_der": der, "client_subject": subject}

    async def tagged(scope, receive, send):
        scope.setdefault("extensions", {})["tls"] = tls
        return await app(scope, receive, send)
    return tagged


class _HijackedProtocol(asyncio.StreamReaderProtocol):
    """A taken-over connection's protocol: asyncio streams, and the uvicorn protocol it
    came from forgotten by the server once the connection is gone."""

    def __init__(self, reader, owner):
        super().__init__(reader)
        self._owner = owner

    def connection_lost(self, exc):
        self._owner.connections.discard(self._owner)
        super().connection_lost(exc)


class _PeerHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the peer certificate and the ``http.hijack``
    extension (see the module docstring)."""

    _upgraded: bytearray | None = None        # bytes after a non-websocket upgrade request
    _hijacked = False

    def connection_made(self, transport):
        super().connection_made(transport)
        self.app = _with_peer(self.app, transport)

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:        # upgraded, the app has not taken it over yet
            self._upgraded += data
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            return super().send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade as exc:
            if self._should_upgrade():
                return self.handle_websocket_upgrade()
            # the request is complete (its ASGI task is running); what follows belongs to
            # the upgraded protocol
            self._upgraded = bytearray(data[exc.args[0]:] if exc.args else b"")

    def shutdown(self) -> None:
        if self._hijacked:            # the server stops: the app's connection ends (EOF)
            self.transport.close()
            return
        super().shutdown()

    def on_response_complete(self) -> None:
        if self._upgraded is not None:
            # an upgrade the app refused with a plain response: the bytes after the request
            # belong to no HTTP request, so the connection ends here
            self.transport.close()
            return
        super().on_response_complete()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        upgrade = self._get_upgrade() if self.parser.should_upgrade() else None
        if upgrade and upgrade != b"websocket" and self.cycle is not None:
            cycle = self.cycle
            self.scope.setdefault("extensions", {})["http.hijack"] = {
                "hijack": lambda head: self._hijack(cycle, head)}

    def _hijack(self, cycle, head: bytes):
        if cycle.response_started or cycle.disconnected or self.transport.is_closing():
            raise ConnectionError("the connection cannot be taken over")
        # uvicorn must neither answer nor close this connection any more; it stays in the
        # server's connections so that a shutdown closes it (``shutdown`` below)
        cycle.response_started = cycle.response_complete = True
        cycle.keep_alive = False
        self._hijacked = True
        self._unset_keepalive_if_required()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2 ** 24)
        protocol = _HijackedProtocol(reader, self)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        writer = asyncio.StreamWriter(self.transport, protocol, reader, loop)
        writer.write(head)
        if self._upgraded:
            reader.feed_data(bytes(self._upgraded))
        self._upgraded = bytearray()
        self.flow.resume_reading()
        return reader, writer


class _PeerWebSocket(WebSocketsSansIOProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ``websockets`` parses Sec-WebSocket-Protocol as RFC 7230 tokens and answers 400
        # to kubectl's tunnelled port-forward, ``SPDY/3.1+portforward.k8s.io`` ("/" is not
        # a token character).  uvicorn splits the header for the scope itself and answers
        # with the protocol the app accepts, so the library's own parse is skipped.
        self.conn.process_subprotocol = lambda headers: None

    def connection_made(self, transport):
        super().connection_made(transport)
        self.app = _with_peer(self.app, transport)


def server_ssl_context(cert_file: str, key_file: str, client_ca_files=()) -> ssl.SSLContext:
    """TLS 1.2+ with the serving pair; client certificates are asked for and verified against
    ``client_ca_files`` but optional (a caller without one may still bring a bearer token)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    cas = [p for p in client_ca_files if p]
    for path in cas:
        ctx.load_verify_locations(path)
    if cas:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


class HttpsServer:
    """See the module docstring.  ``await start()``, then ``await stop()``."""

    def __init__(self, app, host: str, port: int, cert_file: str, key_file: str,
                 client_ca_files=(), name: str = "https"):
        self.name = name
        self.config = uvicorn.Config(
            app, host=host, port=port, http=_PeerHttp, ws=_PeerWebSocket,
            lifespan="off", interface="asgi3", access_log=False, log_level="warning",
            proxy_headers=False, date_header=False, timeout_graceful_shutdown=2,
            ssl_certfile=cert_file, ssl_keyfile=key_file)
        self.config.load()
        # uvicorn builds its own context from the file names; ours asks for client certs
        self.config.ssl = server_ssl_context(cert_file, key_file, client_ca_files)
        self.server = uvicorn.Server(self.config)
        self.port = port

    async def start(self) -> None:
        # what ``Server._serve`` does before ``startup`` (lifespan is "off": a no-op)
        self.server.lifespan = self.config.lifespan_class(self.config)
        try:
            await self.server.startup()
        except SystemExit:
            # uvicorn's startup calls sys.exit() when it cannot bind; here that must not end
            # a process serving other kubelets, so it is the OSError callers expect
            self.server.started = False
        if not self.server.started:
            raise OSError(f"{self.name}: cannot listen on {self.config.host}:{self.config.port}")
        sockets = [s for srv in self.server.servers for s in srv.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server.started:
            self.server.should_exit = True
            await self.server.shutdown()
