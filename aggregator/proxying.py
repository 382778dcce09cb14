"""The AggregatorServer's service-backed APIServices: which requests leave for a backend,
and what discovery says of the groups they serve.

Upstream: kube-aggregator pkg/apiserver/apiserver.go (``AddAPIService`` installs a
``proxyHandler`` on ``/apis/GROUP/VERSION`` and a group handler on ``/apis/GROUP``),
handler_proxy.go (an APIService that is not Available answers 503 "service unavailable")
and pkg/apiserver/handler_discovery.go (the aggregated discovery manager fetches each
backend's discovery document and serves it merged with the local groups').

This is a *source* of the AggregatorServer (``apiserver.server.generic``): it follows the
APIService objects — a pass lists them (a few dozen documents) — whenever a request could
depend on one it has not seen: discovery, OpenAPI, or a request for a group no local server
serves, after a local commit or once the last pass is older than ``poll_seconds``.  Requests
for local groups never pay for it.  A backend's resources are fetched over the same TLS
path a proxied request takes, in the pass, at most every ``DISCOVERY_TTL`` seconds per
APIService, and only while the APIService is Available.

May import: apiserver, aggregator.
"""
from __future__ import annotations

import asyncio
import http.client
import logging
import socket
import threading
import time

import orjson

from apiserver.authentication.user import UserInfo
from apiserver.endpoints.discovery import RemoteVersion
from apiserver.endpoints.responses import send_status

from . import proxy
from .apiservices import available
from .resolver import ResolveError, resolve
from .transport import ProxyIdentity, backend_headers, tls_context

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
DISCOVERY_TTL = 60.0
DISCOVERY_TIMEOUT = 3.0
RESOURCE = "apiservices.apiregistration.k8s.io"


def _service_backed(obj: dict) -> bool:
    return isinstance((obj.get("spec") or {}).get("service"), dict)


def is_available(obj: dict) -> bool:
    c = available(obj)
    return c is not None and c.get("status") == "True"


