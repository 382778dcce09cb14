"""core/v1 ResourceQuota (``kubectl get quota``).

Upstream: ``pkg/registry/core/resourcequota/strategy.go`` (status is reset on create and
kept on update), ``ValidateResourceQuota`` (quantities, scopes) and ``printResourceQuota``
(REQUEST and LIMIT list ``name: used/hard`` from status, ``limits.*`` names in LIMIT).

The quota controller (workers/controllers/resourcequota.py, in the controller manager)
computes ``status.used`` and copies ``spec.hard`` into ``status.hard``, as upstream's.
Writes of the main resource copy ``spec.hard`` into ``status.hard`` too, so the
ResourceQuota admission plugin enforces a new quota before the controller's first sync
(upstream's plugin refuses with "status unknown for quota" until then).
"""
from __future__ import annotations

import copy

from apiserver.registry.printers import age
from apiserver.registry.strategy import STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_qualified_name
from apiserver.runtime.quantity import QuantityError, parse_quantity

from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
SCOPES = ("BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating",
          "PriorityClass", "Terminating")


class ResourceQuotaStrategy(Strategy):
    kind = "ResourceQuota"
    plural = "resourcequotas"
    short_names = ("quota",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.core.v1.ResourceQuota"
    columns = (
        column("Name", _META, "name", format="name"),
        column("Age", _META, "creationTimestamp"),
        column("Request", description="Request represents a minimum amount of cpu/memory "
                                      "that a container may consume."),
        column("Limit", description="Limits control the maximum amount of cpu/memory that a "
                                    "container may use independent of contention on the node."),
    )

    def prepare_for_create(self, ctx, obj):
        obj["status"] = {}
        _sync_hard(obj)

    def prepare_for_update(self, ctx, new, old):
        super().prepare_for_update(ctx, new, old)
        _sync_hard(new)

    def validate(self, ctx, obj):
        spec = obj.get("spec") or {}
        errs = _validate_list(spec.get("hard"), "spec.hard")
        for i, scope in enumerate(spec.get("scopes") or []):
            if scope not in SCOPES:
                errs.append(errors.not_supported(f"spec.scopes[{i}]", scope, SCOPES))
        return errs

    def validate_status_update(self, ctx, new, old):
        status = new.get("status") or {}
        return _validate_list(status.get("hard"), "status.hard") + \
            _validate_list(status.get("used"), "status.used")

    def table_row(self, obj):
        status = obj.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        request, limit = [], []
        for name in sorted(hard):
            target = limit if name.split(".")[0] == "limits" and "." in name else request
            target.append(f"{name}: {_text(used.get(name, '0'))}/{_text(hard[name])}")
        return [obj["metadata"].get("name", ""), age(obj), ", ".join(request), ", ".join(limit)]


def _sync_hard(obj: dict) -> None:
    hard = (obj.get("spec") or {}).get("hard")
    status = obj.setdefault("status", {})
    if hard:
        status["hard"] = copy.deepcopy(hard)
    else:
        status.pop("hard", None)


# upstream pkg/apis/core/helper standardQuotaResources (+ hugepages- forms)
STANDARD_QUOTA = frozenset((
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"))


def _resource_name_errors(name: str, path: str) -> list:
    """Upstream ``ValidateResourceQuotaResourceName``: a qualified name, and a standard quota
    resource unless it carries a domain (``example.com/gpu``, ``count/deployments.apps``)."""
    problems = is_qualified_name(name)
    if problems:
        return [errors.invalid(path, name, p) for p in problems]
    if "/" not in name and name not in STANDARD_QUOTA and \
            not name.startswith(("hugepages-", "requests.hugepages-")):
        return [errors.invalid(path, name, "must be a standard resource for quota")]
    return []


def _validate_list(values, path: str) -> list:
    errs = []
    for name in sorted(values or {}):
        name_errs = _resource_name_errors(name, f"{path}[{name}]")
        if name_errs:
            errs += name_errs
            continue
        try:
            q = parse_quantity(values[name])
        except (QuantityError, TypeError) as exc:
            errs.append(errors.invalid(f"{path}[{name}]", values[name], str(exc)))
            continue
        if q.value < 0:
            errs.append(errors.invalid(f"{path}[{name}]", str(q), "must be greater than or equal to 0"))
    return errs


def _text(value) -> str:
    try:
        return str(parse_quantity(value))
    except (QuantityError, TypeError):
        return str(value)
