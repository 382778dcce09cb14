"""core/v1 Endpoints (``kubectl get ep``).

Upstream: ``pkg/registry/core/endpoint/strategy.go``, ``ValidateEndpoints`` (addresses are
IPs outside loopback/link-local, ports named when more than one, protocol enum) and
``printEndpoints``/``formatEndpoints`` (at most three ``ip:port`` pairs, then ``+ N more...``).
"""
from __future__ import annotations

import ipaddress

from apiserver.registry.printers import age
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_dns1123_label, validate_port_number

from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
PROTOCOLS = ("SCTP", "TCP", "UDP")
SHOWN = 3


class EndpointsStrategy(Strategy):
    kind = "Endpoints"
    plural = "endpoints"
    singular = "endpoints"
    short_names = ("ep",)
    schema_name = "io.k8s.api.core.v1.Endpoints"
    columns = (column("Name", _META, "name", format="name"),
               column("Endpoints", "Endpoints", "subsets"),
               column("Age", _META, "creationTimestamp"))

    def default(self, obj):
        """``SetDefaults_EndpointPort``: protocol TCP."""
        for subset in _dicts(obj.get("subsets")):
            for port in _dicts(subset.get("ports")):
                port.setdefault("protocol", "TCP")

    def validate(self, ctx, obj):
        errs = []
        for i, subset in enumerate(_dicts(obj.get("subsets"))):
            path = f"subsets[{i}]"
            for key in ("addresses", "notReadyAddresses"):
                for j, addr in enumerate(_dicts(subset.get(key))):
                    errs += _validate_address(addr, f"{path}.{key}[{j}]")
            ports = _dicts(subset.get("ports"))
            for j, port in enumerate(ports):
                errs += _validate_port(port, f"{path}.ports[{j}]", len(ports) > 1)
        return errs

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), format_endpoints(obj), age(obj)]


def format_endpoints(obj: dict) -> str:
    """Upstream ``formatEndpoints`` with all ports."""
    subsets = _dicts(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown, count, more = [], 0, False
    for subset in subsets:
        addresses = [a.get("ip", "") for a in _dicts(subset.get("addresses"))]
        ports = _dicts(subset.get("ports"))
        for port in ports or [None]:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == SHOWN:
                    more = True
                    break
                if port is None:
                    shown.append(ip)
                else:
                    host = f"[{ip}]" if ":" in ip else ip
                    shown.append(f"{host}:{port.get('port')}")
    text = ",".join(shown)
    return f"{text} + {count - SHOWN} more..." if more else text


def _validate_address(addr: dict, path: str) -> list:
    ip = addr.get("ip") or ""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return [errors.invalid(f"{path}.ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    if parsed.is_unspecified:
        return [errors.invalid(f"{path}.ip", ip, "may not be unspecified (0.0.0.0)")]
    if parsed.is_loopback:
        return [errors.invalid(f"{path}.ip", ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    if parsed.is_link_local:
        return [errors.invalid(f"{path}.ip", ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    if parsed.is_multicast:
        return [errors.invalid(f"{path}.ip", ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")]
    return []


def _validate_port(port: dict, path: str, require_name: bool) -> list:
    errs = []
    name = port.get("name") or ""
    if not name and require_name:
        errs.append(errors.required(f"{path}.name"))
    elif name:
        errs += [errors.invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    number = port.get("port")
    errs += validate_port_number(number, f"{path}.port") if isinstance(number, int) else \
        [errors.required(f"{path}.port")]
    protocol = port.get("protocol") or ""
    if not protocol:
        errs.append(errors.required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(errors.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    return errs


def _dicts(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
