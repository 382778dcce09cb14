"""CEL types for static checking, and the CEL type of an OpenAPI schema node.

Upstream: k8s.io/apiserver ``pkg/cel/common/schemas.go`` (``SchemaDeclType``: which schema
nodes become which CEL types, and which are not exposed to CEL at all),
``pkg/cel/openapi/resolver/refs.go`` (references replaced by what they name; a reference back
into its own path is an empty object), ``pkg/cel/openapi/extensions.go`` (int-or-string by
format or extension), ``pkg/cel/escaping.go`` (property names as CEL names) and
``pkg/admission/plugin/cel/compile.go`` (``BuildRequestType``, ``BuildNamespaceType``).

Object types compute their fields on first use: a kind's schema is large and an expression
reads a few paths of it.

May import: the standard library.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


# ---------------------------------------------------------------- types

@dataclass(frozen=True)
class Prim:
    name: str                      # cel-go's name of the type, as its messages print it

    def __str__(self):
        return self.name


class _Dyn:
    def __repr__(self):
        return "dyn"


DYN = _Dyn()
ERROR = _Dyn()                     # after a reported error: dynamic, so nothing cascades
STRING, INT, UINT, DOUBLE = Prim("string"), Prim("int"), Prim("uint"), Prim("double")
BOOL, BYTES, NULL = Prim("bool"), Prim("bytes"), Prim("null_type")
TIMESTAMP, DURATION = Prim("google.protobuf.Timestamp"), Prim("google.protobuf.Duration")


@dataclass(frozen=True)
class ListT:
    elem: object


@dataclass(frozen=True)
class MapT:
    key: object
    value: object


@dataclass(eq=False)
class ObjT:
    """An object type; its fields are computed on first use (schemas are large)."""
    make: object                   # () -> {escaped name: type}
    _fields: dict | None = field(default=None, repr=False)

    def fields(self) -> dict:
        if self._fields is None:
            self._fields = self.make()
        return self._fields


def obj(**fields) -> ObjT:
    return ObjT(lambda: fields)


# upstream plugin/cel/compile.go BuildRequestType and BuildNamespaceType
_GVK = obj(group=STRING, version=STRING, kind=STRING)
_GVR = obj(group=STRING, version=STRING, resource=STRING)
REQUEST = obj(kind=_GVK, resource=_GVR, subResource=STRING, requestKind=_GVK,
              requestResource=_GVR, requestSubResource=STRING, name=STRING, namespace=STRING,
              operation=STRING, dryRun=BOOL, options=DYN,
              userInfo=obj(username=STRING, uid=STRING, groups=ListT(STRING),
                           extra=MapT(STRING, ListT(STRING))))
_STRINGS = MapT(STRING, STRING)
NAMESPACE = obj(
    metadata=obj(name=STRING, generateName=STRING, namespace=STRING, labels=_STRINGS,
                 annotations=_STRINGS, UID=STRING, creationTimestamp=TIMESTAMP,
                 deletionGracePeriodSeconds=INT, deletionTimestamp=TIMESTAMP, generation=INT,
                 resourceVersion=STRING, finalizers=ListT(STRING)),
    spec=obj(finalizers=ListT(STRING)),
    status=obj(conditions=ListT(obj(status=STRING, type=STRING, lastTransitionTime=TIMESTAMP,
                                    message=STRING, reason=STRING)), phase=STRING))

_SCALARS = (STRING, INT, UINT, DOUBLE, BOOL, BYTES, TIMESTAMP, DURATION)
_NUMBERS = (INT, UINT, DOUBLE)


# ---------------------------------------------------------------- schema -> type

_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue",
                       "else", "for", "function", "if", "import", "let", "loop", "package",
                       "namespace", "return", "var", "void", "while"})
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def escape(name: str) -> str | None:
    """upstream ``cel.Escape``: the CEL name of a property, or None when it has none."""
    if not name or name[0].isdigit():
        return None
    if name in _RESERVED:
        return f"__{name}__"
    if not re.fullmatch(r"[a-zA-Z0-9_./-]*", name):
        return None
    return re.sub(r"__|[-./]", lambda m: _ESCAPES[m.group(0)], name)


def _ref_of(node: dict) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    for sub in node.get("allOf") or ():
        if isinstance(sub, dict) and _ref_of(sub):
            return _ref_of(sub)
    return None


def _with_type_and_object_meta(node: dict) -> dict:
    """upstream ``WithTypeAndObjectMeta``, on a node whose metadata is already resolved."""
    return {**node, "properties": {
        **(node.get("properties") or {}), "kind": {"type": "string"},
        "apiVersion": {"type": "string"},
        "metadata": {"type": "object", "properties": {"name": {"type": "string"},
                                                      "generateName": {"type": "string"}}}}}


def _has_type_and_meta(node: dict, lookup, path) -> bool:
    """Whether kind, apiVersion and metadata.name/generateName are already typed."""
    def typed(parent, key):
        return _resolve((parent.get("properties") or {}).get(key), lookup, path)[0]
    meta = typed(node, "metadata")
    return (typed(node, "kind").get("type") == "string"
            and typed(node, "apiVersion").get("type") == "string"
            and meta.get("type") == "object"
            and typed(meta, "name").get("type") == "string"
            and typed(meta, "generateName").get("type") == "string")


def _resolve(node, lookup, path: frozenset) -> tuple[dict, frozenset]:
    """``node`` with a reference replaced by the schema it names (refs.go ``populateRefs``)."""
    if not isinstance(node, dict):
        return {}, path
    for _ in range(16):
        ref = _ref_of(node)
        if ref is None:
            return node, path
        if ref in path:
            return {"type": "object"}, path            # circular: an empty object
        path = path | {ref}
        node = lookup(ref)
        if not isinstance(node, dict):
            return {}, path
    return node, path


def _is_int_or_string(node: dict) -> bool:
    return node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string") is True


def decl_type(node, lookup, *, root: bool = False, path: frozenset = frozenset()):
    """upstream ``SchemaDeclType``: the CEL type of a schema node, or None when the node is
    not exposed to CEL (no type; a list or map of unexposed values)."""
    node, path = _resolve(node, lookup, path)
    if _is_int_or_string(node):
        return DYN
    if root and not _has_type_and_meta(node, lookup, path):
        node = _with_type_and_object_meta(node)
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        if not isinstance(items, dict):
            return None
        elem = decl_type(items, lookup, root=_embedded(items), path=path)
        return None if elem is None else ListT(elem)
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            value = decl_type(extra, lookup, root=_embedded(extra), path=path)
            return None if value is None else MapT(STRING, value)
        props = node.get("properties") or {}

        def make():
            out = {}
            for name, prop in props.items():
                t = decl_type(prop, lookup, root=_embedded(prop), path=path)
                cel_name = escape(name)
                if t is not None and cel_name is not None:
                    out[cel_name] = t
            return out
        return ObjT(make)
    if kind == "string":
        return {"byte": BYTES, "duration": DURATION, "date": TIMESTAMP,
                "date-time": TIMESTAMP}.get(node.get("format"), STRING)
    return {"boolean": BOOL, "number": DOUBLE, "integer": INT}.get(kind)


def _embedded(node) -> bool:
    return isinstance(node, dict) and node.get("x-kubernetes-embedded-resource") is True


def type_name(t) -> str | None:
    """cel-go's ``FormatCELType`` for the types whose name is fixed (None for objects)."""
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, ListT):
        inner = type_name(t.elem)
        return None if inner is None else f"list({inner})"
    if isinstance(t, MapT):
        k, v = type_name(t.key), type_name(t.value)
        return None if k is None or v is None else f"map({k}, {v})"
    return None
