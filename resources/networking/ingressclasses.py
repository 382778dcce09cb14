"""networking.k8s.io/v1 IngressClass (cluster-scoped).

Upstream: ``SetDefaults_IngressClass`` (``pkg/apis/networking/v1/defaults.go``: a parameters
reference without a scope is cluster-scoped), ``ValidateIngressClass`` /
``ValidateIngressClassUpdate`` and ``validateIngressClassParametersReference``
(``pkg/apis/networking/validation/validation.go``), ``pkg/registry/networking/ingressclass/strategy.go``
(generation 1 on create, bumped on spec changes) and ``printIngressClass``.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import (is_dns1123_label, is_dns1123_subdomain,
                                          is_path_segment_name, validate_immutable)

from .checks import validate_domain_prefixed_path

MAX_CONTROLLER = 250
SCOPES = ("Cluster", "Namespace")                 # sets.List order


class IngressClassStrategy(Strategy):
    group = "networking.k8s.io"
    kind = "IngressClass"
    plural = "ingressclasses"
    namespaced = False
    schema_name = "io.k8s.api.networking.v1.IngressClass"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Controller", description="Controller that is responsible for handling this class"),
               Column("Parameters", description="A reference to a resource with additional parameters"),
               AGE_COLUMN)

    def default(self, obj):
        """``SetDefaults_IngressClass``; Go always writes the (struct) ``spec``."""
        spec = obj.get("spec")
        if spec is None:
            spec = obj["spec"] = {}
        params = spec.get("parameters") if isinstance(spec, dict) else None
        if isinstance(params, dict) and params.get("scope") is None:
            params["scope"] = "Cluster"

    def validate(self, ctx, obj):
        """``validateIngressClassSpec``: a domain-prefixed controller of at most 250 bytes
        and a well-formed parameters reference."""
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        errs: list = []
        controller = spec.get("controller") or ""
        if not controller:
            errs.append(errors.required("spec.controller"))
        else:
            if len(controller.encode()) > MAX_CONTROLLER:
                errs.append(errors.too_long("spec.controller", "", MAX_CONTROLLER))
            errs += validate_domain_prefixed_path(controller, "spec.controller")
        if spec.get("parameters") is not None:
            errs += validate_parameters(spec["parameters"], "spec.parameters")
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateIngressClassUpdate``: the controller is immutable, then the create rules."""
        controller = (new.get("spec") or {}).get("controller") or ""
        errs = validate_immutable(controller, (old.get("spec") or {}).get("controller") or "",
                                  "spec.controller")
        return errs + self.validate(ctx, new)

    def table_row(self, obj):
        """``printIngressClass``: parameters as ``Kind[.apiGroup]/name`` or ``<none>``."""
        spec = obj.get("spec") or {}
        params = spec.get("parameters")
        shown = "<none>"
        if isinstance(params, dict):
            shown = params.get("kind") or ""
            if params.get("apiGroup") is not None:
                shown += "." + params["apiGroup"]
            shown += "/" + (params.get("name") or "")
        return [obj["metadata"].get("name", ""), spec.get("controller") or "", shown, age(obj)]


def validate_parameters(params, path: str) -> list:
    """``validateIngressClassParametersReference``."""
    params = params if isinstance(params, dict) else {}
    errs: list = []
    if params.get("apiGroup") is not None:
        errs += [errors.invalid(f"{path}.apiGroup", params["apiGroup"], m)
                 for m in is_dns1123_subdomain(str(params["apiGroup"]))]
    for key in ("kind", "name"):
        value = params.get(key) or ""
        if not value:
            errs.append(errors.required(f"{path}.{key}"))
        else:
            errs += [errors.invalid(f"{path}.{key}", value, m) for m in is_path_segment_name(value)]
    scope = params.get("scope")
    if scope is None:
        return errs + [errors.required(f"{path}.scope")]
    namespace = params.get("namespace")
    if scope not in SCOPES:
        errs.append(errors.not_supported(f"{path}.scope", scope, SCOPES))
    elif scope == "Namespace":
        if namespace is None:
            errs.append(errors.required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += [errors.invalid(f"{path}.namespace", namespace, m)
                     for m in is_dns1123_label(str(namespace))]
    elif namespace is not None:
        errs.append(errors.forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs
