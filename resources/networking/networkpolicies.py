"""networking.k8s.io/v1 NetworkPolicy.

Upstream: ``SetDefaults_NetworkPolicy`` / ``SetDefaults_NetworkPolicyPort``
(``pkg/apis/networking/v1/defaults.go``), ``ValidateNetworkPolicySpec``,
``ValidateNetworkPolicyPort``, ``ValidateNetworkPolicyPeer`` and ``ValidateIPBlock``
(``pkg/apis/networking/validation/validation.go``), ``pkg/registry/networking/networkpolicy/strategy.go``
(generation 1 on create, bumped on spec changes; networking/v1 has no status since 1.28) and
``printNetworkPolicy``.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.selectors import validate_label_selector
from apiserver.runtime.validation import GoText, is_valid_port_name, validate_port_number
from resources.core.columns import doc
from resources.podtemplate import format_selector

from .checks import parse_cidr, validate_cidr

PROTOCOLS = ("TCP", "UDP", "SCTP")               # upstream lists them in this order
POLICY_TYPES = ("Ingress", "Egress")


class NetworkPolicyStrategy(Strategy):
    group = "networking.k8s.io"
    kind = "NetworkPolicy"
    plural = "networkpolicies"
    short_names = ("netpol",)
    schema_name = "io.k8s.api.networking.v1.NetworkPolicy"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Pod-Selector",
                      description=doc("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector")),
               AGE_COLUMN)

    def default(self, obj):
        """Policy types default to ``Ingress`` (plus ``Egress`` when egress rules exist),
        port protocols to TCP.  ``spec`` and ``spec.podSelector`` are Go structs: always
        written, ``{}`` when empty."""
        spec = obj.get("spec")
        if spec is None:
            spec = obj["spec"] = {}
        if not isinstance(spec, dict):
            return
        if spec.get("podSelector") is None:
            spec["podSelector"] = {}
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
        for direction in ("ingress", "egress"):
            for rule in _dicts(spec.get(direction)):
                for port in _dicts(rule.get("ports")):
                    if port.get("protocol") is None:
                        port["protocol"] = "TCP"

    def validate(self, ctx, obj):
        return validate_network_policy_spec(_spec(obj), "spec")

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), format_selector(_spec(obj).get("podSelector") or {}),
                age(obj)]


def validate_network_policy_spec(spec: dict, path: str) -> list:
    """``ValidateNetworkPolicySpec``: the pod selector, every rule's ports and peers, and
    at most two policy types out of Ingress/Egress."""
    errs = validate_label_selector(spec.get("podSelector") or {}, f"{path}.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_dicts(spec.get(direction))):
            p = f"{path}.{direction}[{i}]"
            for j, port in enumerate(_dicts(rule.get("ports"))):
                errs += validate_port(port, f"{p}.ports[{j}]")
            for j, peer in enumerate(_dicts(rule.get(peers_key))):
                errs += validate_peer(peer, f"{p}.{peers_key}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > len(POLICY_TYPES):
        shown = GoText("[]networking.PolicyType{" + ", ".join(f'"{t}"' for t in types) + "}")
        return errs + [errors.invalid(f"{path}.policyTypes", shown,
                                      "may not specify more than two policyTypes")]
    for i, kind in enumerate(types):
        if kind not in POLICY_TYPES:
            errs.append(errors.not_supported(f"{path}.policyTypes[{i}]", kind, POLICY_TYPES))
    return errs


def validate_port(port: dict, path: str) -> list:
    """``ValidateNetworkPolicyPort``: protocol, a port number or name, and ``endPort``
    only after a numeric port, not below it."""
    errs: list = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.append(errors.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    value, end = port.get("port"), port.get("endPort")
    if value is None:
        if end is not None:
            errs.append(errors.invalid(f"{path}.endPort", end,
                                       "may not be specified when `port` is not specified"))
    elif isinstance(value, int):
        errs += validate_port_number(value, f"{path}.port")
        if isinstance(end, int):
            if end < value:
                errs.append(errors.invalid(f"{path}.endPort", end, "must be greater than or equal to `port`"))
            errs += validate_port_number(end, f"{path}.endPort")
    else:
        if end is not None:
            errs.append(errors.invalid(f"{path}.endPort", end,
                                       "may not be specified when `port` is non-numeric"))
        errs += [errors.invalid(f"{path}.port", value, m) for m in is_valid_port_name(str(value))]
    return errs


def validate_peer(peer: dict, path: str) -> list:
    """``ValidateNetworkPolicyPeer``: at least one of the selectors or an ipBlock, and an
    ipBlock alone."""
    errs: list = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs += validate_label_selector(peer[key], f"{path}.{key}")
    if peer.get("ipBlock") is not None:
        count += 1
        errs += validate_ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if count == 0:
        errs.append(errors.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(errors.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_ip_block(block, path: str) -> list:
    """``ValidateIPBlock``: a valid ``cidr``; each ``except`` a valid CIDR strictly inside it."""
    block = block if isinstance(block, dict) else {}
    cidr = block.get("cidr") or ""
    if not cidr:
        return [errors.required(f"{path}.cidr")]
    errs = validate_cidr(cidr, f"{path}.cidr")
    network = parse_cidr(cidr)
    if network is None:
        return errs
    for i, item in enumerate(block.get("except") or []):
        p = f"{path}.except[{i}]"
        errs += validate_cidr(item, p)
        inner = parse_cidr(item)
        if inner is None:
            continue
        if inner.version != network.version or inner.network_address not in network \
                or network.prefixlen >= inner.prefixlen:
            errs.append(errors.invalid(p, item, "must be a strict subset of `cidr`"))
    return errs


def _spec(obj: dict) -> dict:
    return obj.get("spec") if isinstance(obj.get("spec"), dict) else {}


def _dicts(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
