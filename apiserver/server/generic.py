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
"""
from __future__ import annotations

import functools

from apiserver.endpoints import openid
from apiserver.endpoints.discovery import DiscoveryDocuments
from apiserver.endpoints.responses import send_status
from apiserver.openapi.documents import OpenAPIDocuments
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

    # ---- installation ---------------------------------------------------------------------
    def install_api_groups(self, strategy_classes) -> None:
        """Serve these kinds (upstream ``InstallAPIGroups``): build their Stores in the
        shared registry and index them here for routing, discovery and OpenAPI."""
        # a kind served in a second version converts through its storage version's Store
        for cls in sorted(strategy_classes, key=lambda c: c.storage_version is not None):
            priority = self.config.scheme.priority(cls.group)
            store = self.config.stores.install(cls, group_priority=priority)
            self.index.add(store.strategy, group_priority=priority)

    # ---- the chain ------------------------------------------------------------------------
    def servers(self) -> list:
        """This server and every GenericAPIServer it delegates to, in order."""
        return [self] + self.delegate.servers()

    def store(self, group: str, version: str, resource: str):
        """The Store of a resource this server installed, or None."""
        if self.index.strategy(group, version, resource) is None:
            return None
        return self.config.stores.store(group, version, resource)

    @functools.cached_property
    def merged_index(self) -> Scheme:
        """The kinds of this server and its delegates, as discovery and OpenAPI list them
        (the aggregator's merged discovery; the chain is fixed once built)."""
        merged = Scheme()
        for server in self.servers():
            for strategy in server.index.all():
                merged.add(strategy, group_priority=server.index.priority(strategy.group))
        return merged

    @functools.cached_property
    def discovery(self) -> DiscoveryDocuments:
        return DiscoveryDocuments(self.merged_index)

    @functools.cached_property
    def openapi(self) -> OpenAPIDocuments:
        return OpenAPIDocuments(self.merged_index)

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

    def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and self.serves(scope):
            if scope["type"] == "http" and scope["path"] in openid.PATHS and \
                    self.openid_metadata.installed:
                return self.openid_metadata(scope, receive, send)
            scope["k8s.server"] = self
            return self.config.handler(scope, receive, send)
        return self.delegate(scope, receive, send)

    def __repr__(self) -> str:
        return f"<GenericAPIServer {self.name}>"
