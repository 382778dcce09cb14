"""Watch over websockets: a Channels consumer on the same URLs as HTTP watches.

Each event is one text message holding the same JSON object an HTTP watch sends as a line.
Subprotocols as kube-apiserver's wsstream offers them for watches: ``base64.binary.k8s.io``
(messages base64-encoded) or none (plain text).  Dead peers are found by the server's
websocket pings (uvicorn: every 20 s).  The filters before this consumer already did
request-info, authentication and authorization (verb ``watch``).
"""
from __future__ import annotations

import asyncio
import base64

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer

from apiserver.endpoints.watch import WatchSettings, WatchStream, resolve_store
from apiserver.runtime import errors

BASE64 = "base64.binary.k8s.io"


class WatchConsumer(AsyncWebsocketConsumer):
    stream: WatchStream | None = None
    pump: asyncio.Task | None = None

    def __init__(self, *, cacher, settings: WatchSettings):
        super().__init__()
        self.cacher = cacher              # the process's Cacher
        self.settings = settings

    async def connect(self):
        info = self.scope.get("k8s.request_info")
        headers = dict(self.scope.get("headers") or ())
        accept = headers.get(b"accept", b"").decode("latin-1")
        offered = self.scope.get("subprotocols") or []
        self.encode_base64 = BASE64 in offered
        try:
            if info is None or info.verb != "watch":
                raise errors.BadRequest("websocket connections are served for watch requests only")
            cache = await self.cacher.get()
            self.stream = WatchStream(cache, resolve_store(self.scope["k8s.server"], info), info,
                                      accept, self.settings)
            await self.stream.prepare()
        except errors.APIError as err:
            # the handshake succeeds so the client can read why; then the socket closes
            await self.accept(BASE64 if self.encode_base64 else None)
            await self._send_line(orjson.dumps({"type": "ERROR", "object": err.to_status()}))
            await self.close(code=1008)
            return
        await self.accept(BASE64 if self.encode_base64 else None)
        self.pump = asyncio.create_task(self._pump())

    async def _send_line(self, line: bytes):
        line = line.rstrip(b"\n")
        text = base64.b64encode(line).decode() if self.encode_base64 else line.decode()
        await self.send(text_data=text)

    async def _pump(self):
        try:
            async for chunk in self.stream.lines():
                # a chunk may hold several ready events: each is its own message
                for line in chunk.split(b"\n"):
                    if line:
                        await asyncio.wait_for(self._send_line(line), self.settings.send_timeout)
        except (asyncio.TimeoutError, OSError):
            pass
        finally:
            self.stream.close()
        await self.close()

    async def receive(self, text_data=None, bytes_data=None):
        """Clients have nothing to say on a watch; input is ignored."""

    async def disconnect(self, code):
        if self.stream is not None:
            self.stream.close()
        if self.pump is not None:
            self.pump.cancel()


class WebsocketWatch:
    """ASGI app: websocket scopes go to the Channels consumer, everything else to ``app``."""

    def __init__(self, app, cacher, settings: WatchSettings):
        self.app = app
        # Channels passes as_asgi()'s keyword arguments to each consumer it builds
        self.consumer = WatchConsumer.as_asgi(cacher=cacher, settings=settings)

    def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            return self.consumer(scope, receive, send)
        return self.app(scope, receive, send)
