"""node.k8s.io/v1 RuntimeClass (cluster-scoped).

Upstream: ``ValidateRuntimeClass`` / ``ValidateRuntimeClassUpdate``
(``pkg/apis/node/validation/validation.go``: the handler is a DNS label and immutable, the
overhead is validated as container limits, scheduling as a node selector and tolerations),
``pkg/registry/node/runtimeclass/strategy.go`` (create on update allowed, unconditional
updates not) and ``printRuntimeClass``.  node/v1 has no defaults.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.quantity import QuantityError, parse_quantity
from apiserver.runtime.validation import (IS_NEGATIVE_ERROR, is_dns1123_label, is_qualified_name,
                                          validate_immutable, validate_labels)
from resources.core.pod_validation import validate_tolerations

STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


class RuntimeClassStrategy(Strategy):
    group = "node.k8s.io"
    kind = "RuntimeClass"
    plural = "runtimeclasses"
    namespaced = False
    schema_name = "io.k8s.api.node.v1.RuntimeClass"
    allow_create_on_update = True          # upstream AllowCreateOnUpdate
    allow_unconditional_update = False     # upstream AllowUnconditionalUpdate
    # upstream describes the column with ObjectMeta's (absent) "handler" doc: empty
    columns = (NAME_COLUMN, Column("Handler"), AGE_COLUMN)

    def validate(self, ctx, obj):
        """``ValidateRuntimeClass``."""
        handler = obj.get("handler") or ""
        errs = [errors.invalid("handler", handler, m) for m in is_dns1123_label(str(handler))]
        overhead = obj.get("overhead")
        if isinstance(overhead, dict):
            errs += validate_overhead(overhead.get("podFixed"), "overhead")
        scheduling = obj.get("scheduling")
        if isinstance(scheduling, dict):
            if scheduling.get("nodeSelector") is not None:
                errs += validate_labels(scheduling["nodeSelector"], "scheduling.nodeSelector")
            errs += validate_tolerations(scheduling.get("tolerations"), "scheduling.tolerations")
        return errs

    def validate_update(self, ctx, new, old):
        """The create rules, then ``handler`` may not change."""
        return self.validate(ctx, new) + validate_immutable(new.get("handler") or "",
                                                            old.get("handler") or "", "handler")

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), obj.get("handler") or "", age(obj)]


def validate_overhead(pod_fixed, path: str) -> list:
    """``validateOverhead``: ``ValidateResourceRequirements`` with ``podFixed`` as the limits,
    so errors read ``overhead.limits[<resource>]`` as upstream's do."""
    errs: list = []
    if not isinstance(pod_fixed, dict):
        return errs
    for name in sorted(pod_fixed):
        p = f"{path}.limits[{name}]"
        if "/" not in name:
            if name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
                errs.append(errors.invalid(p, name, "must be a standard resource for containers"))
        else:
            errs += [errors.invalid(p, name, m) for m in is_qualified_name(name)]
        try:
            quantity = parse_quantity(pod_fixed[name])
        except (QuantityError, TypeError) as exc:
            errs.append(errors.invalid(p, pod_fixed[name], str(exc)))
            continue
        if quantity.value < 0:
            errs.append(errors.invalid(p, str(quantity), IS_NEGATIVE_ERROR))
    return errs
