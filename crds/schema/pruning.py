"""Pruning: dropping the fields a structural schema does not describe.

Follows apiextensions-apiserver ``pkg/apiserver/schema/pruning/algorithm.go``
(``PruneWithOptions`` with ``ReturnPruned``): a field is kept when it is a property, or when
the object has an ``additionalProperties`` schema; everything is kept below
``x-kubernetes-preserve-unknown-fields`` except that known properties there are still pruned
inside; ``apiVersion``, ``kind`` and ``metadata`` of embedded resources are never touched.
The returned paths are sorted (``spec.foo``, ``spec.list[0].bar``) and become
``unknown field "spec.foo"`` for fieldValidation Strict/Warn
(``apiserver/customresource_handler.go``: ``fmt.Errorf(`unknown field "%s"`, path)``).

At the root the handler saves ``apiVersion``, ``kind`` and ``metadata``, prunes, and writes
them back through ``metav1.ObjectMeta``, which drops (and, since 1.27, reports) unknown
metadata keys; the same happens to embedded resources' metadata (``objectmeta/coerce.go``).
Then ``PruneNonNullableNullsWithoutDefaults`` (``defaulting/prunenulls.go``) drops nulls
the schema does not allow, unless they have a default to receive.

May import: the standard library and this package.
"""
from __future__ import annotations

from . import fielderrors as fe
from . import objectmeta
from .compiled import Node

META_FIELDS = ("apiVersion", "kind", "metadata")


def _prune(x, node: Node | None, path: str, out: list[str], top: bool = False) -> None:
    if node is not None and node.preserve:
        _skip_prune(x, node, path, out)
        return
    if isinstance(x, dict):
        for k in list(x):
            if (top or (node is not None and node.embedded)) and k in META_FIELDS:
                continue
            sub = None if node is None else node.for_field(k)
            if sub is not None or (node is not None and node.additional is True):
                _prune(x[k], sub, fe.child(path, k), out)
            else:
                out.append(fe.child(path, k))
                del x[k]
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _prune(v, None if node is None else node.items, fe.index(path, i), out)


def _skip_prune(x, node: Node, path: str, out: list[str]) -> None:
    if isinstance(x, dict):
        for k, v in x.items():
            if node.embedded and k in META_FIELDS:
                continue
            sub = node.for_field(k)
            if sub is not None:
                _prune(v, sub, fe.child(path, k), out)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _prune(v, node.items, fe.index(path, i), out)


def _prune_nulls(x, node: Node | None) -> None:
    if isinstance(x, dict):
        for k in list(x):
            sub = None if node is None else node.for_field(k)
            if x[k] is None and sub is not None and not sub.nullable and not sub.has_default:
                del x[k]
            else:
                _prune_nulls(x[k], sub)
    elif isinstance(x, list):
        for v in x:
            _prune_nulls(v, None if node is None else node.items)


def _root_metadata(obj: dict) -> list[str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    unknown = [k for k in meta if k not in objectmeta.OBJECT_META_FIELDS]
    for k in unknown:
        del meta[k]
    return [f"metadata.{k}" for k in unknown]


def prune(root: Node, obj: dict) -> list[str]:
    """Prunes ``obj`` in place; returns the pruned paths, sorted."""
    out: list[str] = []
    if not isinstance(obj, dict):
        return out
    out += _root_metadata(obj)
    if root.preserve:
        _skip_prune(obj, root, "", out)
    else:
        _prune(obj, root, "", out, top=True)
    out += objectmeta.coerce(root, obj)
    _prune_nulls(obj, root)
    return sorted(out)
