"""GenericAPIServer: one API server of the chain, and the NotFound handler that ends it.

kube-apiserver is three servers on one generic base (kubernetes/apiserver:pkg/server/
genericapiserver.go; the chain is built by kubernetes/kubernetes:cmd/kube-apiserver/app/
server.go ``CreateServerChain``): the AggregatorServer delegates to the KubeAPIServer, which
delegates to the APIExtensionsServer, which delegates to NotFound.  Each server owns the API
groups it installed (their Stores, routes, its part of discovery and OpenAPI); a request for
anything else falls through to its delegate (upstream's ``NotFoundHandler`` wiring).  All
three share the process's completed config: storage, store registry, watch cache, admission,
and the one filter chain in front of the head.

Routing here decides only *which server* answers; that server then hands the request to the
shared handler (watch streams, else Django views) with itself in ``scope["k8s.server"]``.

Kinds may also come and go while serving (custom resources, upstream's
crdHandler/DiscoveryController): a *source* declared with ``Scheme.register_source(name,
factory)`` is built by the server called ``name`` (``factory(server)``) and installs and
removes kinds through :meth:`GenericAPIServer.install_api_groups` and
:meth:`GenericAPIServer.remove_api_groups`.  The source protocol:

``ensure_running()``      cheap; called on every request, may start listening the first time
``stale(scope) -> bool``  cheap (memory only, on the event loop): may the answer to this
                          request depend on a change the source has not applied yet?
``async catch_up()``      apply what is new before the request is routed (blocking work on
                          the request thread pool, never on the loop); must not raise

A source may also claim requests and add to discovery (the AggregatorServer's proxied
APIServices, upstream's ``proxyHandler`` and aggregated discovery manager):

``handler_for(scope)``    an ASGI app that answers this request instead of this server's
                          handler, or None
``generation``            an int that changes whenever ``remote_discovery()`` would
``remote_discovery()``    the group/versions served elsewhere, for discovery documents
``remote_openapi()``      their OpenAPI v3 documents: {"apis/G/V": serverRelativeURL}

Merged indexes, discovery and OpenAPI documents are rebuilt when any server's index changes
(``Scheme.generation``).
"""
from __future__ import annotations

import functools
import threading

from apiserver.endpoints import openid
from apiserver.endpoints.discovery import DiscoveryDocuments
from apiserver.endpoints.responses import send_status
from apiserver.openapi.documents import INFO, OpenAPIDocuments
from apiserver.openapi.v2 import SwaggerDocument
from apiserver.runtime import errors
from apiserver.runtime.scheme import Scheme

NOT_FOUND = "the server could not find the requested resource"


class NotFoundHandler:
    """The end of the chain: 404 ``Status`` for HTTP, a refused handshake for websockets."""

    name = "not-found"
    delegate = None

    def servers(self) -> list:
        return []

    def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            return send({"type": "websocket.close", "code": 1008})
        return send_status(send, errors.NotFound(NOT_FOUND))


