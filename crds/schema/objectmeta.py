"""TypeMeta and ObjectMeta of ``x-kubernetes-embedded-resource`` objects.

Follows apiextensions-apiserver ``pkg/apiserver/schema/objectmeta/validation.go``
(``Validate`` with ``isResourceRoot=false``, as the custom resource strategy calls it: the
root's own metadata is validated by the strategy, not here).  An embedded object needs
``apiVersion`` and ``kind`` (strings, non-empty; the kind a DNS-1035 label in any case, the
apiVersion a parsable group/version) and its ``metadata``, if any, must be a valid
ObjectMeta whose name, when given, is a valid path segment.

``coerce`` is ``objectmeta/coerce.go`` for embedded objects: metadata keys that ObjectMeta
does not know are dropped (and reported, like pruned fields).

May import: the standard library, ``apiserver.runtime.validation`` and this package.
"""
from __future__ import annotations

from apiserver.runtime.validation import is_dns1035_label, validate_object_meta

from . import fielderrors as fe
from .compiled import Node

# metav1.ObjectMeta's JSON fields
OBJECT_META_FIELDS = frozenset((
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields"))


def _embedded(path: str, x: dict) -> list:
    errs = []
    for name in ("apiVersion", "kind"):
        if name not in x:
            errs.append(fe.required(fe.child(path, name)))
    for k, v in x.items():
        p = fe.child(path, k)
        if k == "apiVersion":
            if not isinstance(v, str):
                errs.append(fe.invalid(p, v, "must be a string"))
            elif not v:
                errs.append(fe.required(p))
            elif v.count("/") > 1:
                errs.append(fe.invalid(p, v, f"unexpected GroupVersion string: {v}"))
        elif k == "kind":
            if not isinstance(v, str):
                errs.append(fe.invalid(p, v, "must be a string"))
            elif not v:
                errs.append(fe.required(p))
            else:
                msgs = is_dns1035_label(v.lower())
                if msgs:
                    errs.append(fe.invalid(p, v, "may have mixed case, but should otherwise "
                                                 "match: " + ",".join(msgs)))
        elif k == "metadata":
            if not isinstance(v, dict):
                errs.append(fe.invalid(p, v, "must be an object"))
                continue
            meta = dict(v)
            meta["name"] = meta.get("name") or "fakename"
            errs += validate_object_meta(meta, bool(meta.get("namespace")), "path", p,
                                         builtin=False)
    return errs


def _walk(path: str, x, node: Node | None) -> list:
    if node is None:
        return []
    errs = []
    if isinstance(x, dict):
        if node.embedded:
            errs += _embedded(path, x)
        for k, v in x.items():
            prop = node.properties.get(k)
            if prop is not None:
                errs += _walk(fe.child(path, k), v, prop)
            elif node.additional_schema() is not None:
                errs += _walk(fe.key(path, k), v, node.additional_schema())
    elif isinstance(x, list):
        for i, v in enumerate(x):
            errs += _walk(fe.index(path, i), v, node.items)
    return errs


def validate(root: Node, obj: dict) -> list:
    """Errors of every embedded resource in ``obj`` (not of the root itself)."""
    return _walk("", obj, root)


def coerce(root: Node, obj, path: str = "", unknown: list | None = None) -> list[str]:
    """Drops unknown ObjectMeta keys of embedded resources; returns their paths."""
    unknown = [] if unknown is None else unknown
    if root is None:
        return unknown
    if isinstance(obj, dict):
        meta = obj.get("metadata") if root.embedded and path else None
        if isinstance(meta, dict):
            for k in [k for k in meta if k not in OBJECT_META_FIELDS]:
                unknown.append(f"{fe.child(path, 'metadata')}.{k}")
                del meta[k]
        for k, v in obj.items():
            if root.embedded and k in ("apiVersion", "kind", "metadata"):
                continue
            sub = root.properties.get(k)
            if sub is not None:
                coerce(sub, v, fe.child(path, k), unknown)
            elif root.additional_schema() is not None:
                coerce(root.additional_schema(), v, fe.child(path, k), unknown)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            coerce(root.items, v, fe.index(path, i), unknown)
    return unknown
