"""core/v1 Service: defaults, cluster-IP and NodePort allocation, validation, table.

Upstream: ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Service``),
``pkg/registry/core/service/strategy.go`` (status reset on create, ``dropTypeDependentFields``
on update), ``pkg/registry/core/service/storage/storage.go`` and ``alloc.go`` (allocation
before validation, ``patchAllocatedValues``, IP-family fields), ``ValidateService`` /
``ValidateServiceUpdate`` and ``printService``.

Allocation needs the stored Services and ``--service-cluster-ip-range``: the server hands
both to the strategy when it installs the kind (``WantsStores``, ``WantsOptions``), and the
strategy builds its :class:`ServiceAllocator` over them (tests may set ``allocator``).
The cluster is single-stack IPv4 (default range 10.96.0.0/12).
"""
from __future__ import annotations

import ipaddress

import orjson

from apiserver.registry.printers import age
from apiserver.registry.initializer import WantsOptions, WantsStores
from apiserver.registry.strategy import STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import (GoText, go_strings, is_dns1123_label, is_dns1123_subdomain,
                                          is_valid_port_name, validate_port_number)

from .columns import column, labels_text
from .service_proxy import SERVICE_PROXY
from .service_alloc import DEFAULT_SERVICE_CIDR, AllocationError, RangeFull, ServiceAllocator

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")     # sets.List order
AFFINITIES = ("ClientIP", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
FAMILIES = ("IPv4", "IPv6")
TRAFFIC_POLICIES = ("Cluster", "Local")
CLIENT_IP_TIMEOUT = 10800            # DefaultClientIPServiceAffinitySeconds


def needs_cluster_ip(svc: dict) -> bool:
    return (svc.get("spec") or {}).get("type") != "ExternalName"


def needs_node_ports(svc: dict) -> bool:
    spec = svc.get("spec") or {}
    if spec.get("type") == "NodePort":
        return True
    return spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _headless(spec: dict) -> bool:
    return (spec.get("clusterIPs") or [spec.get("clusterIP")])[0] == "None"


class ServiceStrategy(Strategy, WantsStores, WantsOptions):
    kind = "Service"
    plural = "services"
    return_deleted_object = True      # upstream ReturnDeletedObject
    short_names = ("svc",)
    categories = ("all",)
    subresources = (STATUS, SERVICE_PROXY)       # services/proxy: to an endpoint
    schema_name = "io.k8s.api.core.v1.Service"
    name_rule = "dns1035"
    columns = (
        column("Name", _META, "name", format="name"),
        column("Type", "ServiceSpec", "type"),
        column("Cluster-IP", "ServiceSpec", "clusterIP"),
        column("External-IP", "ServiceSpec", "externalIPs"),
        column("Port(s)", "ServiceSpec", "ports"),
        column("Age", _META, "creationTimestamp"),
        column("Selector", "ServiceSpec", "selector", priority=1),
    )

    allocator: ServiceAllocator | None = None
    _stores = None
    _cidr = DEFAULT_SERVICE_CIDR

    def set_stores(self, stores) -> None:
        self._stores = stores

    def set_options(self, options) -> None:
        self._cidr = options.service_cluster_ip_range or DEFAULT_SERVICE_CIDR

    def ip_allocator(self) -> ServiceAllocator:
        """The allocator over the serving Services (built on first use)."""
        if self.allocator is None:
            self.allocator = ServiceAllocator(self._serving_services, self._cidr)
        return self.allocator

    def _serving_services(self):
        store = self._stores.store("", "v1", "services")
        return [orjson.loads(doc) for doc in store.list(None)["items"]]

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj):
        """``SetDefaults_Service``; also keeps ``clusterIP`` and ``clusterIPs[0]`` in step."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["sessionAffinity"] == "ClientIP":
            cfg = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
            cfg.setdefault("timeoutSeconds", CLIENT_IP_TIMEOUT)
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if port.get("targetPort") in (None, 0, "") and "port" in port:
                    port["targetPort"] = port["port"]
        kind = spec["type"]
        if kind in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if kind in ("NodePort", "LoadBalancer", "ClusterIP") and spec.get("internalTrafficPolicy") is None:
            spec["internalTrafficPolicy"] = "Cluster"
        if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        elif spec.get("clusterIPs") and not spec.get("clusterIP"):
            spec["clusterIP"] = spec["clusterIPs"][0]

    def prepare_for_create(self, ctx, obj):
        """Status starts empty (``loadBalancer: {}``); then allocation, before validation as
        upstream's ``BeginCreate``: a cluster IP, node ports, the IP-family fields."""
        obj["status"] = {"loadBalancer": {}}
        spec = obj.get("spec")
        if isinstance(spec, dict):
            self._allocate(obj, None)

    def validate(self, ctx, obj):
        return validate_service(obj)

    def prepare_for_update(self, ctx, new, old):
        """Keep status; ``patchAllocatedValues`` (a PUT that omits the allocated IP or node
        ports keeps them); ``dropTypeDependentFields`` (a type change drops values the new
        type does not use, if the client left them untouched); allocate what is missing."""
        super().prepare_for_update(ctx, new, old)
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if not isinstance(spec, dict):
            return
        if needs_cluster_ip(old) and needs_cluster_ip(new):
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if not spec.get(key) and old_spec.get(key):
                    spec[key] = old_spec[key]
        if needs_node_ports(old) and needs_node_ports(new):
            kept = {p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, dict)}
            by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or []
                       if isinstance(p, dict)}
            for p in spec.get("ports") or []:
                if isinstance(p, dict) and not p.get("nodePort"):
                    value = by_name.get(p.get("name", ""))
                    if value and value not in kept:
                        p["nodePort"] = value
        if needs_cluster_ip(old) and not needs_cluster_ip(new):
            if spec.get("clusterIPs", []) == old_spec.get("clusterIPs", []):
                for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                    spec.pop(key, None)
        for key, kinds in (("internalTrafficPolicy", ("ClusterIP", "NodePort", "LoadBalancer")),
                           ("externalTrafficPolicy", ("NodePort", "LoadBalancer")),
                           ("allocateLoadBalancerNodePorts", ("LoadBalancer",))):
            if (old_spec.get("type") in kinds and spec.get("type") not in kinds
                    and spec.get(key) == old_spec.get(key)):
                spec.pop(key, None)
        if needs_node_ports(old) and not needs_node_ports(new):
            old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            for p in spec.get("ports") or []:
                if isinstance(p, dict) and p.get("nodePort") in old_ports:
                    p.pop("nodePort", None)
        self._allocate(new, old)

    def validate_update(self, ctx, new, old):
        errs = validate_service(new)
        old_ips = (old.get("spec") or {}).get("clusterIPs") or []
        new_ips = (new.get("spec") or {}).get("clusterIPs") or []
        if needs_cluster_ip(old) and needs_cluster_ip(new):
            for i, ip in enumerate(old_ips):
                if i >= len(new_ips) or new_ips[i] != ip:
                    errs.append(errors.invalid(f"spec.clusterIPs[{i}]", go_strings(new_ips),
                                               "may not change once set"))
                    break
        return errs

    def table_row(self, obj):
        spec = obj.get("spec") or {}
        ips = spec.get("clusterIPs") or []
        ports = ",".join(
            (f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', '')}" if p.get("nodePort")
             else f"{p.get('port')}/{p.get('protocol', '')}")
            for p in spec.get("ports") or [] if isinstance(p, dict))
        return [obj["metadata"].get("name", ""), spec.get("type", ""), ips[0] if ips else "<none>",
                external_ip(obj), ports or "<none>", age(obj), labels_text(spec.get("selector"))]

    # ---- allocation -----------------------------------------------------------------------
    def _allocate(self, svc: dict, old: dict | None) -> None:
        """Fill or check the cluster IP and node ports; raise 422 as upstream's allocator."""
        spec = svc["spec"]
        name = (svc.get("metadata") or {}).get("name", "")
        owner = ((svc.get("metadata") or {}).get("namespace", ""), name)
        old_spec = (old or {}).get("spec") or {}
        if not needs_cluster_ip(svc):
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if not spec.get(key):
                    spec.pop(key, None)
        else:
            self._allocate_ip(spec, old_spec, owner, name)
            self._families(spec)
        if needs_node_ports(svc):
            old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            mine = {p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, dict)}
            for i, port in enumerate(spec.get("ports") or []):
                if not isinstance(port, dict):
                    continue
                wanted = port.get("nodePort")
                if not wanted:
                    try:
                        port["nodePort"] = self.ip_allocator().allocate_node_port(mine - {None})
                    except RangeFull:
                        raise errors.InternalError("failed to allocate a nodePort: range is full")
                    mine.add(port["nodePort"])
                elif isinstance(wanted, int) and wanted not in old_ports:
                    try:
                        self.ip_allocator().check_node_port(wanted, owner=owner)
                    except AllocationError as exc:
                        raise errors.Invalid.for_object(
                            self.kind, "", name,
                            [errors.invalid(f"spec.ports[{i}].nodePort", wanted, str(exc))])

    def _allocate_ip(self, spec: dict, old_spec: dict, owner: tuple, name: str) -> None:
        ips = spec.get("clusterIPs") or []
        if not ips:
            try:
                ip = self.ip_allocator().allocate_ip()
            except RangeFull:
                raise errors.InternalError("failed to allocate a serviceIP: range is full")
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            return
        ip = ips[0]
        if ip == "None" or ip in (old_spec.get("clusterIPs") or []):
            return
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return                          # validation reports the malformed address
        try:
            self.ip_allocator().check_ip(ip, owner=owner)
        except AllocationError as exc:
            raise errors.Invalid.for_object(
                self.kind, "", name,
                [errors.invalid("spec.clusterIPs", go_strings(ips), f"failed to allocate IP {ip}: {exc}")])

    @staticmethod
    def _families(spec: dict) -> None:
        """IP-family fields of a single-stack IPv4 cluster: a headless Service without a
        selector may serve every configured family (``RequireDualStack``)."""
        if _headless(spec) and not spec.get("selector"):
            spec.setdefault("ipFamilyPolicy", "RequireDualStack")
        else:
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if not spec.get("ipFamilies"):
            ips = [ip for ip in spec.get("clusterIPs") or [] if ip != "None"]
            try:
                family = "IPv6" if ips and ipaddress.ip_address(ips[0]).version == 6 else "IPv4"
            except ValueError:
                family = "IPv4"
            spec["ipFamilies"] = [family]


