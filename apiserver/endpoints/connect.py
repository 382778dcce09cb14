"""Connect-style subresources (pods/exec, attach, portforward, log, proxy; nodes/proxy;
services/proxy): the handler that answers them, on the event loop.

Upstream: kubernetes/apiserver pkg/endpoints/handlers/rest.go ``ConnectResource`` (options
from the query, admission as CONNECT with the options as the object, then the connecter's
handler), kubernetes/kubernetes pkg/registry/core/pod/rest/log.go (LogREST: a streamed GET)
and apimachinery pkg/util/proxy/upgradeaware.go.

The request has been through the same pipeline as every other one before it gets here:
request info, authentication, impersonation, authorization (the verb of the HTTP method:
``get`` for a websocket's GET, ``create`` for SPDY's POST, as upstream 1.32 authorizes
them) and the server chain, which put the serving GenericAPIServer in the scope.  What a
kind serves is *declared*: a subresource that is a
:class:`~apiserver.registry.strategy.Connect` is answered here, anything else goes on to
``app``.  Then, on the request thread pool: CONNECT admission (mutating, then validating:
a webhook can refuse an exec) and the subresource's ``location`` (the pod, its node, the
kubelet's address: typed errors such as "pod p does not have a host assigned").  Every
refusal is a ``Status``, the same for a websocket handshake and a SPDY POST (kubectl retries
a refused websocket as SPDY and prints that answer).

Upgrades are passed through byte for byte: the kubelet's ``101`` and every frame after it
reach the client unchanged, websockets and SPDY alike, through the connection the protocol
lets the app take over (``apiserver.server.serve``: ``k8s.hijack``).  The kubelet therefore
negotiates the subprotocol (v5.channel.k8s.io for kubectl, v4 for the Python client,
SPDY/3.1+portforward.k8s.io for kubectl's tunnelled port-forward) with the client itself;
unlike kube-apiserver there is no stream translation here.

May import: apiserver.runtime, apiserver.registry, apiserver.admission, apiserver.endpoints.
"""
from __future__ import annotations

import asyncio
from urllib.parse import quote

from django.db import close_old_connections

from apiserver.admission.base import Attributes
from apiserver.endpoints import upgrade_proxy as wire
from apiserver.endpoints.responses import send_status
from apiserver.registry.context import RequestContext
from apiserver.registry.strategy import Connect
from apiserver.runtime import errors
from apiserver.runtime.validation import is_path_segment_name

HIJACK = "k8s.hijack"
_NOT_FOUND = "the server could not find the requested resource"
MAX_PROXY_BODY = 3 * 1024 * 1024


def is_upgrade(scope) -> bool:
    """A websocket handshake, or an HTTP request with ``Connection: Upgrade`` and
    ``Upgrade: SPDY/3.1``.  No other protocol is ever passed on to a backend (the hardening
    upstream tracks in kubernetes/kubernetes#72112)."""
    if scope["type"] == "websocket":
        return True
    connection, upgrade = [], b""
    for name, value in scope.get("headers") or ():
        if name == b"connection":
            connection += [t.strip().lower() for t in value.split(b",")]
        elif name == b"upgrade":
            upgrade = value.strip().lower()
    return b"upgrade" in connection and upgrade.startswith(b"spdy/")


def connect_subresource(scope):
    """(store, Connect declaration) when the request names one, else None."""
    info, server = scope.get("k8s.request_info"), scope.get("k8s.server")
    if info is None or server is None or not info.is_resource_request or not info.subresource:
        return None
    store = server.store(info.api_group, info.api_version, info.resource)
    if store is None:
        return None
    sub = store.strategy.subresource(info.subresource)
    return (store, sub) if isinstance(sub, Connect) else None


