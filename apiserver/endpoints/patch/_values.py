"""Helpers shared by the patch engines for decoded JSON values (dict/list/str/int/float/bool/None).

Go decodes JSON into ``map[string]interface{}``/``[]interface{}``/``int64``/``float64``…, and
its interface equality and ``%v`` formatting show through in patch behaviour and error texts;
these helpers reproduce the parts that matter.
"""
from __future__ import annotations


def clone(value):
    """A deep copy of a JSON value (faster than ``copy.deepcopy`` for plain JSON)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def same(a, b) -> bool:
    """Go interface equality on decoded JSON: types must match (``1`` ≠ ``1.0`` ≠ ``true``)."""
    return type(a) is type(b) and a == b


def json_kind(value) -> str:
    """The JSON type name Go's decoder reports (``cannot unmarshal <kind> into …``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def go_kind(value) -> str:
    """The ``reflect.Kind`` name of the Go value JSON decodes to."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    return {bool: "bool", int: "int64", float: "float64", str: "string"}.get(type(value), "nil")


def go_fmt(value) -> str:
    """Render like Go's ``%v`` (maps as ``map[k:v]`` with sorted keys) for error texts."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_fmt(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_fmt(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
