"""Defaulting: ``default`` values of a structural schema applied to absent fields.

Follows apiextensions-apiserver ``pkg/apiserver/schema/defaulting/algorithm.go``: for an
object, every property with a default that is absent (or null while the property is not
nullable) gets a deep copy of the default; then every present field is defaulted below,
through its property or the ``additionalProperties`` schema (a non-nullable null map value
or list item becomes that schema's default).  Defaults are applied top-down, so a default
object is itself defaulted below.

May import: the standard library and this package.
"""
from __future__ import annotations

import copy

from .compiled import Node


def _non_nullable_null(x, node: Node | None) -> bool:
    return x is None and node is not None and not node.nullable


def apply(x, node: Node | None) -> None:
    """Defaults ``x`` (a decoded JSON value) in place against ``node``."""
    if node is None:
        return
    if isinstance(x, dict):
        for k, prop in node.properties.items():
            if prop.has_default and prop.default is not None and (
                    k not in x or _non_nullable_null(x[k], prop)):
                x[k] = copy.deepcopy(prop.default)
        additional = node.additional_schema()
        for k in list(x):
            prop = node.properties.get(k)
            if prop is not None:
                apply(x[k], prop)
            elif additional is not None:
                if _non_nullable_null(x[k], additional) and additional.default is not None:
                    x[k] = copy.deepcopy(additional.default)
                apply(x[k], additional)
    elif isinstance(x, list) and node.items is not None:
        for i, v in enumerate(x):
            if _non_nullable_null(v, node.items) and node.items.default is not None:
                x[i] = copy.deepcopy(node.items.default)
            apply(x[i], node.items)