class ConnectHandler:
    """ASGI app: connect-style subresources here, everything else to ``app``."""

    def __init__(self, app, options, executor, dialer: wire.Dialer | None = None):
        self.app = app
        self.options = options
        self.executor = executor
        self.dialer = dialer or wire.Dialer(kubelet_client_config(options))

    def __call__(self, scope, receive, send):
        found = connect_subresource(scope) if scope["type"] in ("http", "websocket") else None
        if found is None:
            return self.app(scope, receive, send)
        return self._serve(scope, receive, send, *found)

    # ---- the decision ---------------------------------------------------------------------
    async def _serve(self, scope, receive, send, store, sub: Connect):
        info = scope["k8s.request_info"]
        try:
            location, ctx = await self._decide(scope, info, store, sub)
            if location is None:            # pods/log of a pod with no node: an empty log
                return await _respond(send, 200, [(b"content-type", b"text/plain")], b"")
            upgrade = is_upgrade(scope)
            if location.upgrade_required and not upgrade:
                raise errors.BadRequest("Upgrade request required")
            client_query = (scope.get("query_string") or b"").decode("latin-1") \
                if sub.subpath else ""
            target = _target(location, client_query)
            if upgrade and (location.upgrade_required or sub.subpath):
                return await self._upgrade(scope, send, location, target)
            if scope["type"] == "websocket":
                raise errors.BadRequest("websocket connections are served for watch, exec, "
                                        "attach, portforward and proxy requests only")
            if location.stream:
                return await self._stream(receive, send, location, target)
            return await self._proxy(scope, receive, send, location, target)
        except errors.APIError as err:
            return await send_status(send, err, scope)

    async def _decide(self, scope, info, store, sub: Connect):
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        if method not in sub.methods:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        if len(info.parts) > 3 and not sub.subpath:
            raise errors.NotFound(_NOT_FOUND)
        s = store.strategy
        if s.namespaced and not info.namespace:
            raise errors.NotFound(_NOT_FOUND)
        for what, value in (("namespace", info.namespace), ("name", info.url_name)):
            problems = is_path_segment_name(value) if value else []
            if problems:
                raise errors.BadRequest(f'invalid {what} "{value}" in the request URL: '
                                        + "; ".join(problems))
        if info.query.get("dryRun"):
            raise errors.BadRequest("dryRun is not supported")
        subpath = _subpath(scope["path"], info) if sub.subpath else ""
        options = sub.options(info.query, subpath)
        server = scope["k8s.server"]
        ctx = RequestContext(user=scope.get("k8s.user"), subresource=sub.name, verb=info.verb,
                             namespace=info.namespace, stores=server.config.stores)
        loop = asyncio.get_running_loop()
        location = await loop.run_in_executor(self.executor, self._admit_and_locate, ctx,
                                               store, sub, info, options)
        return location, ctx

    def _admit_and_locate(self, ctx, store, sub: Connect, info, options):
        """On a request thread: CONNECT admission, then where to go."""
        try:
            s = store.strategy
            if sub.admitted and store.admission is not None:
                kind = sub.kind[2] if sub.kind else s.kind
                attrs = Attributes(operation="CONNECT", group=s.group, version=s.version,
                                   kind=kind, resource=s.plural, subresource=sub.name,
                                   namespace=info.namespace, name=info.url_name, obj=options,
                                   old=None, user=ctx.user, warnings=ctx.warnings, uid=ctx.uid)
                store.admission.admit(attrs)
                store.admission.validate(attrs)
            return sub.location(ctx, store, info.namespace, info.url_name, options,
                                self.options)
        finally:
            close_old_connections()

    # ---- the three ways to answer ---------------------------------------------------------
    async def _upgrade(self, scope, send, location, target):
        hijack = (scope.get("extensions") or {}).get(HIJACK)
        if hijack is None:
            raise errors.BadRequest("Upgrade request required")
        reader, writer = await self.dialer.dial(location)
        try:
            method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
            headers = wire.forwarded_headers(scope.get("headers") or (),
                                             f"{_host(location)}", _client(scope), True)
            writer.write(wire.request_head(method, target, headers))
            head = await wire.read_head(reader)
        except BaseException:
            wire.close(writer)
            raise
        if head.status == 101:
            raw = hijack()
            raw.write(head.raw)
            return await wire.splice(raw, reader, writer)
        try:
            if head.status < 400:
                raise wire.BackendError(f"invalid upgrade response: status code {head.status}")
            body = await wire.read_body(reader, head, limit=64 * 1024)
        finally:
            wire.close(writer)
        # the backend's refusal as it sent it; the connection then closes
        kept = [(k, v) for k, v in head.headers if k in (b"content-type",
                                                          b"x-content-type-options")]
        prefix = "websocket.http" if scope["type"] == "websocket" else "http"
        await _respond(send, head.status, kept + [(b"content-length", str(len(body)).encode())],
                       body, prefix=prefix)

    async def _stream(self, receive, send, location, target):
        """pods/log: the kubelet's body as it comes (each chunk at once when following)."""
        reader, writer = await self.dialer.dial(location)
        try:
            headers = [(b"host", _host(location).encode()), (b"accept", b"*/*"),
                       (b"user-agent", b"kube-apiserver"), (b"connection", b"close")]
            writer.write(wire.request_head("GET", target, headers))
            head = await wire.read_head(reader)
            if not 200 <= head.status <= 206:
                body = await wire.read_body(reader, head, limit=50000)
                raise wire.response_error(head.status, body, location.resource, location.name)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", location.content_type.encode())]})
            await _pump(receive, send, wire.body_chunks(reader, head))
        finally:
            wire.close(writer)

    async def _proxy(self, scope, receive, send, location, target):
        """nodes/proxy, pods/proxy, services/proxy without an upgrade: the request with the
        client's credentials removed, the answer as the backend gave it."""
        body = await _read_body(receive)
        if body is None:
            return
        reader, writer = await self.dialer.dial(location)
        try:
            headers = wire.forwarded_headers(scope.get("headers") or (), _host(location),
                                             _client(scope), False)
            if body:
                headers.append((b"content-length", str(len(body)).encode()))
            writer.write(wire.request_head(scope["method"], target, headers) + body)
            head = await wire.read_head(reader)
            kept = [(k, v) for k, v in head.headers
                    if k not in (b"connection", b"keep-alive", b"transfer-encoding",
                                 b"content-length", b"set-cookie")]
            await send({"type": "http.response.start", "status": head.status, "headers": kept})
            if scope["method"] == "HEAD":
                return await send({"type": "http.response.body", "body": b""})
            await _pump(receive, send, wire.body_chunks(reader, head))
        finally:
            wire.close(writer)


