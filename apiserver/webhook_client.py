"""Calling a webhook named by a ``clientConfig`` (``url`` or ``service``, ``caBundle``).

Upstream: kubernetes/kubernetes:staging/src/k8s.io/apiserver/pkg/util/webhook/ (client.go
``HookClient``, validation.go, the service resolver) — one client shared by admission
webhooks (AdmissionReview) and CustomResourceDefinition conversion (ConversionReview).  The
caller builds the review and checks the answer; this module only sends a JSON body and
returns the decoded JSON answer.

There is no cluster network, so a ``service`` reference is resolved through its Service
and Endpoints (read from the shared StoreRegistry the caller hands over) to a ready
address dialled directly, as upstream's ``--enable-aggregator-routing`` resolver does; the
TLS server name stays ``NAME.NAMESPACE.svc``, so the backend's certificate is checked
against the name the configuration gave, never against an address an Endpoints object
lists.  A ``url`` must be https; a ``service`` without ``caBundle`` trusts no root (system
roots are for ``url`` only).  Redirects are never followed.

May import: the standard library.
"""
from __future__ import annotations

import base64
import functools
import http.client
import json
import socket
import ssl
import threading
import urllib.parse

MAX_TIMEOUT = 30
IDLE_PER_ENDPOINT = 8        # kept-alive connections per (address, server name, CA)


class ConnectionPool:
    """Kept-alive TLS connections to webhooks, as upstream's client keeps them: a review
    costs a request, not a TCP and TLS handshake.  Keyed by the dialled address, the TLS
    server name and the CA, so a connection is reused only for the same trust decision.
    The owner (an admission plugin, a CRD's converter) holds one; thread-safe."""

    def __init__(self):
        self._idle: dict[tuple, list] = {}
        self._lock = threading.Lock()

    def take(self, key):
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, key, conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < IDLE_PER_ENDPOINT:
                idle.append(conn)
                return
        conn.close()


@functools.lru_cache(maxsize=64)
def _context(ca: str | None, service: bool) -> ssl.SSLContext:
    """One TLS client context per CA bundle (parsing a bundle costs more than a request)."""
    if ca:
        return ssl.create_default_context(cadata=base64.b64decode(ca).decode())
    if service:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # trusts no root, as upstream
    return ssl.create_default_context()


class CallError(Exception):
    """The webhook could not be called or answered badly.  ``transport`` is True when the
    request was sent (or tried) and failed on the way (upstream wraps those in
    ``failed to call webhook``); False for an unusable configuration or service."""

    def __init__(self, message: str, *, transport: bool = False):
        super().__init__(message)
        self.transport = transport


def stored_object(stores, resource: str, namespace: str, name: str) -> dict | None:
    """A core/v1 object read straight from storage (no admission, no conversion)."""
    store = stores.store("", "v1", resource)
    if store is None:
        return None
    row = store.storage.get(store.resource, namespace, name)
    if row is None:
        return None
    text = row[0] if isinstance(row, tuple) else row
    return json.loads(text) if isinstance(text, (str, bytes)) else text


def resolve_service(ref: dict, stores) -> tuple[str, int]:
    """A ready endpoint ``(address, port)`` of the referenced Service's port (upstream
    proxy.ResolveEndpoint's messages)."""
    ns, name, port = ref.get("namespace", ""), ref.get("name", ""), int(ref.get("port") or 443)
    svc = stored_object(stores, "services", ns, name)
    if not svc:
        raise CallError(f'service "{name}" not found')
    for p in (svc.get("spec") or {}).get("ports") or []:
        if int(p.get("port") or 0) == port:
            port_name = p.get("name") or ""
            break
    else:
        raise CallError(f'no service port {port} found for service "{name}"')
    ep = stored_object(stores, "endpoints", ns, name) or {}
    for subset in ep.get("subsets") or []:
        for p in subset.get("ports") or []:
            if (p.get("name") or "") == port_name and subset.get("addresses"):
                return subset["addresses"][0]["ip"], int(p["port"])
    raise CallError(f'no endpoints available for service "{name}"')


def _send(conn, host, port, server, tls, path, data, headers, timeout):
    """One POST on ``conn`` (a new connection when None): (response, body, connection)."""
    if conn is None:
        sock = socket.create_connection((host, port), timeout=timeout)
        # no Nagle delay on small reviews (Go's dialer sets TCP_NODELAY too)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls)
        conn.sock = tls.wrap_socket(sock, server_hostname=server)
    else:
        conn.sock.settimeout(timeout)
    try:
        conn.request("POST", path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp, resp.read(), conn
    except BaseException:
        conn.close()
        raise


def shown_url(client_config: dict) -> str:
    """The URL error messages name (upstream prints the request URL)."""
    if client_config.get("url"):
        return client_config["url"]
    ref = client_config.get("service") or {}
    path = ref.get("path") or "/"
    return (f"https://{ref.get('name')}.{ref.get('namespace')}.svc:"
            f"{int(ref.get('port') or 443)}{path}")


def post_json(client_config: dict, body: dict, stores, *, timeout: float = 10,
              pool: ConnectionPool | None = None) -> dict:
    """POST ``body`` to the configured endpoint and return the decoded JSON answer (over a
    kept-alive connection of ``pool`` when one is given).

    Raises :class:`CallError`: ``Post "<url>": <reason>`` for an unusable configuration,
    service or connection, ``received invalid webhook response: status code N`` for a
    non-200 answer, ``failed to decode webhook response: …`` for one that is not JSON."""
    cfg = client_config or {}
    timeout = min(float(timeout or 10), MAX_TIMEOUT)
    ca = cfg.get("caBundle")
    shown = shown_url(cfg)
    try:
        tls = _context(ca or None, not cfg.get("url"))
    except (ValueError, ssl.SSLError) as exc:
        raise CallError(f'Post "{shown}": invalid caBundle: {exc}') from None
    if cfg.get("url"):
        url = urllib.parse.urlsplit(cfg["url"])
        if url.scheme != "https":
            raise CallError(f'Post "{shown}": webhook URL must use https')
        host, port, server = url.hostname, url.port or 443, url.hostname
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    else:
        ref = cfg.get("service") or {}
        server = f"{ref.get('name')}.{ref.get('namespace')}.svc"
        path = ref.get("path") or "/"
        try:
            host, port = resolve_service(ref, stores)
        except CallError as exc:
            raise CallError(f'Post "{shown}": {exc}') from None
    data = json.dumps(body).encode()
    key = (host, port, server, ca)
    headers = {"Host": server, "Content-Type": "application/json",
               "Accept": "application/json"}
    reused = pool.take(key) if pool is not None else None
    try:
        try:
            resp, answer, conn = _send(reused, host, port, server, tls, path, data, headers,
                                       timeout)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if reused is None:
                raise
            # the webhook closed the idle connection: the request never reached it
            resp, answer, conn = _send(None, host, port, server, tls, path, data, headers,
                                       timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        text = ("context deadline exceeded" if isinstance(exc, (socket.timeout, TimeoutError))
                else str(exc))
        raise CallError(f'Post "{shown}": {text}', transport=True) from None
    if pool is not None and not resp.will_close:
        pool.give(key, conn)
    else:
        conn.close()
    if resp.status != 200:
        raise CallError(f"received invalid webhook response: status code {resp.status}")
    try:
        return json.loads(answer)
    except ValueError as exc:
        raise CallError(f"failed to decode webhook response: {exc}") from None
