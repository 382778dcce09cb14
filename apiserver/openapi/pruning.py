"""Drop fields a built-in type does not declare, reporting each one.

Go's kube-apiserver decodes JSON into typed structs, so unknown fields vanish; with
``fieldValidation=Strict`` they are an error and with ``Warn`` a warning (upstream
``k8s.io/apimachinery/pkg/runtime/serializer/json`` strict mode).  We get the same effect
by walking the object alongside its definition.

May import: apiserver.openapi.definitions.
"""
from __future__ import annotations

from apiserver.openapi import definitions as defs
from apiserver.runtime.quantity import QuantityError, parse_quantity

_PRESERVED_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = (10, 13)


def base64_error_offset(text: str) -> int | None:
    """Where Go's ``base64.StdEncoding`` (the decoding of every ``[]byte`` field) finds
    ``text`` invalid, as its ``CorruptInputError`` offset; None when it decodes.  Newlines
    are skipped as Go skips them (golang/go:src/encoding/base64/base64.go decodeQuantum)."""
    src, si, n = text.encode(), 0, len(text.encode())
    while True:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in _NEWLINES:
                continue
            if c != 61 or j < 2:                        # not "=", or padding too early
                return si - 1
            if j == 2:                                  # "==" expected
                while si < n and src[si] in _NEWLINES:
                    si += 1
                if si == n:
                    return n
                if src[si] != 61:
                    return si - 1
                si += 1
            while si < n and src[si] in _NEWLINES:
                si += 1
            return si if si < n else None              # trailing garbage after padding


def prune(obj, schema: dict | None, path: str = "", type_errors: list | None = None) -> list[str]:
    """Remove undeclared keys from ``obj`` in place; returns their dotted paths.

    When ``type_errors`` is a list, a value whose JSON type the definition does not allow
    (a boolean where a string belongs …) is appended to it as ``(path, got, wanted)``: Go's
    typed decoding refuses those outright.  So does it a ``[]byte`` field that is not valid
    base64 and a Quantity that does not parse: those are appended as ``(path, None, the
    decoder's message)``."""
    removed: list[str] = []
    _walk(obj, defs.resolve(schema), path, removed, 0, type_errors)
    return removed


_JSON_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number",
              dict: "object", list: "array"}


def _type_ok(value, allowed: set) -> bool:
    got = _JSON_TYPE.get(type(value))
    if got is None or not allowed:
        return True
    if got in allowed:
        return True
    if got == "integer" and "number" in allowed:
        return True
    return got == "number" and "integer" in allowed and float(value).is_integer()


def _walk(value, schema, path, removed, depth, type_errors=None):
    if schema is None or depth > 64:
        return
    if type_errors is not None and value is not None and not _type_ok(value, defs.types_of(schema)):
        type_errors.append((path, _JSON_TYPE.get(type(value)), "/".join(sorted(defs.types_of(schema)))))
        return
    if type_errors is not None and isinstance(value, str):
        if schema.get("format") == "byte":
            offset = base64_error_offset(value)
            if offset is not None:
                type_errors.append((path, None, f"illegal base64 data at input byte {offset}"))
            return
        if schema is defs.get(QUANTITY):
            try:
                parse_quantity(value)
            except QuantityError as exc:
                type_errors.append((path, None, str(exc)))
            return
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None:
            if isinstance(extra, dict):
                sub = defs.resolve(extra)
                for key, item in value.items():
                    _walk(item, sub, f"{path}.{key}" if path else key, removed, depth + 1,
                          type_errors)
            return
        for key in list(value):
            child = props.get(key)
            here = f"{path}.{key}" if path else key
            if child is None:
                if isinstance(extra, dict) or extra is True:
                    continue
                del value[key]
                removed.append(here)
                continue
            _walk(value[key], defs.resolve(child), here, removed, depth + 1, type_errors)
    elif isinstance(value, list):
        items = defs.items_schema(schema)
        if items is not None:
            for index, item in enumerate(value):
                _walk(item, items, f"{path}[{index}]", removed, depth + 1, type_errors)