class GenericAPIServer:
    def __init__(self, name: str, config, delegate):
        self.name = name
        self.config = config
        self.delegate = delegate
        self.index = Scheme()            # the kinds this server installed
        self._documents_lock = threading.Lock()
        self._documents = None           # (generation, merged index, discovery, openapi)
        scheme = getattr(config, "scheme", None)
        self.sources = [factory(self) for factory in
                        (scheme.sources(name) if hasattr(scheme, "sources") else ())]

    # ---- installation ---------------------------------------------------------------------
    def install_api_groups(self, strategy_classes) -> None:
        """Serve these kinds (upstream ``InstallAPIGroups``): build their Stores in the
        shared registry and index them here for routing, discovery and OpenAPI."""
        # a kind served in a second version converts through its storage version's Store
        for cls in sorted(strategy_classes, key=lambda c: c.storage_version is not None):
            priority = self.config.scheme.priority(cls.group)
            store = self.config.stores.install(cls, group_priority=priority)
            self.index.add(store.strategy, group_priority=priority)

    def remove_api_groups(self, strategy_classes) -> None:
        """Stop serving these kinds (a source's kinds that changed or went away): versions
        that convert through a storage version go first."""
        for cls in sorted(strategy_classes, key=lambda c: c.storage_version is None):
            self.config.stores.uninstall(cls.group, cls.version, cls.plural)
            self.index.unregister(cls)

    # ---- the chain ------------------------------------------------------------------------
    def servers(self) -> list:
        """This server and every GenericAPIServer it delegates to, in order."""
        return [self] + self.delegate.servers()

    def store(self, group: str, version: str, resource: str):
        """The Store of a resource this server installed, or None."""
        if self.index.strategy(group, version, resource) is None:
            return None
        return self.config.stores.store(group, version, resource)

    def _generation(self) -> int:
        return sum(server.index.generation + sum(getattr(src, "generation", 0)
                                                 for src in server.sources)
                   for server in self.servers())

    def _remote_openapi(self) -> dict:
        out: dict = {}
        for server in self.servers():
            for src in server.sources:
                if hasattr(src, "remote_openapi"):
                    out.update(src.remote_openapi())
        return out

    def _remote_discovery(self) -> tuple:
        return tuple(entry for server in self.servers() for src in server.sources
                     for entry in (src.remote_discovery() if hasattr(src, "remote_discovery")
                                   else ()))

    def _current_documents(self) -> tuple:
        """(generation, merged index, discovery, OpenAPI), rebuilt after any server of the
        chain installed or removed a kind (documents build lazily, on first request)."""
        docs = self._documents
        generation = self._generation()
        if docs is not None and docs[0] == generation:
            return docs
        with self._documents_lock:
            docs = self._documents
            if docs is None or docs[0] != generation:
                merged = Scheme()
                for server in self.servers():
                    for strategy in server.index.all():
                        merged.add(strategy, group_priority=server.index.priority(strategy.group))
                docs = (generation, merged,
                        DiscoveryDocuments(merged, remote=self._remote_discovery()),
                        OpenAPIDocuments(merged, remote=self._remote_openapi()))
                self._documents = docs
            return docs

    @property
    def merged_index(self) -> Scheme:
        """The kinds of this server and its delegates, as discovery and OpenAPI list them
        (the aggregator's merged discovery)."""
        return self._current_documents()[1]

    @property
    def discovery(self) -> DiscoveryDocuments:
        return self._current_documents()[2]

    @property
    def openapi(self) -> OpenAPIDocuments:
        return self._current_documents()[3]

    @functools.cached_property
    def openapi_v2(self) -> SwaggerDocument:
        """/openapi/v2: the built-in kinds' definitions (``config.scheme``), built once."""
        return SwaggerDocument(self.config.scheme, INFO["version"])

    @functools.cached_property
    def openid_metadata(self) -> openid.OpenIDMetadata:
        """Service-account issuer discovery (upstream pkg/routes/openidmetadata.go)."""
        return openid.OpenIDMetadata.from_config(self.config)

    # ---- routing --------------------------------------------------------------------------
    def serves(self, scope) -> bool:
        """Does this server answer the request?  Resource and group-discovery URLs of groups
        it installed; every other path (/version, /healthz, /api, /apis, /openapi …) is the
        generic server's own, so the first server of the chain answers it."""
        info = scope.get("k8s.request_info")
        parts = [p for p in scope["path"].split("/") if p]
        if not parts or parts[0] not in ("api", "apis") or len(parts) == 1:
            return True
        if parts[0] == "api":
            return parts[1] in self.index.versions("")
        group = parts[1]
        if len(parts) == 2:
            return bool(self.index.versions(group))
        version = info.api_version if info is not None else parts[2]
        return version in self.index.versions(group)

    def _stale_sources(self, scope) -> list:
        stale = []
        for server in self.servers():
            for source in server.sources:
                source.ensure_running()
                if source.stale(scope):
                    stale.append(source)
        return stale

    async def _after_catch_up(self, stale, scope, receive, send):
        for source in stale:
            await source.catch_up()
        return await self._route(scope, receive, send)

    def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and "k8s.caught_up" not in scope:
            scope["k8s.caught_up"] = True      # once per request, at the head of the chain
            stale = self._stale_sources(scope)
            if stale:
                return self._after_catch_up(stale, scope, receive, send)
        return self._route(scope, receive, send)

    def _route(self, scope, receive, send):
        for source in self.sources:
            claim = getattr(source, "handler_for", None)
            handler = claim(scope) if claim is not None else None
            if handler is not None:
                return handler(scope, receive, send)
        if scope["type"] in ("http", "websocket") and self.serves(scope):
            if scope["type"] == "http" and scope["path"] in openid.PATHS and \
                    self.openid_metadata.installed:
                return self.openid_metadata(scope, receive, send)
            scope["k8s.server"] = self
            return self.config.handler(scope, receive, send)
        return self.delegate(scope, receive, send)

    def __repr__(self) -> str:
        return f"<GenericAPIServer {self.name}>"
