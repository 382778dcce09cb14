"""scheduling.k8s.io/v1 PriorityClass (cluster-scoped).

Upstream: ``SetDefaults_PriorityClass`` (``pkg/apis/scheduling/v1/defaults.go``),
``pkg/apis/scheduling/validation/validation.go``, the system classes in
``pkg/apis/scheduling/v1/helpers.go`` and ``printPriorityClass``.  Only one class may be the
global default: upstream enforces that in the Priority admission plugin, not here.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import validate_immutable
from resources.core.columns import doc

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE = 1_000_000_000
# name -> (value, description); both are non-default (globalDefault false)
SYSTEM_PRIORITY_CLASSES = {
    "system-cluster-critical": (2_000_000_000, "Used for system critical pods that must run in "
                                "the cluster, but can be moved to another node if necessary."),
    "system-node-critical": (2_000_001_000, "Used for system critical pods that must not be moved "
                             "from their current node."),
}
POLICIES = ("Never", "PreemptLowerPriority")
_DEF = "io.k8s.api.scheduling.v1.PriorityClass"


class PriorityClassStrategy(Strategy):
    group = "scheduling.k8s.io"
    kind = "PriorityClass"
    plural = "priorityclasses"
    namespaced = False
    short_names = ("pc",)
    schema_name = _DEF
    columns = (NAME_COLUMN,
               Column("Value", "integer", description=doc(_DEF, "value")),
               Column("Global-Default", "boolean", description=doc(_DEF, "globalDefault")),
               AGE_COLUMN,
               Column("PreemptionPolicy", description=doc(_DEF, "preemptionPolicy")))

    def default(self, obj):
        """``SetDefaults_PriorityClass``; ``value`` is a non-pointer int32 upstream, so an
        omitted one is 0, not an error."""
        if not obj.get("preemptionPolicy"):
            obj["preemptionPolicy"] = "PreemptLowerPriority"
        obj.setdefault("value", 0)

    def validate(self, ctx, obj):
        """``ValidatePriorityClass``: "system-" names are reserved, user values are capped."""
        errs = []
        name, value = obj["metadata"].get("name") or "", obj.get("value", 0)
        if not isinstance(value, int) or isinstance(value, bool) or not -2**31 <= value < 2**31:
            errs.append(errors.invalid("value", value, "must be a 32-bit integer"))
            value = 0
        if name.startswith(SYSTEM_PREFIX):
            problem = _known_system_class(name, value, bool(obj.get("globalDefault")))
            if problem:
                errs.append(errors.forbidden(
                    "metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are "
                    f"reserved for system use only. error: {problem}"))
        elif value > HIGHEST_USER_DEFINABLE:
            errs.append(errors.forbidden(
                "value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}"))
        policy = obj.get("preemptionPolicy")
        if policy is not None and policy not in POLICIES:
            errs.append(errors.not_supported("preemptionPolicy", policy,
                                             ["PreemptLowerPriority", "Never"]))
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidatePriorityClassUpdate``: value and preemptionPolicy are immutable (the
        create checks are not repeated upstream)."""
        errs = []
        if new.get("value", 0) != old.get("value", 0):
            errs.append(errors.forbidden("value", "may not be changed in an update."))
        errs += validate_immutable(new.get("preemptionPolicy"), old.get("preemptionPolicy"),
                                   "preemptionPolicy")
        return errs

    def table_row(self, obj):
        return [obj["metadata"]["name"], obj.get("value", 0), bool(obj.get("globalDefault")),
                age(obj), obj.get("preemptionPolicy") or ""]


def _known_system_class(name: str, value: int, global_default: bool) -> str:
    """Upstream ``IsKnownSystemPriorityClass``: "" when it is one, else the reason."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    expected = SYSTEM_PRIORITY_CLASSES[name][0]
    if value != expected:
        return f"value of {name} PriorityClass must be {expected}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""
