"""Helpers FlowSchema and PriorityLevelConfiguration share: tolerant accessors, upstream's
``apiequality.Semantic.DeepEqual`` for the mandatory-spec checks, and the status-condition
rules both kinds apply (kubernetes/kubernetes:pkg/apis/flowcontrol/validation/validation.go
``ValidateFlowSchemaStatus`` / ``ValidatePriorityLevelConfigurationStatus``)."""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError


def obj_of(value) -> dict:
    return value if isinstance(value, dict) else {}


def strings_of(value) -> list:
    return list(value) if isinstance(value, list) else []


def _pruned(value):
    """JSON with the values Go cannot tell from "unset" removed (false, "", empty lists and
    maps, null): what the internal structs compare equal on.  Zero numbers stay: the
    pointer fields that matter here are defaulted before the comparison."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items()
                if not (v is None or v is False or v == "" or v == [] or v == {})}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def semantic(a, b) -> bool:
    """``apiequality.Semantic.DeepEqual`` of two wire-form specs."""
    return _pruned(a) == _pruned(b)


def validate_status_conditions(status: dict, path: str) -> list[FieldError]:
    """Condition types are required and unique."""
    errs: list[FieldError] = []
    seen: set = set()
    for i, cond in enumerate(strings_of(status.get("conditions"))):
        ctype = obj_of(cond).get("type") or ""
        if ctype in seen:
            errs.append(errors.duplicate(f"{path}.conditions[{i}].type", ctype))
        seen.add(ctype)
        if not ctype:
            errs.append(errors.required(f"{path}.conditions[{i}].type", "must not be empty"))
    return errs
