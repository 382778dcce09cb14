"""HTTPS serving on uvicorn, with the verified client certificate exposed to the app.

uvicorn does not publish the peer certificate in the ASGI scope, so a small protocol
subclass reads it from the TLS object once per connection (after the handshake verified it
against the client CAs: ``--client-ca-file`` and ``--requestheader-client-ca-file``) and
puts its subject, validity and issuing CA pool into ``scope["extensions"]["tls"]``
(``apiserver.authentication.x509.CertificatePools``).

Taking over the connection (``scope["extensions"]["k8s.hijack"]``).  Streaming subresources
(pods/exec, attach, portforward, proxy) end in an upgrade the *kubelet* answers: the API
server must pass its ``101`` and every later byte through unchanged, for websockets and for
SPDY/3.1 alike (upstream apimachinery pkg/util/proxy/upgradeaware.go hijacks the client's
connection for this).  uvicorn answers websocket handshakes itself and serves any other
upgrade as plain HTTP, so both protocol classes here offer the app a ``k8s.hijack()``
callable on upgrade requests: once the filters and the handler have authenticated,
authorized and admitted the request, the app calls it and gets a :class:`RawConnection`
(the client's transport, with uvicorn out of the way: no handshake answer, no response, no
keep-alive, no pings).  A request that is refused instead is answered normally, and the
connection then closes (nothing the client sends after an upgrade request is ever parsed
as a second request: upstream CVE-2018-1002105).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections import deque

import httptools
import uvicorn
from websockets.exceptions import InvalidState
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from apiserver.authentication.x509 import CLIENT_CA, REQUESTHEADER_CA, CertificatePools

log = logging.getLogger("apiserver.serve")


def _peer(transport, pools: CertificatePools) -> dict | None:
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    # the handshake fails for a certificate no client CA verifies, so one present here is
    # verified; ``pools`` tells which CA issued it
    return pools.inspect(ssl_object.getpeercert(binary_form=True))


HIJACK = "k8s.hijack"
_READ_HIGH = 1 << 20            # pause reading the client past this many unread bytes
_READ_LOW = 1 << 18


class RawConnection:
    """A client connection the app took over: bytes in (``read``), bytes out (``write`` +
    ``drain``), ``close``.  The protocol feeds it; reading pauses while much is unread."""

    def __init__(self, transport, initial: bytes = b""):
        self.transport = transport
        self._chunks: deque = deque([initial] if initial else [])
        self._size = len(initial)
        self._eof = False
        self._paused = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    # ---- the protocol's side --------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(bytes(data))
        self._size += len(data)
        if self._size > _READ_HIGH and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._readable.set()

    def feed_eof(self) -> None:
        self._eof = True
        self._readable.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # ---- the app's side -------------------------------------------------------------------
    async def read(self) -> bytes:
        """The next bytes the client sent; b"" once it closed."""
        while not self._chunks:
            if self._eof:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self._size -= len(data)
        if self._paused and self._size < _READ_LOW:
            self._paused = False
            self.transport.resume_reading()
        return data

    def write(self, data: bytes) -> None:
        if data and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        await self._writable.wait()

    @property
    def closed(self) -> bool:
        return self._eof or self.transport.is_closing()

    def close(self) -> None:
        self.transport.close()


def protocols(pools: CertificatePools):
    """uvicorn protocol classes (HTTP, websocket) that describe the peer certificate and
    let the app take over an upgrade request's connection (see the module docstring)."""

    class ClientCertHttpToolsProtocol(HttpToolsProtocol):
        _k8s_raw: RawConnection | None = None
        _k8s_upgrading = False
        _k8s_tail = b""

        def connection_made(self, transport):
            super().connection_made(transport)
            self._k8s_peer = _peer(transport, pools)

        def on_message_begin(self):
            super().on_message_begin()
            if self._k8s_peer:
                self.scope["extensions"] = {"tls": dict(self._k8s_peer)}

        def on_headers_complete(self):
            super().on_headers_complete()
            if self._get_upgrade() is None or self._should_upgrade() or self.cycle is None \
                    or self.cycle.scope is not self.scope:
                return
            # an upgrade uvicorn does not speak (SPDY/3.1): served as HTTP, never kept
            # alive, and the app may take the connection over
            self._k8s_upgrading = True
            self.cycle.keep_alive = False
            self.scope.setdefault("extensions", {})[HIJACK] = functools.partial(
                self._k8s_hijack, self.cycle)

        def _k8s_hijack(self, cycle) -> RawConnection:
            if cycle.response_started or self._k8s_raw is not None:
                raise RuntimeError("the response has started; the connection cannot be taken over")
            cycle.response_started = cycle.response_complete = True
            cycle.on_response = lambda: None
            self._unset_keepalive_if_required()
            self._k8s_raw = RawConnection(self.transport, self._k8s_tail)
            self._k8s_tail = b""
            if self.transport.is_closing():
                self._k8s_raw.feed_eof()
            return self._k8s_raw

        def data_received(self, data):
            if self._k8s_raw is not None:
                return self._k8s_raw.feed(data)
            if self._k8s_upgrading:
                # after an upgrade request: kept for the app, never parsed as a request
                self._k8s_tail += data
                if len(self._k8s_tail) > _READ_HIGH:
                    self.transport.close()
                return
            self._unset_keepalive_if_required()
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            except httptools.HttpParserUpgrade as upgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                elif self._k8s_upgrading:
                    offset = upgrade.args[0] if upgrade.args else len(data)
                    self._k8s_tail += data[offset:]
                else:
                    self._unsupported_upgrade_warning()

        def connection_lost(self, exc):
            if self._k8s_raw is not None:
                self._k8s_raw.feed_eof()
            super().connection_lost(exc)

        def pause_writing(self):
            if self._k8s_raw is not None:
                self._k8s_raw.pause_writing()
            super().pause_writing()

        def resume_writing(self):
            if self._k8s_raw is not None:
                self._k8s_raw.resume_writing()
            super().resume_writing()

    class ClientCertWebSocketProtocol(WebSocketsSansIOProtocol):
        _k8s_raw: RawConnection | None = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._k8s_peer = _peer(transport, pools)

        async def run_asgi(self):
            extensions = self.scope.setdefault("extensions", {})
            if self._k8s_peer:
                extensions["tls"] = dict(self._k8s_peer)
            extensions[HIJACK] = self._k8s_hijack
            return await super().run_asgi()

        def _k8s_hijack(self) -> RawConnection:
            if self.handshake_complete or self.initial_response is not None:
                raise RuntimeError("the handshake was answered; the connection cannot be taken over")
            # uvicorn answers nothing from here on: no 101 of its own, no pings, no close
            self.handshake_complete = self.close_sent = True
            self.stop_keepalive()
            self._k8s_raw = RawConnection(self.transport)
            if self.disconnected:
                self._k8s_raw.feed_eof()
            return self._k8s_raw

        async def send(self, message):
            await super().send(message)
            if message.get("type") == "websocket.http.response.body" and \
                    not message.get("more_body"):
                # a refused handshake is complete: uvicorn would log it as unanswered
                self.handshake_complete = True

        def data_received(self, data):
            if self._k8s_raw is not None:
                return self._k8s_raw.feed(data)
            return super().data_received(data)

        def connection_lost(self, exc):
            if self._k8s_raw is not None:
                self._k8s_raw.feed_eof()
            super().connection_lost(exc)

        def shutdown(self):
            if self._k8s_raw is not None:
                self.transport.close()
                return
            super().shutdown()

        def pause_writing(self):
            if self._k8s_raw is not None:
                self._k8s_raw.pause_writing()
            super().pause_writing()

        def resume_writing(self):
            if self._k8s_raw is not None:
                self._k8s_raw.resume_writing()
            super().resume_writing()

    return ClientCertHttpToolsProtocol, ClientCertWebSocketProtocol


