"""networking.k8s.io/v1 Ingress (+status).

Upstream: validation ``pkg/apis/networking/validation/validation.go`` (``ValidateIngressCreate``,
``ValidateIngressUpdate``, ``ValidateIngressSpec``, ``validateIngressBackend``,
``ValidateIngressStatusUpdate``), strategy ``pkg/registry/networking/ingress/strategy.go``
(status reset on create and kept on update, generation bumped on spec changes, the
deprecated-annotation warning) and ``printIngress`` in
``pkg/printers/internalversion/printers.go``.  networking/v1 has no Ingress defaults.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import (GoText, is_dns1035_label, is_dns1123_subdomain,
                                          is_path_segment_name, is_valid_port_name,
                                          validate_port_number)

from .checks import is_ip, validate_host

ANNOTATION_CLASS = "kubernetes.io/ingress.class"
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")       # sets.List order
INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_SUFFIXES = ("/..", "/.")
IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


class IngressStrategy(Strategy):
    group = "networking.k8s.io"
    kind = "Ingress"
    plural = "ingresses"
    short_names = ("ing",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.networking.v1.Ingress"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Class", description="The name of the IngressClass resource that should "
                                           "be used for additional configuration"),
               Column("Hosts", description="Hosts that incoming requests are matched against "
                                           "before the ingress rule"),
               Column("Address", description="Address is a list containing ingress points for "
                                             "the load-balancer"),
               Column("Ports", description="Ports of TLS configurations that open"),
               AGE_COLUMN)

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj):
        """No defaulting in networking/v1; Go always writes the (struct) ``spec``."""
        if obj.get("spec") is None:
            obj["spec"] = {}

    def prepare_for_create(self, ctx, obj):
        """Create cannot set status: it starts as Go's zero ``IngressStatus``."""
        obj["status"] = {"loadBalancer": {}}

    def validate(self, ctx, obj):
        """``ValidateIngressCreate``: the spec, and a class annotation that disagrees with
        ``spec.ingressClassName``; the annotation alone only earns a warning
        (``WarningsOnCreate``)."""
        errs = validate_ingress_spec(_spec(obj), "spec")
        annotations = obj["metadata"].get("annotations") or {}
        class_name = _spec(obj).get("ingressClassName")
        if ANNOTATION_CLASS in annotations:
            value = annotations[ANNOTATION_CLASS]
            if class_name is None:
                ctx.warn(f'annotation "{ANNOTATION_CLASS}" is deprecated, please use '
                         "'spec.ingressClassName' instead")
            elif value != class_name:
                errs.append(errors.invalid(f"annotations.{ANNOTATION_CLASS}", value,
                                           "must match `ingressClassName` when both are specified"))
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateIngressUpdate``: the spec rules, with upstream's leniency for invalid
        TLS secret names and wildcard-host rules an old object already had."""
        old_spec = _spec(old)
        lenient_secret = any(_secret_errors(t.get("secretName")) for t in _dicts(old_spec.get("tls")))
        lenient_wildcard = any("*" in (r.get("host") or "") and _rule_value_errors(r, "")
                               for r in _dicts(old_spec.get("rules")))
        return validate_ingress_spec(_spec(new), "spec", allow_invalid_secret=lenient_secret,
                                     allow_invalid_wildcard_rule=lenient_wildcard)

    def validate_status_update(self, ctx, new, old):
        """``ValidateIngressStatusUpdate``: load-balancer IPs and hostnames."""
        lb = ((new.get("status") or {}).get("loadBalancer") or {})
        errs = []
        for i, ing in enumerate(_dicts(lb.get("ingress"))):
            p = f"status.loadBalancer.ingress[{i}]"
            if ing.get("ip") and not is_ip(ing["ip"]):
                errs.append(errors.invalid(f"{p}.ip", ing["ip"], IP_MSG))
            host = ing.get("hostname")
            if host:
                errs += [errors.invalid(f"{p}.hostname", host, m) for m in is_dns1123_subdomain(host)]
                if is_ip(host):
                    errs.append(errors.invalid(f"{p}.hostname", host,
                                               "must be a DNS name, not an IP address"))
        return errs

    def canonicalize(self, obj):
        """Go always writes ``status.loadBalancer`` (a struct), whatever a status write sent."""
        status = obj.get("status")
        if isinstance(status, dict):
            status.setdefault("loadBalancer", {})

    def table_row(self, obj):
        """``printIngress`` (server-side tables are wide: the address is not clipped)."""
        spec = _spec(obj)
        lb = ((obj.get("status") or {}).get("loadBalancer") or {})
        address = ",".join(sorted({i.get("ip") or i.get("hostname") for i in _dicts(lb.get("ingress"))
                                   if i.get("ip") or i.get("hostname")}))
        return [obj["metadata"].get("name", ""), spec.get("ingressClassName") or "<none>",
                format_hosts(_dicts(spec.get("rules"))), address,
                "80, 443" if spec.get("tls") else "80", age(obj)]


def format_hosts(rules: list) -> str:
    """Upstream ``formatHosts``: up to three hosts, then ``+ N more...``; ``*`` for none."""
    hosts, more = [], False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


# ---------------------------------------------------------------- validation

def validate_ingress_spec(spec: dict, path: str, *, allow_invalid_secret: bool = False,
                          allow_invalid_wildcard_rule: bool = False) -> list:
    """``ValidateIngressSpec``."""
    errs: list = []
    rules, backend = spec.get("rules"), spec.get("defaultBackend")
    if not rules and backend is None:
        shown = GoText("[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}")
        errs.append(errors.invalid(path, shown, "either `defaultBackend` or `rules` must be specified"))
    if backend is not None:
        errs += validate_backend(backend, f"{path}.defaultBackend")
    for i, rule in enumerate(_dicts(rules)):
        p = f"{path}.rules[{i}]"
        host = rule.get("host") or ""
        if host:
            if is_ip(host):
                errs.append(errors.invalid(f"{p}.host", host, "must be a DNS name, not an IP address"))
            errs += validate_host(host, f"{p}.host")
        if "*" not in host or not allow_invalid_wildcard_rule:
            errs += _rule_value_errors(rule, p)
    for i, tls in enumerate(_dicts(spec.get("tls"))):
        p = f"{path}.tls[{i}]"
        for j, host in enumerate(tls.get("hosts") or []):
            errs += validate_host(str(host), f"{p}.hosts[{j}]")
        if not allow_invalid_secret:
            name = tls.get("secretName")
            errs += [errors.invalid(f"{p}.secretName", name, m) for m in _secret_errors(name)]
    if spec.get("ingressClassName") is not None:
        name = spec["ingressClassName"]
        errs += [errors.invalid(f"{path}.ingressClassName", name, m)
                 for m in is_dns1123_subdomain(str(name))]
    return errs


def _rule_value_errors(rule: dict, path: str) -> list:
    """``validateIngressRuleValue`` / ``validateHTTPIngressRuleValue``."""
    http = rule.get("http")
    if not isinstance(http, dict):
        return []
    paths = http.get("paths")
    errs = [] if paths else [errors.required(f"{path}.http.paths")]
    for i, item in enumerate(_dicts(paths)):
        errs += validate_http_path(item, f"{path}.http.paths[{i}]")
    return errs


def validate_http_path(item: dict, path: str) -> list:
    """``validateHTTPIngressPath``: pathType required and known; Exact/Prefix paths are
    absolute and clean; then the backend."""
    kind = item.get("pathType")
    if kind is None:
        return [errors.required(f"{path}.pathType", "pathType must be specified")]
    value = item.get("path") or ""
    errs: list = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(errors.invalid(f"{path}.path", value, "must be an absolute path"))
        for seq in INVALID_SEQUENCES if value else ():
            if seq in value:
                errs.append(errors.invalid(f"{path}.path", value, f"must not contain '{seq}'"))
        for suffix in INVALID_SUFFIXES if value else ():
            if value.endswith(suffix):
                errs.append(errors.invalid(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(errors.invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(errors.not_supported(f"{path}.pathType", kind, PATH_TYPES))
    return errs + validate_backend(item.get("backend"), f"{path}.backend")


def validate_backend(backend, path: str) -> list:
    """``validateIngressBackend``: exactly one of ``service`` and ``resource``; a service
    names a DNS-1035 Service and one port (by name or number)."""
    backend = backend if isinstance(backend, dict) else {}
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [errors.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return validate_typed_reference(resource, f"{path}.resource")
    if service is None:
        return [errors.invalid(path, "", "resource or service backend is required")]
    service = service if isinstance(service, dict) else {}
    errs: list = []
    name = service.get("name") or ""
    if not name:
        errs.append(errors.required(f"{path}.service.name"))
    else:
        errs += [errors.invalid(f"{path}.service.name", name, m) for m in is_dns1035_label(name)]
    port = service.get("port") if isinstance(service.get("port"), dict) else {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        errs.append(errors.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [errors.invalid(f"{path}.service.port.name", port_name, m)
                 for m in is_valid_port_name(port_name)]
    elif number:
        errs += validate_port_number(number, f"{path}.service.port.number")
    else:
        errs.append(errors.required(path, "port name or number is required"))
    return errs


def validate_typed_reference(ref, path: str) -> list:
    """``validateIngressTypedLocalObjectReference``: apiGroup, kind and name."""
    ref = ref if isinstance(ref, dict) else {}
    errs: list = []
    if ref.get("apiGroup") is not None:
        errs += [errors.invalid(f"{path}.apiGroup", ref["apiGroup"], m)
                 for m in is_dns1123_subdomain(str(ref["apiGroup"]))]
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(errors.required(f"{path}.{key}"))
        else:
            errs += [errors.invalid(f"{path}.{key}", value, m) for m in is_path_segment_name(value)]
    return errs


def _secret_errors(name) -> list:
    """``validateTLSSecretName``: empty is allowed, else a Secret name (DNS subdomain)."""
    return is_dns1123_subdomain(str(name)) if name else []


def _spec(obj: dict) -> dict:
    return obj.get("spec") if isinstance(obj.get("spec"), dict) else {}


def _dicts(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
