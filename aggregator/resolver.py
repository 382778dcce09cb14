"""Where a service-backed APIService's requests go: a ready endpoint of its Service.

Upstream: kubernetes/kubernetes:staging/src/k8s.io/apiserver/pkg/util/proxy/proxy.go
(``ResolveEndpoint``: the Service port whose ``port`` is the APIService's, then a ready
address of the Endpoints subset carrying a port of the same name) and kube-aggregator's
``--enable-aggregator-routing``.  This server has no cluster network to reach a ClusterIP
through, so it routes a ClusterIP Service to an endpoint, as that flag does; an ExternalName
Service goes to its ``externalName`` at the APIService's port, as upstream's
``ResolveCluster`` sends it (``up`` registers the local metrics server so: Endpoints may not
name a loopback address, an ExternalName may say ``localhost``).  The TLS server name is the
Service's DNS name (``NAME.NAMESPACE.svc``), as upstream's ``serviceResolver`` uses, so a
backend's serving certificate is checked against the name the APIService gave, never
against whatever address an Endpoints object lists.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

from apiserver.runtime import errors


class ResolveError(Exception):
    """No endpoint to send to; ``reason`` is the availability condition's reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    server_name: str      # the name the backend's certificate must carry


def _get(stores, resource: str, namespace: str, name: str) -> dict | None:
    store = stores.store("", "v1", resource)
    try:
        return orjson.loads(store.get(namespace, name))
    except errors.NotFound:
        return None


def resolve(stores, namespace: str, name: str, port: int) -> Endpoint:
    """A ready endpoint of Service ``namespace/name`` for service port ``port``."""
    service = _get(stores, "services", namespace, name)
    if service is None:
        raise ResolveError("ServiceNotFound", f'service/{name} in "{namespace}" is not present')
    spec = service.get("spec") or {}
    server_name = f"{name}.{namespace}.svc"
    if spec.get("type") == "ExternalName":
        host = (spec.get("externalName") or "").rstrip(".")
        if not host:
            raise ResolveError("ServiceNotFound",
                               f'service/{name} in "{namespace}" has no externalName')
        return Endpoint(host=host, port=port, server_name=server_name)
    svc_port = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
    if svc_port is None:
        raise ResolveError("ServicePortError",
                           f'service/{name} in "{namespace}" is not listening on port {port}')
    port_name = svc_port.get("name") or ""
    endpoints = _get(stores, "endpoints", namespace, name) or {}
    choices = []
    for subset in endpoints.get("subsets") or []:
        for p in subset.get("ports") or []:
            if (p.get("name") or "") == port_name:
                choices += [(a.get("ip"), p.get("port")) for a in subset.get("addresses") or []
                            if a.get("ip")]
    if not choices:
        raise ResolveError("MissingEndpoints",
                           f'endpoints for service/{name} in "{namespace}" have no addresses '
                           f'with port name "{port_name}"')
    host, target = random.choice(choices)
    return Endpoint(host=host, port=int(target), server_name=server_name)
