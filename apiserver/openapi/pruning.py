"""Drop fields a built-in type does not declare, reporting each one.

Go's kube-apiserver decodes JSON into typed structs, so unknown fields vanish; with
``fieldValidation=Strict`` they are an error and with ``Warn`` a warning (upstream
``k8s.io/apimachinery/pkg/runtime/serializer/json`` strict mode).  We get the same effect
by walking the object alongside its definition.

May import: apiserver.openapi.definitions.
"""
from __future__ import annotations

from apiserver.openapi import definitions as defs

_PRESERVED_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def prune(obj, schema: dict | None, path: str = "") -> list[str]:
    """Remove undeclared keys from ``obj`` in place; returns their dotted paths."""
    removed: list[str] = []
    _walk(obj, defs.resolve(schema), path, removed, 0)
    return removed


def _walk(value, schema, path, removed, depth):
    if schema is None or depth > 64:
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None:
            if isinstance(extra, dict):
                sub = defs.resolve(extra)
                for key, item in value.items():
                    _walk(item, sub, f"{path}.{key}" if path else key, removed, depth + 1)
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
            _walk(value[key], defs.resolve(child), here, removed, depth + 1)
    elif isinstance(value, list):
        items = defs.items_schema(schema)
        if items is not None:
            for index, item in enumerate(value):
                _walk(item, items, f"{path}[{index}]", removed, depth + 1)