def external_ip(svc: dict) -> str:
    """Upstream ``getServiceExternalIP`` (server-side tables are always wide)."""
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    kind, external = spec.get("type"), spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        ingress = sorted({(i.get("ip") or i.get("hostname")) for i in
                          (status.get("loadBalancer") or {}).get("ingress") or []
                          if isinstance(i, dict) and (i.get("ip") or i.get("hostname"))})
        if external:
            return ",".join(ingress + list(external))
        return ",".join(ingress) if ingress else "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def validate_service(svc: dict) -> list:
    """``ValidateService``: the rules users meet (ports, type, affinity, IPs, ExternalName)."""
    spec = svc.get("spec") if isinstance(svc.get("spec"), dict) else {}
    errs: list = []
    kind = spec.get("type") or ""
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not ports and not _headless(spec) and kind != "ExternalName":
        errs.append(errors.required("spec.ports"))
    names: set = set()
    for i, port in enumerate(ports):
        errs += _validate_port(port, f"spec.ports[{i}]", len(ports) > 1, names)
        if port.get("nodePort") and kind in ("ClusterIP", "ExternalName"):
            errs.append(errors.forbidden(f"spec.ports[{i}].nodePort",
                                         f"may not be used when `type` is '{kind}'"))
    seen = set()
    for i, port in enumerate(ports):
        key = (port.get("protocol"), port.get("port"))
        if key in seen:
            # upstream prints the Go struct it keyed on (protocol and port only)
            errs.append(errors.duplicate(f"spec.ports[{i}]", GoText(
                f'core.ServicePort{{Name:"", Protocol:"{key[0]}", AppProtocol:(*string)(nil), '
                f'Port:{key[1]}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, '
                'NodePort:0}')))
        seen.add(key)
    if not kind:
        errs.append(errors.required("spec.type"))
    elif kind not in TYPES:
        errs.append(errors.not_supported("spec.type", kind, TYPES))
    affinity = spec.get("sessionAffinity") or ""
    if not affinity:
        errs.append(errors.required("spec.sessionAffinity"))
    elif affinity not in AFFINITIES:
        errs.append(errors.not_supported("spec.sessionAffinity", affinity, AFFINITIES))
    if kind == "ExternalName":
        ext = spec.get("externalName") or ""
        if not ext:
            errs.append(errors.required("spec.externalName"))
        else:
            errs += [errors.invalid("spec.externalName", ext, m)
                     for m in is_dns1123_subdomain(ext.rstrip("."))]
        if spec.get("clusterIPs"):
            errs.append(errors.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if i == 0 and ip == "None":
            if kind in ("NodePort", "LoadBalancer"):
                errs.append(errors.invalid("spec.clusterIPs[0]", ip,
                                           f"may not be set to 'None' for {kind} services"))
            continue
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errs.append(errors.invalid(f"spec.clusterIPs[{i}]", ip,
                                       "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in POLICIES:
        errs.append(errors.not_supported("spec.ipFamilyPolicy", policy, POLICIES))
    elif policy == "RequireDualStack" and not (_headless(spec) and not spec.get("selector")):
        errs.append(errors.invalid("spec.ipFamilyPolicy", policy,
                                   "this cluster is not configured for dual-stack services"))
    for i, family in enumerate(spec.get("ipFamilies") or []):
        if family not in FAMILIES:
            errs.append(errors.not_supported(f"spec.ipFamilies[{i}]", family, FAMILIES))
    for key in ("externalTrafficPolicy", "internalTrafficPolicy"):
        value = spec.get(key)
        if value and value not in TRAFFIC_POLICIES:
            errs.append(errors.not_supported(f"spec.{key}", value, TRAFFIC_POLICIES))
    return errs


def _validate_port(port: dict, path: str, multiple: bool, names: set) -> list:
    errs = []
    name = port.get("name") or ""
    if not name:
        if multiple:
            errs.append(errors.required(f"{path}.name"))
    else:
        errs += [errors.invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(errors.duplicate(f"{path}.name", name))
        names.add(name)
    number = port.get("port")
    if isinstance(number, int):
        errs += validate_port_number(number, f"{path}.port")
    else:
        errs.append(errors.required(f"{path}.port"))
    protocol = port.get("protocol") or ""
    if not protocol:
        errs.append(errors.required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(errors.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, int):
        errs += validate_port_number(target, f"{path}.targetPort")
    elif isinstance(target, str):
        errs += [errors.invalid(f"{path}.targetPort", target, m) for m in is_valid_port_name(target)]
    node_port = port.get("nodePort")
    if node_port:
        errs += validate_port_number(node_port, f"{path}.nodePort")
    return errs