class ServiceProxies:
    """The source: service-backed APIServices by (group, version)."""

    name = "apiservice-proxies"

    def __init__(self, server, *, poll_seconds: float = POLL_SECONDS):
        self.server = server
        self.config = server.config
        self.poll_seconds = poll_seconds
        o = self.config.options
        self.identity = ProxyIdentity(getattr(o, "proxy_client_cert_file", ""),
                                      getattr(o, "proxy_client_key_file", ""))
        self.table: dict = {}              # (group, version) -> APIService dict
        self.generation = 0
        self._remote: dict = {}            # name -> (rv, fetched_at, resources | None, openapi url)
        self._contexts: dict = {}          # name -> (rv, ssl context)
        self._dirty = True
        self._last_pass = 0.0
        self._listening = False
        self._lock = threading.Lock()

    # ---- the source protocol ------------------------------------------------------------
    def ensure_running(self) -> None:
        if not self._listening:
            self.config.storage_for(RESOURCE).listeners.append(self._on_commit)
            self._listening = True

    def _on_commit(self, rv: int) -> None:        # any thread; must not block
        self._dirty = True

    def _local(self, group: str) -> bool:
        return any(s.index.versions(group) for s in self.server.servers())

    def stale(self, scope) -> bool:
        parts = [p for p in scope.get("path", "").split("/") if p]
        if not parts or parts[0] not in ("apis", "openapi"):
            return False
        if parts[0] == "apis" and len(parts) > 1 and self._local(parts[1]):
            return False
        age = time.monotonic() - self._last_pass
        return age > self.poll_seconds or (self._dirty and age > 0.05)

    async def catch_up(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.config.executor, self.sync)
        except Exception as exc:           # the next request tries again
            log.error("aggregator: following APIServices failed: %s", type(exc).__name__)

    def handler_for(self, scope):
        if scope["type"] not in ("http", "websocket"):
            return None
        parts = [p for p in scope.get("path", "").split("/") if p]
        if parts[:3] == ["openapi", "v3", "apis"] and len(parts) == 5:
            # a backend's own OpenAPI v3 document, as the root lists it
            entry = self.table.get((parts[3], parts[4]))
            if entry is None or self._local(parts[3]):
                return None
            return lambda scope, receive, send: self._proxy(entry, scope, receive, send)
        if len(parts) < 2 or parts[0] != "apis" or self._local(parts[1]):
            return None
        group = parts[1]
        if len(parts) == 2:
            if any(g == group for g, _ in self.table) and scope["type"] == "http":
                scope["k8s.server"] = self.server      # the APIGroup document, from discovery
                return self.config.handler
            return None
        entry = self.table.get((group, parts[2]))
        if entry is None:
            return None
        return lambda scope, receive, send: self._proxy(entry, scope, receive, send)

    def remote_openapi(self) -> dict:
        out = {}
        for (group, version), obj in self.table.items():
            cached = self._remote.get(obj["metadata"]["name"])
            if cached and cached[3] and is_available(obj):
                out[f"apis/{group}/{version}"] = cached[3]
        return out

    def remote_discovery(self) -> tuple:
        out = []
        for (group, version), obj in self.table.items():
            cached = self._remote.get(obj["metadata"]["name"])
            resources = cached[2] if cached and is_available(obj) else None
            out.append(RemoteVersion(group=group, version=version,
                                     group_priority=int(obj["spec"].get("groupPriorityMinimum")
                                                        or 0), resources=resources))
        return tuple(out)

    # ---- following the APIServices --------------------------------------------------------
    def sync(self) -> None:
        with self._lock:
            self._dirty = False
            store = self.config.stores.store("apiregistration.k8s.io", "v1", "apiservices")
            table = {}
            for doc in store.list(None)["items"]:
                obj = orjson.loads(doc)
                if _service_backed(obj):
                    table[(obj["spec"].get("group") or "", obj["spec"].get("version") or "")] = obj
            changed = _fingerprint(table) != _fingerprint(self.table)
            for obj in table.values():
                changed |= self._refresh_discovery(obj)
            if changed:
                self.table = table
                self.generation += 1
            self._last_pass = time.monotonic()

    def _refresh_discovery(self, obj: dict) -> bool:
        """Fetch the backend's APIResourceList when due; True when what discovery shows
        changed."""
        name, rv = obj["metadata"]["name"], obj["metadata"].get("resourceVersion")
        cached = self._remote.get(name)
        if not is_available(obj):
            return False
        if cached and cached[0] == rv and time.monotonic() - cached[1] < DISCOVERY_TTL:
            return False
        resources = self._fetch_resources(obj)
        openapi = self._fetch_openapi_url(obj)
        self._remote[name] = (rv, time.monotonic(), resources, openapi)
        return cached is None or cached[2:] != (resources, openapi)

    def _fetch_openapi_url(self, obj: dict) -> str | None:
        """Where the backend's /openapi/v3 root says its group/version document is."""
        key = f"apis/{obj['spec']['group']}/{obj['spec']['version']}"
        try:
            status, body = self.get_from_backend(obj, "/openapi/v3", AGGREGATOR_USER)
            if status != 200:
                return None
            url = ((orjson.loads(body).get("paths") or {}).get(key) or {}).get("serverRelativeURL")
        except (OSError, ResolveError, ValueError, http.client.HTTPException, AttributeError):
            return None
        # only a URL this server proxies to that backend, never one elsewhere
        return url if isinstance(url, str) and url.startswith(f"/openapi/v3/{key}") else None

    def _fetch_resources(self, obj: dict):
        spec = obj["spec"]
        path = f"/apis/{spec['group']}/{spec['version']}"
        try:
            status, body = self.get_from_backend(obj, path, AGGREGATOR_USER)
            if status != 200:
                return None
            return tuple(orjson.loads(body).get("resources") or ())
        except (OSError, ResolveError, ValueError, http.client.HTTPException):
            return None

    def get_from_backend(self, obj: dict, path: str, user=None) -> tuple[int, bytes]:
        return backend_get(self.config.stores, self.context(obj), obj, path, user)

    def context(self, obj: dict):
        name, rv = obj["metadata"]["name"], obj["metadata"].get("resourceVersion")
        cached = self._contexts.get(name)
        if cached is None or cached[0] != rv:
            cached = self._contexts[name] = (rv, tls_context(obj["spec"], self.identity))
        return cached[1]

    # ---- proxying -------------------------------------------------------------------------
    async def _proxy(self, obj, scope, receive, send):
        if not is_available(obj):
            return await send_status(send, proxy.unavailable("service unavailable"), scope)
        svc = obj["spec"]["service"]
        loop = asyncio.get_running_loop()
        try:
            ep = await loop.run_in_executor(
                self.config.executor, resolve, self.config.stores, svc.get("namespace") or "",
                svc.get("name") or "", int(svc.get("port") or 443))
        except ResolveError as exc:
            return await send_status(send, proxy.unavailable(exc.message), scope)
        backend = proxy.Backend(endpoint=ep, ssl=self.context(obj))
        if scope["type"] == "websocket":
            return await proxy.proxy_websocket(scope, receive, send, backend)
        return await proxy.proxy_http(scope, receive, send, backend)


# who the aggregator is when it reads a backend's discovery documents and checks its
# availability (kube-aggregator pkg/apiserver/handler_discovery.go and the availability
# controller): an extension server that delegates authorization must let it read
AGGREGATOR_USER = UserInfo("system:kube-aggregator", groups=("system:masters",))


def backend_get(stores, ctx, obj: dict, path: str, user=None) -> tuple[int, bytes]:
    """A blocking GET of ``path`` from an APIService's backend (discovery documents and
    availability checks), over the TLS a proxied request uses; raises ResolveError,
    OSError or http.client.HTTPException."""
    svc = obj["spec"]["service"]
    ep = resolve(stores, svc.get("namespace") or "", svc.get("name") or "",
                 int(svc.get("port") or 443))
    conn = http.client.HTTPSConnection(ep.host, ep.port, timeout=DISCOVERY_TIMEOUT, context=ctx)
    # SNI and the verified name are the Service's DNS name, never the endpoint's IP
    sock = socket.create_connection((ep.host, ep.port), DISCOVERY_TIMEOUT)
    conn.sock = ctx.wrap_socket(sock, server_hostname=ep.server_name)
    try:
        headers = {k.decode(): v.decode() for k, v in backend_headers(
            [(b"accept", b"application/json")], user, f"{ep.server_name}:{ep.port}")}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(3 * 1024 * 1024)
    finally:
        conn.close()


def _fingerprint(table: dict) -> tuple:
    return tuple(sorted((k, v["metadata"].get("resourceVersion")) for k, v in table.items()))


def source(server) -> ServiceProxies:
    return ServiceProxies(server)
