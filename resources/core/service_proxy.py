"""``services/<[scheme:]name[:port]>/proxy[/<path>]``: to one of the service's endpoints.

Upstream: kubernetes/kubernetes pkg/registry/core/service/storage/storage.go
(``ResourceLocation``) and proxy.go.  The address comes from the service's Endpoints only,
never from the request, and must pass the same checks as pods/proxy
(``kubelet_location.check_ip`` without loopback, ``unrouted_pod_ip``).
"""
from __future__ import annotations

from apiserver.registry.strategy import Connect, Location
from apiserver.runtime import errors

from .kubelet_location import PROXY_METHODS, PROXY_VERBS, check_ip, split_scheme_name_port, \
    unrouted_pod_ip


class ServiceProxy(Connect):
    """``services/<[scheme:]name[:port]>/proxy[/<path>]`` (upstream service
    ``ResourceLocation``, pkg/registry/core/service/storage/storage.go): plain HTTP to a
    ready address of the service's Endpoints for the named (or only) port, only to an IP
    upstream's IsProxyableIP allows and not to a pod IP no pod network serves
    (``unrouted_pod_ip``): with only such endpoints, 503 "no endpoints available"."""

    def options(self, query, subpath):
        return {"kind": "ServiceProxyOptions", "apiVersion": "v1", "path": subpath}

    def location(self, ctx, store, namespace, name, options, server_options):
        split = split_scheme_name_port(name)
        if split is None:
            raise errors.BadRequest(f'invalid service request "{name}"')
        scheme, service, port = split
        svc = store.load(namespace, service)[0]
        ports = [p for p in (svc.get("spec") or {}).get("ports") or () if isinstance(p, dict)]
        wanted = next((p for p in ports if not port or p.get("name", "") == port or
                       str(p.get("port")) == port), None)
        if wanted is None:
            raise errors.ServiceUnavailable(f'no service port "{port}" found for service '
                                            f'"{service}"')
        try:
            endpoints = ctx.stores.store("", "v1", "endpoints").load(namespace, service)[0]
        except errors.NotFound:
            endpoints = {}
        for subset in endpoints.get("subsets") or ():
            for ep_port in subset.get("ports") or ():
                if ep_port.get("name", "") != wanted.get("name", ""):
                    continue
                for address in subset.get("addresses") or ():
                    try:
                        ip = check_ip(address.get("ip", ""), loopback=False)
                    except errors.BadRequest:
                        continue
                    if unrouted_pod_ip(ctx, address.get("nodeName") or "", ip):
                        continue
                    return Location(host=ip, port=int(ep_port.get("port") or 0),
                                    path="/" + options.get("path", ""), backend="direct",
                                    scheme=scheme or "http", resource="services", name=service)
        raise errors.ServiceUnavailable(f'no endpoints available for service "{service}"')


SERVICE_PROXY = ServiceProxy("proxy", verbs=PROXY_VERBS, methods=PROXY_METHODS, subpath=True,
                             kind=("", "v1", "ServiceProxyOptions"))
