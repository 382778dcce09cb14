"""HTTPS serving on uvicorn, with the verified client certificate exposed to the app.

uvicorn does not publish the peer certificate in the ASGI scope, so a small protocol
subclass reads it from the TLS object once per connection (after the handshake verified it
against the client CAs: ``--client-ca-file`` and ``--requestheader-client-ca-file``) and
puts its subject, validity and issuing CA pool into ``scope["extensions"]["tls"]``
(``apiserver.authentication.x509.CertificatePools``).
"""
from __future__ import annotations

import asyncio
import logging
import ssl

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


def protocols(pools: CertificatePools):
    """uvicorn protocol classes (HTTP, websocket) that describe the peer certificate."""

    class ClientCertHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._k8s_peer = _peer(transport, pools)

        def on_message_begin(self):
            super().on_message_begin()
            if self._k8s_peer:
                self.scope["extensions"] = {"tls": dict(self._k8s_peer)}

    class ClientCertWebSocketProtocol(WebSocketsSansIOProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._k8s_peer = _peer(transport, pools)

        async def run_asgi(self):
            if self._k8s_peer:
                self.scope.setdefault("extensions", {})["tls"] = dict(self._k8s_peer)
            return await super().run_asgi()

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