def kubelet_client_config(options) -> wire.KubeletClientConfig:
    own = getattr(options, "secure_port", 0)
    return wire.KubeletClientConfig(
        cert_file=getattr(options, "kubelet_client_certificate", "") or "",
        key_file=getattr(options, "kubelet_client_key", "") or "",
        ca_file=getattr(options, "kubelet_certificate_authority", "") or "",
        timeout=float(getattr(options, "kubelet_timeout", wire.DIAL_TIMEOUT) or wire.DIAL_TIMEOUT),
        refused_ports=(own,) if own else ())


def _subpath(path: str, info) -> str:
    """What follows ``…/<name>/<subresource>/`` in the (decoded) path; a trailing slash is
    kept, as upstream's proxy keeps it."""
    marker = f"/{info.resource}/{info.url_name}/{info.subresource}"
    at = path.find(marker)
    rest = path[at + len(marker):] if at >= 0 else ""
    return rest[1:] if rest.startswith("/") else rest


def _host(location) -> str:
    host = f"[{location.host}]" if ":" in location.host else location.host
    return f"{host}:{location.port}"


def _target(location, client_query: str) -> str:
    """Path and query for the backend: the location's query, else (proxies) the client's.
    The path (a proxy's is the client's, decoded) is escaped again as Go's URL.EscapedPath
    would, so nothing decoded from the request (%0D%0A, %20 …) can end the request line."""
    query = location.query or client_query
    path = quote(location.path or "/", safe="/:@!$&'()*+,;=-._~")
    return path + (f"?{query}" if query else "")


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


async def _respond(send, status: int, headers: list, body: bytes,
                   prefix: str = "http") -> None:
    await send({"type": f"{prefix}.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}.response.body", "body": body})


async def _read_body(receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PROXY_BODY:
            raise errors.RequestEntityTooLarge(
                f"Request entity too large: limit is {MAX_PROXY_BODY}")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _pump(receive, send, chunks) -> None:
    """Send each chunk as it comes; stop when the backend ends or the client goes away."""

    async def until_disconnect():
        while (await receive())["type"] != "http.disconnect":
            pass

    gone = asyncio.ensure_future(until_disconnect())

    async def copy():
        async for data in chunks:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    body = asyncio.ensure_future(copy())
    try:
        await asyncio.wait({gone, body}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (gone, body):
            task.cancel()
        await asyncio.gather(gone, body, return_exceptions=True)