def ssl_context(cert_file: str, key_file: str, client_ca_files) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    for path in client_ca_files:
        ctx.load_verify_locations(path)
    if client_ca_files:
        ctx.verify_mode = ssl.CERT_OPTIONAL     # no certificate: other authenticators decide
    return ctx


class APIServer(uvicorn.Server):
    """uvicorn's server, ending open watches first on shutdown: a watch is long-running, so
    draining would otherwise wait for every watcher's timeout.  Clients resume elsewhere."""

    def __init__(self, config, cacher=None):
        super().__init__(config)
        self.cacher = cacher

    async def shutdown(self, sockets=None):
        if self.cacher is not None:
            await self.cacher.stop()
        # a websocket its client is closing at this very moment needs no close frame of
        # ours; uvicorn's sans-I/O websocket shutdown raises InvalidState for it and would
        # leave the other connections unclosed
        for connection in list(self.server_state.connections):
            connection.shutdown = _tolerant(connection.shutdown)
        await super().shutdown(sockets=sockets)


def _tolerant(shutdown):
    def call():
        try:
            shutdown()
        except InvalidState:
            pass
    return call


def build_server(app, options, cert_file: str, key_file: str, client_ca_file: str,
                 cacher=None) -> uvicorn.Server:
    pools = CertificatePools({CLIENT_CA: client_ca_file,
                              REQUESTHEADER_CA: options.requestheader_client_ca_file})
    http_protocol, ws_protocol = protocols(pools)
    config = uvicorn.Config(
        app, host=options.bind_address, port=options.secure_port, http=http_protocol,
        ws=ws_protocol,
        # interface: the filters are plain callables returning coroutines (tail calls)
        # no proxy_headers: clients are never trusted to say where they come from
        loop="uvloop", lifespan="off", interface="asgi3", access_log=False, log_level="warning",
        proxy_headers=False,
        ssl_certfile=cert_file, ssl_keyfile=key_file, timeout_graceful_shutdown=2)
    # uvicorn builds its own SSLContext from the file names; replace it with ours so the
    # client CA and verify mode are what the flags say.
    config.load()
    config.ssl = ssl_context(cert_file, key_file,
                             [p for p in (client_ca_file, options.requestheader_client_ca_file) if p])
    return APIServer(config, cacher)


def run(app, options, cert_file, key_file, client_ca_file, on_started=None,
        sockets=None, cacher=None) -> None:
    """Serve until SIGTERM/SIGINT; ``sockets`` are already-bound listeners (server processes
    share the supervisor's)."""
    server = build_server(app, options, cert_file, key_file, client_ca_file, cacher)

    async def main():
        task = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started and on_started:
            on_started()
        try:
            await task
        except asyncio.CancelledError:
            # uvicorn cancels what is still open when the graceful-shutdown window ends
            # (long-lived client watches of the workers): that is still a clean stop
            if not server.should_exit:
                raise
    asyncio.run(main()) if not _uvloop() else _uvloop().run(main())


def _uvloop():
    try:
        import uvloop
        return uvloop
    except ImportError:
        return None
