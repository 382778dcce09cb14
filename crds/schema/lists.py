"""``x-kubernetes-list-type`` invariants: no duplicate elements in a ``set``, no duplicate
key tuples in a ``map`` (whose elements must be objects).

Follows apiextensions-apiserver ``pkg/apiserver/schema/listtype/validation.go``: each
duplicate is reported once, at the index of its *second* appearance, as
``Duplicate value: <element>`` (sets) or ``Duplicate value: map[string]interface {}{"k":v}``
(maps: only the key fields; an element without the key counts as the key "unspecified").
Paths are ``field.Path`` strings (``spec.ports[1]``, ``spec.byName[a]``).

On update upstream reports these only when the old object had none (ratcheting in
``pkg/registry/customresource/strategy.go``); :func:`validate_update` does that.

May import: the standard library and this package.
"""
from __future__ import annotations

import json

from . import fielderrors as fe
from .compiled import Node

_UNSPECIFIED = "\x00unspecified"


def _identity(x) -> str:
    # scalars and compounds compared by value; int64(1) and float64(1) differ as in Go's maps
    return json.dumps([type(x).__name__, x], sort_keys=True, separators=(",", ":"))


def _second_appearances(values: list) -> list[int]:
    seen: dict[str, int] = {}
    out = []
    for i, x in enumerate(values):
        ident = _UNSPECIFIED if x is _UNSPECIFIED else _identity(x)
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] == 2:
            out.append(i)
    return out


def _list_map(path: str, node: Node, items: list) -> list:
    for i, x in enumerate(items):
        if x is not None and not isinstance(x, dict):
            return [fe.invalid(fe.index(path, i), x, "must be an object for an array of "
                                                      "list-type map")]
    if len(items) <= 1:
        return []
    if len(node.map_keys) == 1:
        name = node.map_keys[0]
        keys = [x[name] if isinstance(x, dict) and name in x else _UNSPECIFIED for x in items]
        return [fe.duplicate(fe.index(path, i),
                             {} if keys[i] is _UNSPECIFIED else {name: keys[i]})
                for i in _second_appearances(keys)]
    keys = [{k: x[k] for k in node.map_keys if k in x} if isinstance(x, dict) else {}
            for x in items]
    return [fe.duplicate(fe.index(path, i), keys[i]) for i in _second_appearances(keys)]


def _array(path: str, node: Node, items: list) -> list:
    errs = []
    if node.list_type == "set" and len(items) > 1:
        errs += [fe.duplicate(fe.index(path, i), items[i]) for i in _second_appearances(items)]
    elif node.list_type == "map":
        errs += _list_map(path, node, items)
    if node.items is not None:
        for i, x in enumerate(items):
            errs += _value(fe.index(path, i), node.items, x)
    return errs


def _value(path: str, node: Node | None, x) -> list:
    if node is None:
        return []
    if isinstance(x, list):
        return _array(path, node, x)
    if isinstance(x, dict):
        return validate(node, x, path)
    return []


def validate(node: Node, obj: dict, path: str = "") -> list:
    """``ValidateListSetsAndMaps``: duplicate errors for ``obj`` (an object) and below."""
    if node is None or not isinstance(obj, dict):
        return []
    errs = []
    additional = node.additional_schema()
    if additional is not None:
        for k, v in obj.items():
            errs += _value(fe.key(path, k), additional, v)
    for k, v in obj.items():
        prop = node.properties.get(k)
        if prop is not None:
            errs += _value(fe.child(path, k), prop, v)
    return errs


def validate_update(node: Node, obj: dict, old: dict) -> list:
    """Upstream's update rule: duplicates are reported only if the old object had none."""
    if validate(node, old):
        return []
    return validate(node, obj)
