"""Built-in type definitions, loaded once from the ``kubernetes-validate`` package.

``kubernetes-validate`` ships each Kubernetes release's definitions as JSON Schema
(``$defs`` with ``$ref: "#/$defs/<name>"``), including descriptions, ``required``,
``x-kubernetes-patch-merge-key``/``-strategy``, list-map keys and the group-version-kind of
top-level types.  This module is the only reader of that file; everything that needs a
type's shape (OpenAPI documents, explain, strategic merge patch, server-side apply, field
validation) asks here.

Types in the file are written ``["string", "null"]``; :func:`types_of` hides that.

May import: the standard library and orjson.
"""
from __future__ import annotations

import functools
import os

import orjson

KUBERNETES_VERSION = "1.32.0"
REF_PREFIX = "#/$defs/"


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    import kubernetes_validate  # imported lazily: only needed once per process

    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema",
                        f"v{KUBERNETES_VERSION}-local", "_definitions.json")
    with open(base, "rb") as fh:
        return orjson.loads(fh.read())["$defs"]


def all_definitions() -> dict:
    """Name → JSON-schema definition (treat as read-only)."""
    return _load()


def get(name: str) -> dict | None:
    return _load().get(name)


def ref_name(node: dict) -> str | None:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if ref and ref.startswith(REF_PREFIX):
        return ref[len(REF_PREFIX):]
    return None


_resolved: dict[int, dict] = {}


def resolve(node: dict | None) -> dict | None:
    """Follow ``$ref`` (also one wrapped in ``allOf``) to the definition it names.

    Memoised by node identity: definitions are loaded once and never change, and this sits
    on every write's hot path (pruning, managedFields, strategic merge)."""
    if not isinstance(node, dict):
        return node
    key = id(node)
    hit = _resolved.get(key)
    if hit is not None:
        return hit
    out = _resolve(node)
    if out is not None and key in _loaded_ids():
        _resolved[key] = out
    return out


@functools.lru_cache(maxsize=1)
def _loaded_ids() -> frozenset:
    """Identities of every node of the loaded definitions: only those may be memoised by
    ``id`` (a transient schema's id can be reused after it is freed)."""
    ids, stack = set(), [_load()]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ids.add(id(node))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(ids)


def _resolve(node: dict | None) -> dict | None:
    seen = 0
    while isinstance(node, dict) and seen < 8:
        name = ref_name(node)
        if name is None and len(node.get("allOf", ())) == 1:
            name = ref_name(node["allOf"][0])
        if name is None:
            return node
        node = get(name)
        seen += 1
    return node


def types_of(node: dict | None) -> set[str]:
    """The non-null JSON types a node allows (empty when it says nothing)."""
    if not isinstance(node, dict):
        return set()
    t = node.get("type")
    if isinstance(t, str):
        return {t} - {"null"}
    if isinstance(t, list):
        return set(t) - {"null"}
    return set()


_props: dict[tuple[int, str], dict | None] = {}


def property_schema(node: dict | None, key: str) -> dict | None:
    """The schema of ``node.key`` (resolved), or of its ``additionalProperties`` values."""
    if not isinstance(node, dict):
        return None
    memo = (id(node), key)
    if memo in _props:
        return _props[memo]
    out = _property_schema(node, key)
    # keys of free-form maps (labels…) must not grow it forever; transient schemas never
    if len(_props) < 200_000 and memo[0] in _loaded_ids():
        _props[memo] = out
    return out


def _property_schema(node: dict | None, key: str) -> dict | None:
    node = resolve(node)
    if not isinstance(node, dict):
        return None
    props = node.get("properties")
    if props and key in props:
        return resolve(props[key])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return resolve(extra)
    return None


def items_schema(node: dict | None) -> dict | None:
    node = resolve(node)
    if isinstance(node, dict) and isinstance(node.get("items"), dict):
        return resolve(node["items"])
    return None


@functools.lru_cache(maxsize=None)
def name_for_kind(group: str, version: str, kind: str) -> str | None:
    """The definition whose ``x-kubernetes-group-version-kind`` lists group/version/kind."""
    for name, node in _load().items():
        for gvk in node.get("x-kubernetes-group-version-kind", ()):
            if gvk.get("group", "") == group and gvk.get("version") == version \
                    and gvk.get("kind") == kind:
                return name
    return None
