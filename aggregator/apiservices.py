"""apiregistration.k8s.io/v1 APIService (cluster-scoped, +status).

Upstream: kubernetes/kubernetes:staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/
validation/validation.go (``ValidateAPIService``: the name is ``spec.version.spec.group``,
priorities in range, local APIServices without caBundle or insecureSkipTLSVerify), v1/
defaults.go (service port 443), pkg/registry/apiservice/strategy.go (status kept apart from
spec writes) and pkg/registry/apiservice/etcd/etcd.go (the SERVICE and AVAILABLE columns).
"""
from __future__ import annotations

import base64
import binascii

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_dns1035_label, is_dns1123_subdomain, \
    is_path_segment_name

GROUP = "apiregistration.k8s.io"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
CONDITION_STATUSES = ("True", "False", "Unknown")


def available(obj: dict) -> dict | None:
    """The Available condition, or None."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Available":
            return c
    return None


class APIServiceStrategy(Strategy):
    group = GROUP
    kind = "APIService"
    plural = "apiservices"
    namespaced = False
    categories = ("api-extensions",)
    subresources = (STATUS,)
    schema_name = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService"
    name_rule = "path"
    columns = (NAME_COLUMN,
               Column("Service", description="The reference to the service that hosts this API "
                      "endpoint."),
               Column("Available", description="Whether this service is available."),
               AGE_COLUMN)

    def default(self, obj):
        """``SetDefaults_ServiceReference``: port 443."""
        service = (obj.get("spec") or {}).get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443

    def prepare_for_create(self, ctx, obj):
        """A new APIService has no status (upstream's ``PrepareForCreate``)."""
        super().prepare_for_create(ctx, obj)
        obj["status"] = {}

    def validate(self, ctx, obj):
        """``ValidateAPIService``."""
        spec = obj.get("spec") or {}
        group, version = spec.get("group") or "", spec.get("version") or ""
        errs = []
        name = obj["metadata"].get("name") or ""
        required = f"{version}.{group}"
        if name and not is_path_segment_name(name) and name != required:
            errs.append(errors.invalid("metadata.name", name,
                                       f'must be `spec.version+"."+spec.group`: "{required}"'))
        if not group and version != "v1":
            errs.append(errors.required(
                "spec.group", "only v1 may have an empty group and it better be legacy kube"))
        if group:
            errs += [errors.invalid("spec.group", group, m) for m in is_dns1123_subdomain(group)]
        errs += [errors.invalid("spec.version", version, m) for m in is_dns1035_label(version)]
        gpm, vp = spec.get("groupPriorityMinimum") or 0, spec.get("versionPriority") or 0
        if not isinstance(gpm, int) or not 0 < gpm <= 20000:
            errs.append(errors.invalid("spec.groupPriorityMinimum", gpm,
                                       "must be positive and less than 20000"))
        if not isinstance(vp, int) or not 0 < vp <= 1000:
            errs.append(errors.invalid("spec.versionPriority", vp,
                                       "must be positive and less than 1000"))
        ca = spec.get("caBundle") or ""
        skip = bool(spec.get("insecureSkipTLSVerify"))
        service = spec.get("service")
        if service is None:
            if ca:
                errs.append(errors.invalid("spec.caBundle", f"{_byte_len(ca)} bytes",
                                           "local APIServices may not have a caBundle"))
            if skip:
                errs.append(errors.invalid("spec.insecureSkipTLSVerify", skip,
                                           "local APIServices may not have insecureSkipTLSVerify"))
            return errs
        if not (service or {}).get("namespace"):
            errs.append(errors.required("spec.service.namespace", ""))
        if not (service or {}).get("name"):
            errs.append(errors.required("spec.service.name", ""))
        if skip and ca:
            errs.append(errors.invalid("spec.insecureSkipTLSVerify", skip,
                                       "may not be true if caBundle is present"))
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateAPIServiceUpdate``: the create rules again."""
        return self.validate(ctx, new)

    def validate_status_update(self, ctx, new, old):
        """``ValidateAPIServiceStatus``: condition statuses True, False or Unknown."""
        errs = []
        for i, c in enumerate((new.get("status") or {}).get("conditions") or []):
            status = (c or {}).get("status")
            if status not in CONDITION_STATUSES:
                errs.append(errors.not_supported(f"status.conditions[{i}].status", status,
                                                 list(CONDITION_STATUSES)))
        return errs

    def table_row(self, obj):
        """NAME, SERVICE (``Local`` or namespace/name), AVAILABLE (the condition's status,
        with its reason when it is not True), AGE."""
        service = (obj.get("spec") or {}).get("service")
        shown = "Local" if not service else f"{service.get('namespace')}/{service.get('name')}"
        cond = available(obj)
        if cond is None:
            state = "Unknown"
        elif cond.get("status") == "True":
            state = "True"
        else:
            state = f"{cond.get('status')} ({cond.get('reason', '')})"
        return [obj["metadata"]["name"], shown, state, age(obj)]


def _byte_len(ca: str) -> int:
    """caBundle is bytes on the wire (base64 in JSON); the message counts the bytes."""
    try:
        return len(base64.b64decode(ca, validate=True))
    except (binascii.Error, ValueError):
        return len(ca)
