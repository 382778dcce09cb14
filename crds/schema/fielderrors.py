"""Field errors as kube-apiserver 1.32 builds them for custom resources.

Two path spellings meet here, as upstream:

* kube-openapi's validator names nodes with dotted strings (``spec.map.key``,
  ``spec.list[0]``), kube-openapi ``pkg/validation/validate/object_validator.go`` and
  ``slice_validator.go``; ``kubeOpenAPIResultToFieldErrors`` (apiextensions-apiserver
  ``pkg/apiserver/validation/validation.go``) makes them a ``field.Path`` child.
* everything else (embedded ObjectMeta, list types, CEL) uses ``field.Path``: ``.name``
  for children, ``[key]``/``[0]`` for map keys and indices
  (k8s.io/apimachinery ``pkg/util/validation/field/path.go``).

A nil ``field.Path`` prints as ``<nil>``: the root of the object has that name in errors
(e.g. ``<nil>: Invalid value: "object": failed rule: ...``), exactly as upstream.

Values are rendered the way ``field.Error.ErrorBody`` does: strings quoted, numbers and
booleans plain, anything else with Go's ``%#v`` (``map[string]interface {}{"name":"a"}``).

May import: the standard library and ``apiserver.runtime``.
"""
from __future__ import annotations

import json
import math

from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import GoText

ROOT = "<nil>"


# ---------------------------------------------------------------- paths (field.Path)

def child(path: str, name: str) -> str:
    """``Path.Child``: ``spec`` + ``replicas`` → ``spec.replicas`` (root: no dot)."""
    if path in ("", ROOT):
        return name
    return f"{path}.{name}"


def key(path: str, k: str) -> str:
    """``Path.Key``: ``spec.labels`` + ``a`` → ``spec.labels[a]``."""
    return f"{'' if path == ROOT else path}[{k}]"


def index(path: str, i: int) -> str:
    """``Path.Index``: ``spec.items`` + 0 → ``spec.items[0]``."""
    return f"{'' if path == ROOT else path}[{i}]"


def shown(path: str) -> str:
    """The ``field`` of an error: ``<nil>`` for the root, as ``(*field.Path)(nil).String()``."""
    return path or ROOT


# ---------------------------------------------------------------- Go value rendering

def go_float(f: float) -> str:
    """Go ``%v`` of a float64 (``strconv.FormatFloat(f, 'g', -1, 64)``): the shortest
    digits that round-trip, in ``e`` notation when the exponent is < -4 or >= 6 (``1e+06``,
    ``1.5e-05``, ``0.0001``, ``123456``)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign = "-" if f < 0 else ""
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    lead = len(raw) - len(raw.lstrip("0"))
    digits = raw.lstrip("0").rstrip("0") or "0"
    point = len(whole) + int(exp or 0) - lead      # digits before the decimal point
    x = point - 1
    if x < -4 or x >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_sharp_v(value) -> str:
    """Go ``%#v`` of a JSON value decoded into ``interface{}`` (int64, float64, …)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k, ensure_ascii=False)}:{go_sharp_v(value[k])}"
                          for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_sharp_v(v) for v in value) + "}"
    return str(value)


def bad_value(value):
    """The ``value`` of a :class:`FieldError` rendering as ``ErrorBody`` would: strings,
    ints and booleans as they are; floats, maps and lists as Go text; nil as the *string*
    ``"null"`` (1.32 replaces a nil value by ``"null"`` and then quotes it)."""
    if value is None:
        return "null"
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return GoText(go_float(value))
    return GoText(go_sharp_v(value))


def json_text(value) -> str:
    """``json.Marshal`` of a value (enum values that are not strings)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- builders (1.32 texts)

def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", shown(path), None, detail, has_value=False)


def invalid(path: str, value, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", shown(path), bad_value(value), detail)


def type_invalid(path: str, value, detail: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", shown(path), bad_value(value), detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", shown(path), None, detail, has_value=False)


def duplicate(path: str, value) -> FieldError:
    return FieldError("FieldValueDuplicate", shown(path), bad_value(value))


def not_supported(path: str, value, allowed: list[str]) -> FieldError:
    """``field.NotSupported``: ``supported values: "a", "b"`` (Go ``strconv.Quote``)."""
    options = ", ".join(json.dumps(a, ensure_ascii=False) for a in allowed)
    detail = f"supported values: {options}" if allowed else ""
    return FieldError("FieldValueNotSupported", shown(path), bad_value(value), detail)


def too_long(path: str, limit: int) -> FieldError:
    """``field.TooLong`` in 1.32: the value is omitted, ``may not be more than N bytes``."""
    detail = f"may not be more than {limit} bytes" if limit >= 0 else "value is too long"
    return FieldError("FieldValueTooLong", shown(path), None, detail, has_value=False)


def too_many(path: str, actual: int, limit: int) -> FieldError:
    """``field.TooMany``: value is the actual count, ``must have at most N items``."""
    detail = f"must have at most {limit} items" if limit >= 0 else "has too many items"
    return FieldError("FieldValueTooMany", shown(path), actual, detail)


def internal(path: str, detail: str) -> FieldError:
    return FieldError("InternalError", shown(path), None, detail, has_value=False)
