"""discovery.k8s.io/v1 EndpointSlice.

Upstream: ``SetDefaults_EndpointPort`` (``pkg/apis/discovery/v1/defaults.go``),
``pkg/apis/discovery/validation/validation.go``, ``pkg/registry/discovery/endpointslice/strategy.go``
(generation set on create and bumped when anything but metadata changes) and
``printEndpointSlice``.
"""
from __future__ import annotations

import ipaddress

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import (
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, validate_immutable,
)
from resources.core.columns import doc

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS, MAX_PORTS, MAX_ADDRESSES = 1000, 20000, 100
_DEF = "io.k8s.api.discovery.v1.EndpointSlice"


class EndpointSliceStrategy(Strategy):
    group = "discovery.k8s.io"
    kind = "EndpointSlice"
    plural = "endpointslices"
    schema_name = _DEF
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("AddressType", description=doc(_DEF, "addressType")),
               Column("Ports", description=doc(_DEF, "ports")),
               Column("Endpoints", description=doc(_DEF, "endpoints")),
               AGE_COLUMN)

    def default(self, obj):
        """``SetDefaults_EndpointPort``: name "" and protocol TCP."""
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("name", "")
                port.setdefault("protocol", "TCP")

    def validate(self, ctx, obj):
        errs = _validate_endpoints(obj.get("endpoints") or [], obj.get("addressType"))
        errs += _validate_ports(obj.get("ports") or [])
        address_type = obj.get("addressType")
        if not address_type:
            errs.append(errors.required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            errs.append(errors.not_supported("addressType", address_type, ADDRESS_TYPES))
        return errs

    def validate_update(self, ctx, new, old):
        """As create; addressType is immutable."""
        return self.validate(ctx, new) + validate_immutable(new.get("addressType"), old.get("addressType"),
                                                       "addressType")

    def generation_changed(self, new, old):
        """Upstream (pkg/registry/discovery/endpointslice/strategy.go): labels count too."""
        return super().generation_changed(new, old) or \
            (new.get("metadata") or {}).get("labels") != (old.get("metadata") or {}).get("labels")

    def table_row(self, obj):
        ports = []
        for port in obj.get("ports") or []:
            if port.get("port") is not None:
                ports.append(str(port["port"]))
            elif port.get("name") is not None:
                ports.append(port["name"])
            else:
                ports.append("*")
        addresses = [a for e in obj.get("endpoints") or [] for a in (e.get("addresses") or [])]
        return [obj["metadata"]["name"], obj.get("addressType", ""), _with_more(ports),
                _with_more(addresses), age(obj)]


def _with_more(values: list, limit: int = 3) -> str:
    """Upstream ``listWithMoreString``: three values, then "+ N more..."; "<unset>" if none."""
    if len(values) > limit:
        return ",".join(values[:limit]) + f" + {len(values) - limit} more..."
    return ",".join(values) or "<unset>"


def _validate_endpoints(endpoints: list, address_type) -> list:
    errs = []
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(errors.FieldError("FieldValueTooMany", "endpoints", len(endpoints),
                                      f"must have at most {MAX_ENDPOINTS} items", has_value=False))
    for i, ep in enumerate(endpoints):
        p = f"endpoints[{i}]"
        ep = ep if isinstance(ep, dict) else {}
        addresses = ep.get("addresses") or []
        if not addresses:
            errs.append(errors.required(p + ".addresses", "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(errors.FieldError("FieldValueTooMany", p + ".addresses", len(addresses),
                                          f"must have at most {MAX_ADDRESSES} items", has_value=False))
        for j, address in enumerate(addresses):
            errs += _validate_address(address, address_type, f"{p}.addresses[{j}]")
        if ep.get("hostname"):
            errs += [errors.invalid(p + ".hostname", ep["hostname"], m)
                     for m in is_dns1123_label(ep["hostname"])]
        if ep.get("nodeName"):
            errs += [errors.invalid(p + ".nodeName", ep["nodeName"], m)
                     for m in is_dns1123_subdomain(ep["nodeName"])]
    return errs


def _validate_address(address, address_type, path: str) -> list:
    if address_type == "FQDN":
        return [errors.invalid(path, address, m) for m in is_dns1123_subdomain(str(address))]
    if address_type not in ("IPv4", "IPv6"):
        return []
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        return [errors.invalid(path, address, "must be a valid IP address")]
    if address_type == "IPv4" and ip.version != 4:
        return [errors.invalid(path, address, "must be an IPv4 address")]
    if address_type == "IPv6" and ip.version != 6:
        return [errors.invalid(path, address, "must be an IPv6 address")]
    return []


def _validate_ports(ports: list) -> list:
    errs = []
    if len(ports) > MAX_PORTS:
        errs.append(errors.FieldError("FieldValueTooMany", "ports", len(ports),
                                      f"must have at most {MAX_PORTS} items", has_value=False))
    names = set()
    for i, port in enumerate(ports):
        p = f"ports[{i}]"
        port = port if isinstance(port, dict) else {}
        name = port.get("name") or ""
        if name:
            errs += [errors.invalid(p + ".name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(errors.duplicate(p + ".name", name))
        names.add(name)
        protocol = port.get("protocol")
        if not protocol:
            errs.append(errors.required(p + ".protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(errors.not_supported(p + ".protocol", protocol, PROTOCOLS))
        number = port.get("port")
        if number is not None and (not isinstance(number, int) or not 0 <= number <= 65535):
            errs.append(errors.invalid(p + ".port", number, "must be between 0 and 65535, inclusive"))
        if port.get("appProtocol"):
            errs += [errors.invalid(p + ".appProtocol", port["appProtocol"], m)
                     for m in is_qualified_name(port["appProtocol"])]
    return errs
