"""policy/v1 PodDisruptionBudget (+status).

Upstream: ``ValidatePodDisruptionBudgetSpec`` and ``ValidatePodDisruptionBudgetStatusUpdate``
(``pkg/apis/policy/validation/validation.go``), ``pkg/registry/policy/poddisruptionbudget/strategy.go``
(status reset to Go's zero value on create, kept on spec writes; generation 1 on create and
bumped on spec changes; unconditional updates refused) and ``printPodDisruptionBudget``.
policy/v1 has no defaults.  The eviction subresource that reads these budgets is
``resources.core.pod_eviction``.
"""
from __future__ import annotations

import re

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.selectors import validate_label_selector
from apiserver.runtime.validation import (GoText, is_qualified_name, regex_error,
                                          validate_nonnegative)
from resources import podtemplate as pt

EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")          # sets.List order
STATUS_COUNTS = ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods")
CONDITION_STATUSES = ("False", "True", "Unknown")
_REASON = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_REASON_MSG = ("a condition reason must start with alphabetic character, optionally followed by "
               "a string of alphanumeric characters or '_,:', and must end with an alphanumeric "
               "character or '_'")
MAX_REASON, MAX_MESSAGE = 1024, 32768


class PodDisruptionBudgetStrategy(Strategy):
    group = "policy"
    kind = "PodDisruptionBudget"
    plural = "poddisruptionbudgets"
    short_names = ("pdb",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.policy.v1.PodDisruptionBudget"
    tracks_generation = True
    allow_unconditional_update = False      # upstream AllowUnconditionalUpdate
    columns = (NAME_COLUMN,
               Column("Min Available", description="The minimum number of pods that must be available."),
               Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
               Column("Allowed Disruptions", "integer",
                      description="Calculated number of pods that may be disrupted at this time."),
               AGE_COLUMN)

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj):
        """No defaulting in policy/v1; Go always writes the (struct) ``spec``."""
        if obj.get("spec") is None:
            obj["spec"] = {}

    def prepare_for_create(self, ctx, obj):
        """Create cannot set status: Go's zero ``PodDisruptionBudgetStatus`` serialises its
        four counters (no omitempty) and omits ``observedGeneration`` (0)."""
        obj["status"] = {key: 0 for key in STATUS_COUNTS}

    def validate(self, ctx, obj):
        return validate_pdb_spec(_spec(obj), "spec")

    def validate_status_update(self, ctx, new, old):
        """``ValidatePodDisruptionBudgetStatusUpdate`` (policy/v1): conditions, and the
        counters are not negative."""
        status = new.get("status") if isinstance(new.get("status"), dict) else {}
        errs = validate_conditions(status.get("conditions"), "status.conditions")
        for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            value = status.get(key)
            if isinstance(value, int):
                errs += validate_nonnegative(value, f"status.{key}")
        return errs

    def canonicalize(self, obj):
        """A status write that leaves a counter out stores Go's zero value for it."""
        status = obj.get("status")
        if isinstance(status, dict):
            for key in STATUS_COUNTS:
                if status.get(key) is None:
                    status[key] = 0

    def table_row(self, obj):
        """``printPodDisruptionBudget``: ``N/A`` for the bound that is not set."""
        spec = _spec(obj)
        return [obj["metadata"].get("name", ""), _int_or_string(spec.get("minAvailable")),
                _int_or_string(spec.get("maxUnavailable")),
                int((obj.get("status") or {}).get("disruptionsAllowed") or 0), age(obj)]


def validate_pdb_spec(spec: dict, path: str) -> list:
    """``ValidatePodDisruptionBudgetSpec``: at most one of minAvailable/maxUnavailable, each
    a non-negative int or a percentage up to 100%; a valid selector; a known
    ``unhealthyPodEvictionPolicy``."""
    errs: list = []
    low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
    if low is not None and high is not None:
        errs.append(errors.invalid(path, _go_spec(spec), "minAvailable and maxUnavailable cannot be both set"))
    for key, value in (("minAvailable", low), ("maxUnavailable", high)):
        if value is None:
            continue
        errs += pt.validate_int_or_percent(value, f"{path}.{key}")
        if isinstance(value, str) and pt.int_or_percent_value(value) > 100:
            errs.append(errors.invalid(f"{path}.{key}", pt.go_int_or_string(value),
                                       "must not be greater than 100%"))
    errs += validate_label_selector(spec.get("selector"), f"{path}.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        errs.append(errors.not_supported(f"{path}.unhealthyPodEvictionPolicy", policy, EVICTION_POLICIES))
    return errs


def validate_conditions(conditions, path: str) -> list:
    """``metav1validation.ValidateConditions``: unique types, each condition well formed."""
    errs: list = []
    seen: set = set()
    for i, cond in enumerate(conditions if isinstance(conditions, list) else []):
        if not isinstance(cond, dict):
            continue
        p = f"{path}[{i}]"
        kind = cond.get("type") or ""
        if kind in seen:
            errs.append(errors.duplicate(f"{p}.type", kind))
        seen.add(kind)
        errs += [errors.invalid(f"{p}.type", kind, m) for m in is_qualified_name(kind)]
        status = cond.get("status") or ""
        if status not in CONDITION_STATUSES:
            errs.append(errors.not_supported(f"{p}.status", status, CONDITION_STATUSES))
        generation = cond.get("observedGeneration")
        if isinstance(generation, int) and generation < 0:
            errs.append(errors.invalid(f"{p}.observedGeneration", generation,
                                       "must be greater than or equal to zero"))
        if not cond.get("lastTransitionTime"):
            errs.append(errors.required(f"{p}.lastTransitionTime", "must be set"))
        reason = cond.get("reason") or ""
        if not reason:
            errs.append(errors.required(f"{p}.reason", "must be set"))
        else:
            if re.fullmatch(_REASON, reason) is None:
                errs.append(errors.invalid(f"{p}.reason", reason, regex_error(
                    _REASON_MSG, _REASON, "my_name", "MY_NAME", "MyName", "ReasonA,ReasonB",
                    "ReasonA:ReasonB")))
            if len(reason) > MAX_REASON:
                errs.append(errors.too_long(f"{p}.reason", "", MAX_REASON))
        if len(cond.get("message") or "") > MAX_MESSAGE:
            errs.append(errors.too_long(f"{p}.message", "", MAX_MESSAGE))
    return errs


def _go_spec(spec: dict) -> GoText:
    """Go ``%#v`` of the internal spec upstream prints (its pointers print as addresses)."""
    def ptr(kind: str, value) -> str:
        return f"(*{kind})(nil)" if value is None else f"(*{kind})(0xc000000000)"
    return GoText("policy.PodDisruptionBudgetSpec{"
                  f"MinAvailable:{ptr('intstr.IntOrString', spec.get('minAvailable'))}, "
                  f"Selector:{ptr('v1.LabelSelector', spec.get('selector'))}, "
                  f"MaxUnavailable:{ptr('intstr.IntOrString', spec.get('maxUnavailable'))}, "
                  "UnhealthyPodEvictionPolicy:"
                  f"{ptr('policy.UnhealthyPodEvictionPolicyType', spec.get('unhealthyPodEvictionPolicy'))}}}")


def _int_or_string(value) -> str:
    """``IntOrString.String()``, ``N/A`` when unset."""
    return "N/A" if value is None else str(value)


def _spec(obj: dict) -> dict:
    return obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
