"""Where a node's kubelet listens, from its Node object only, and ``nodes/proxy``.

Upstream: kubernetes/kubernetes pkg/kubelet/client/kubelet_client.go
(``NodeConnectionInfoGetter.GetConnectionInfo``: the first ``status.addresses`` entry of the
``--kubelet-preferred-address-types`` in that order, the port of
``status.daemonEndpoints.kubeletEndpoint.Port`` or 10250, https) and
pkg/registry/core/node/strategy.go ``ResourceLocation`` (nodes/proxy).

Server-side request forgery (upstream CVE-2022-3294, CVE-2020-8562): the address always
comes from a registered Node, never from the request; a name is resolved once here and the
checked IP is what gets dialled (no second lookup).  Unspecified, link-local (cloud metadata
at 169.254.169.254), multicast and broadcast addresses are refused with upstream's "address
not allowed".  Loopback is allowed, unlike upstream's nodes/proxy check, because this
server's kubelets live on 127.0.0.1; what makes a Node that points elsewhere harmless is
the TLS check of the dial (``apiserver.endpoints.upgrade_proxy``): the peer must present a
certificate of ``--kubelet-certificate-authority`` naming the *node* (kubelet serving
certificates name their node), and this server's own secure port is never dialled.
nodes/proxy to a port other than the kubelet's (upstream would use its proxy transport to
any port of the node) is refused: the API server talks to kubelets and nothing else.

Also here, for pods/proxy and services/proxy: ``check_ip`` (upstream IsProxyableIP) and
``unrouted_pod_ip`` (a pod IP of a node's podCIDR, which no pod network serves here).
"""
from __future__ import annotations

import ipaddress
import socket

from apiserver.registry.strategy import Connect, Location
from apiserver.runtime import errors

DEFAULT_PORT = 10250
DEFAULT_ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")
NOT_ALLOWED = "address not allowed"


def check_ip(ip: str, loopback: bool = True) -> str:
    """``ip`` when it may be dialled, else BadRequest "address not allowed" (upstream
    proxyutil.IsProxyableIP, which refuses loopback as well: ``loopback=False``)."""
    try:
        addr = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        raise errors.BadRequest(NOT_ALLOWED) from None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return check_ip(str(addr.ipv4_mapped), loopback)
    if addr.is_unspecified or addr.is_link_local or addr.is_multicast or \
            (addr.is_loopback and not loopback) or \
            (addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255")):
        raise errors.BadRequest(NOT_ALLOWED)
    return str(addr)


def resolve_once(host: str) -> str:
    """An IP for ``host`` (itself when it is one), looked up once and checked."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        return check_ip(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise errors.ServiceUnavailable(f"error dialing backend: dial tcp: lookup {host}: "
                                        f"{exc}") from None
    if not infos:
        raise errors.ServiceUnavailable(f"error dialing backend: dial tcp: lookup {host}: "
                                        "no such host")
    return check_ip(infos[0][4][0])


def unrouted_pod_ip(ctx, node_name: str, ip: str) -> str:
    """The podCIDR of ``node_name`` holding ``ip``, or "".  This project's kubelets hand
    out pod IPs from their node's podCIDR without any pod network behind them (simulated
    or process pods listen, if at all, on this machine's own addresses), so such an IP
    reaches no pod: a dial would go to whatever else on the network has that address."""
    if not node_name:
        return ""
    try:
        node = ctx.stores.store("", "v1", "nodes").load("", node_name)[0]
    except errors.NotFound:
        return ""
    spec = node.get("spec") if isinstance(node.get("spec"), dict) else {}
    cidrs = list(spec.get("podCIDRs") or []) or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    for cidr in cidrs:
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return cidr
        except (TypeError, ValueError):
            continue
    return ""


def kubelet_endpoint(ctx, node_name: str, preferred=DEFAULT_ADDRESS_TYPES) -> tuple[str, int]:
    """(checked IP, port) of ``node_name``'s kubelet, from the Node object."""
    node = ctx.stores.store("", "v1", "nodes").load("", node_name)[0]
    status = node.get("status") if isinstance(node.get("status"), dict) else {}
    addresses = [a for a in (status.get("addresses") or []) if isinstance(a, dict)]
    host = ""
    for kind in preferred or DEFAULT_ADDRESS_TYPES:
        host = next((a.get("address") or "" for a in addresses
                     if a.get("type") == kind and a.get("address")), "")
        if host:
            break
    if not host:
        # upstream nodeutil.GetPreferredNodeAddress
        raise errors.BadRequest(f'no preferred addresses found; known addresses: '
                                f'[{" ".join(str(a.get("type", "")) + " " + str(a.get("address", "")) for a in addresses)}]')
    endpoints = status.get("daemonEndpoints") if isinstance(status.get("daemonEndpoints"), dict) else {}
    kubelet = endpoints.get("kubeletEndpoint") if isinstance(endpoints.get("kubeletEndpoint"), dict) else {}
    port = kubelet.get("Port")
    port = port if isinstance(port, int) and 0 < port < 65536 else DEFAULT_PORT
    return resolve_once(host), port


def kubelet_location(ctx, node_name: str, path: str, query: str, server_options,
                     **flags) -> Location:
    preferred = tuple(getattr(server_options, "kubelet_preferred_address_types", ()) or ()) \
        or DEFAULT_ADDRESS_TYPES
    host, port = kubelet_endpoint(ctx, node_name, preferred)
    return Location(host=host, port=port, path=path, query=query, backend="kubelet",
                    server_name=node_name, **flags)


def split_scheme_name_port(value: str) -> tuple[str, str, str] | None:
    """upstream utilnet.SplitSchemeNamePort: ``[scheme:]name[:port]``."""
    parts = value.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


class NodeProxy(Connect):
    """``nodes/<name>/proxy[/<path>]`` (upstream ``ProxyREST`` of
    pkg/registry/core/node/rest/proxy.go): any method, to the node's kubelet."""

    def options(self, query, subpath):
        return {"kind": "NodeProxyOptions", "apiVersion": "v1", "path": subpath}

    def location(self, ctx, store, namespace, name, options, server_options):
        split = split_scheme_name_port(name)
        if split is None:
            raise errors.BadRequest(f'invalid node request "{name}"')
        scheme, node, port = split
        host, kubelet_port = kubelet_endpoint(
            ctx, node, tuple(getattr(server_options, "kubelet_preferred_address_types", ())
                             or ()) or DEFAULT_ADDRESS_TYPES)
        if (port and port != str(kubelet_port)) or scheme == "http":
            raise errors.BadRequest(f'invalid node request "{name}": only the kubelet '
                                    f'endpoint (port {kubelet_port}, https) is proxied')
        return Location(host=host, port=kubelet_port, path="/" + options.get("path", ""),
                        backend="kubelet", server_name=node, resource="nodes", name=node)


PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PROXY_VERBS = ("create", "delete", "get", "patch", "update")
NODE_PROXY = NodeProxy("proxy", verbs=PROXY_VERBS, methods=PROXY_METHODS, subpath=True,
                       kind=("", "v1", "NodeProxyOptions"))

