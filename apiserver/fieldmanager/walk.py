"""Walking objects against a schema: field sets, comparisons, removal.

The schema is a JSON-schema node as served by :mod:`apiserver.openapi.definitions` (``$ref``
allowed) or a CRD structural schema; ``None`` means "untyped": maps are granular and lists
are atomic, like upstream's deduced type.  Per node:

* a dict value under an object schema is a *map*; it is a leaf when the schema says
  ``x-kubernetes-map-type: atomic``; ``properties`` are its *named* fields;
* a list value under an array schema is a *list*; ``x-kubernetes-list-type`` ``map`` (items
  keyed by ``x-kubernetes-list-map-keys``) and ``set`` (scalar items) are granular, anything
  else (including no annotation) is atomic, i.e. a leaf;
* everything else, and any value whose JSON type disagrees with the schema, is a leaf.

The walkers follow structured-merge-diff ``typed`` (``tofieldset.go``, ``compare.go``,
``remove.go``); see the function docstrings for the rules that matter.

May import: the standard library and :mod:`apiserver.openapi.definitions`.
"""
from __future__ import annotations

from apiserver.openapi import definitions

from .fieldpath import FIELD, KEY, VALUE, FieldPathError, element_string, key_element

MISSING = object()
LEAF, MAP, LIST = "leaf", "map", "list"

# Key-field defaults upstream takes from ``+default`` markers (absent from the definitions file).
_KEY_DEFAULTS = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}

# Paths never tracked in managedFields (upstream stripMetaManager, plus deletionTimestamp).
STRIPPED = frozenset({
    ((FIELD, "apiVersion"),), ((FIELD, "kind"),), ((FIELD, "metadata"),),
    *(((FIELD, "metadata"), (FIELD, name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
        "generation", "managedFields", "resourceVersion", "deletionTimestamp")),
})


class Shape:
    """How one value is walked: ``kind`` (leaf/map/list) plus what its children need."""

    __slots__ = ("kind", "node", "named", "list_type", "keys", "item_ref")

    def __init__(self, kind, node=None, named=frozenset(), list_type="atomic", keys=(),
                 item_ref=None):
        self.kind, self.node, self.named = kind, node, named
        self.list_type, self.keys, self.item_ref = list_type, keys, item_ref

    @property
    def granular(self) -> bool:
        if self.kind == MAP:
            return not (self.node or {}).get("x-kubernetes-map-type") == "atomic"
        if self.kind == LIST:
            return self.list_type in ("map", "set")
        return False

    def child_schema(self, name: str):
        """Schema of map field ``name`` (``None`` = untyped)."""
        return definitions.property_schema(self.node, name) if self.node else None

    def item_schema(self):
        return definitions.items_schema(self.node) if self.node else None


_UNTYPED_MAP = Shape(MAP)
_UNTYPED_LIST = Shape(LIST)
_LEAF = Shape(LEAF)


def shape_of(schema, value) -> Shape:
    """Classify ``value`` under ``schema`` (see the module docstring)."""
    if isinstance(value, dict):
        if schema is None:
            return _UNTYPED_MAP
        node = definitions.resolve(schema)
        types = definitions.types_of(node)
        if "object" in types or "properties" in node or "additionalProperties" in node:
            return Shape(MAP, node, frozenset(node.get("properties") or ()))
        if not types and not node.get("x-kubernetes-int-or-string"):
            return _UNTYPED_MAP
        return _LEAF
    if isinstance(value, list):
        if schema is None:
            return _UNTYPED_LIST
        raw = schema
        node = definitions.resolve(schema)
        types = definitions.types_of(node)
        if "array" in types or "items" in node:
            items = node.get("items") if isinstance(node.get("items"), dict) else None
            ref = definitions.ref_name(items) if items else None
            return Shape(LIST, node, list_type=node.get("x-kubernetes-list-type", "atomic"),
                         keys=tuple(node.get("x-kubernetes-list-map-keys") or ()),
                         item_ref=ref or definitions.ref_name(raw))
        if not types and not node.get("x-kubernetes-int-or-string"):
            return _UNTYPED_LIST
        return _LEAF
    return _LEAF


def item_element(shape: Shape, item, item_schema) -> tuple:
    """The path element of one item of a granular list (``k:`` or ``v:``)."""
    if shape.list_type == "map" and shape.keys:
        if not isinstance(item, dict):
            raise FieldPathError("associative list with keys may not have non-map elements")
        fields = {}
        for key in shape.keys:
            if key in item:
                fields[key] = item[key]
            elif (shape.item_ref, key) in _KEY_DEFAULTS:
                fields[key] = _KEY_DEFAULTS[(shape.item_ref, key)]
        if not fields:
            raise FieldPathError("associative list with keys has an element that omits all key "
                                 f"fields {list(shape.keys)!r} (and doesn't have default values "
                                 "for any key fields)")
        return key_element(fields)
    if isinstance(item, (dict, list)) or item is None:
        raise FieldPathError("associative list without keys has an element that is not a scalar")
    return (VALUE, item)


def _index_items(shape: Shape, items, allow_duplicates: bool):
    """``[(pe, item)]`` in order, plus the set of elements seen more than once."""
    isch = shape.item_schema()
    out, seen, dups = [], set(), set()
    for item in items:
        pe = item_element(shape, item, isch)
        if pe in seen:
            if not allow_duplicates:
                raise FieldPathError(f"duplicate entries for key {element_string(pe)}")
            dups.add(pe)
        seen.add(pe)
        out.append((pe, item))
    return out, dups, isch


# ---------------------------------------------------------------------------------------------
# Field sets
# ---------------------------------------------------------------------------------------------

def _collect(value, schema, path: tuple, out: set, allow_duplicates: bool) -> None:
    shape = shape_of(schema, value)
    if shape.kind == LEAF or not shape.granular:
        out.add(path)
        return
    if shape.kind == MAP:
        for name, child in value.items():
            cpath = path + ((FIELD, name),)
            _collect(child, shape.child_schema(name), cpath, out, allow_duplicates)
            if child is None or child == {} or name not in shape.named:
                out.add(cpath)
        return
    indexed, dups, isch = _index_items(shape, value, allow_duplicates)
    done = set()
    for pe, item in indexed:
        cpath = path + (pe,)
        if pe not in dups:
            _collect(item, isch, cpath, out, allow_duplicates)
        elif pe in done:
            continue
        done.add(pe)
        out.add(cpath)


def fields_of(obj: dict, schema: dict | None, *, allow_duplicates: bool = True) -> set:
    """The set of field paths ``obj`` sets (upstream ``TypedValue.ToFieldSet``), stripped.

    Members are: every scalar and every atomic map/list; every map entry that is not a named
    (``properties``) field, or whose value is ``null`` or ``{}``; every list-map/set item
    (the item itself, plus its own members).  A non-empty named struct field is only a
    parent; an empty granular list adds nothing.  Duplicated list items contribute their
    item path only; with ``allow_duplicates=False`` they raise :class:`FieldPathError`
    (upstream rejects duplicates in an applied configuration).

    The server-owned paths ``apiVersion``, ``kind``, ``metadata`` and ``metadata.{name,
    namespace, uid, resourceVersion, generation, creationTimestamp, managedFields,
    deletionTimestamp, selfLink, clusterName}`` are removed.  ``status`` is kept: callers
    exclude reset fields via ``ignored_paths`` in the managed-fields functions.
    """
    out: set = set()
    if not isinstance(obj, dict):
        raise FieldPathError("object must be a JSON object")
    _collect(obj, schema, (), out, allow_duplicates)
    out.discard(())
    return out - STRIPPED


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------

def json_equal(a, b) -> bool:
    """JSON equality without Python's ``True == 1``; ints and floats compare numerically."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and \
            all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and \
            all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _empty(value) -> bool:
    return value is MISSING or value is None or value == {} or value == []


class Comparison:
    """Paths added, modified and removed between two objects (upstream ``typed.Comparison``)."""

    def __init__(self):
        self.added, self.modified, self.removed = set(), set(), set()

    def exclude(self, ignored) -> "Comparison":
        """Drop every path equal to or below one of ``ignored``."""
        if ignored:
            for attr in ("added", "modified", "removed"):
                setattr(self, attr, {p for p in getattr(self, attr)
                                     if not any(p[:len(i)] == i for i in ignored)})
        return self


def _leaf(lhs, rhs, path, cmp: Comparison) -> None:
    if lhs is MISSING:
        cmp.added.add(path)
    elif rhs is MISSING:
        cmp.removed.add(path)
    elif not json_equal(lhs, rhs):
        cmp.modified.add(path)


def _compare(lhs, rhs, schema, path: tuple, cmp: Comparison) -> None:
    ls = shape_of(schema, lhs) if lhs is not MISSING else None
    rs = shape_of(schema, rhs) if rhs is not MISSING else None
    if ls is not None and rs is not None and ls.kind != rs.kind and \
            lhs is not None and rhs is not None:
        # The node changed type: the node is modified, the old content removed, the new added.
        _leaf(lhs, rhs, path, cmp)
        if ls.kind != LEAF:
            old: set = set()
            _collect(lhs, schema, path, old, True)
            cmp.removed |= old - {path}
        if rs.kind != LEAF:
            new: set = set()
            _collect(rhs, schema, path, new, True)
            cmp.added |= new - {path}
        return
    shape = rs if rs is not None and rhs is not None else (ls or rs)
    if shape.kind == LEAF or not shape.granular or (_empty(lhs) and _empty(rhs)):
        _leaf(lhs, rhs, path, cmp)
        return
    lval = lhs if lhs not in (MISSING, None) else None
    rval = rhs if rhs not in (MISSING, None) else None
    if shape.kind == MAP:
        lmap, rmap = lval or {}, rval or {}
        for name in list(lmap) + [k for k in rmap if k not in lmap]:
            _compare(lmap.get(name, MISSING), rmap.get(name, MISSING),
                     shape.child_schema(name), path + ((FIELD, name),), cmp)
    else:
        _compare_lists(shape, lval or [], rval or [], path, cmp)
    if lhs is MISSING:
        cmp.added.add(path)
    elif rhs is MISSING:
        cmp.removed.add(path)


def _group(indexed):
    order, groups = [], {}
    for pe, item in indexed:
        if pe not in groups:
            order.append(pe)
            groups[pe] = []
        groups[pe].append(item)
    return order, groups


def _compare_lists(shape: Shape, lhs: list, rhs: list, path: tuple, cmp: Comparison) -> None:
    lidx, _, isch = _index_items(shape, lhs, True)
    ridx, _, _ = _index_items(shape, rhs, True)
    lorder, lgroups = _group(lidx)
    rorder, rgroups = _group(ridx)
    for pe in lorder + [p for p in rorder if p not in lgroups]:
        litems, ritems = lgroups.get(pe, []), rgroups.get(pe, [])
        ipath = path + (pe,)
        if len(litems) <= 1 and len(ritems) <= 1:
            _compare(litems[0] if litems else MISSING, ritems[0] if ritems else MISSING,
                     isch, ipath, cmp)
        elif len(litems) >= 2 and len(ritems) >= 2:
            if not json_equal(litems, ritems):
                cmp.modified.add(ipath)
        elif len(litems) >= 2:
            if ritems:
                _compare(MISSING, ritems[0], isch, ipath, cmp)
            cmp.removed.add(ipath)
        else:
            if litems:
                _compare(litems[0], MISSING, isch, ipath, cmp)
            cmp.added.add(ipath)


def compare(old: dict, new: dict, schema) -> Comparison:
    """What changed from ``old`` to ``new`` (upstream ``TypedValue.Compare``).

    Leaves (scalars, atomic maps/lists, and containers empty or null on both sides) are
    *added*, *removed* or *modified* by value.  A granular map or list item that exists on
    one side only is itself added/removed, together with everything below it; the root is
    never reported.
    """
    cmp = Comparison()
    _compare(old, new, schema, (), cmp)
    for attr in (cmp.added, cmp.modified, cmp.removed):
        attr.discard(())
    return cmp


# ---------------------------------------------------------------------------------------------
# Removal and named-field membership
# ---------------------------------------------------------------------------------------------

_EMPTIED = object()


def _trie(paths) -> dict:
    root: dict = {}
    for path in paths:
        node = root
        for pe in path[:-1]:
            node = node.setdefault(pe, [False, {}])[1]
        if path:
            node.setdefault(path[-1], [False, {}])[0] = True
    return root


def _remove(value, schema, trie: dict):
    shape = shape_of(schema, value)
    if shape.kind == LEAF or not shape.granular or not value:
        return value
    if shape.kind == MAP:
        out = {}
        for name, child in value.items():
            entry = trie.get((FIELD, name))
            if entry is None:
                out[name] = child
            elif not entry[0]:
                kept = _remove(child, shape.child_schema(name), entry[1])
                if kept is not _EMPTIED:
                    out[name] = kept
        return out if out else _EMPTIED
    isch = shape.item_schema()
    items = []
    for item in value:
        try:
            entry = trie.get(item_element(shape, item, isch))
        except FieldPathError:
            entry = None
        if entry is None:
            items.append(item)
        elif not entry[0]:
            kept = _remove(item, isch, entry[1])
            if kept is not _EMPTIED:
                items.append(kept)
    return items if items else _EMPTIED


def remove_paths(obj: dict, paths: set, schema) -> dict:
    """A copy of ``obj`` without the nodes at ``paths`` (each with its whole subtree).

    A granular map or list that loses all its content this way disappears from its parent
    (upstream turns it into ``null``, which typed objects omit).  Untouched subtrees are
    shared with ``obj``, not copied.
    """
    if not paths:
        return obj
    result = _remove(obj, schema, _trie(paths))
    return {} if result is _EMPTIED else result


def ensure_named_members(paths: set, schema) -> set:
    """``paths`` plus every named (``properties``) struct field that has a member below it.

    Upstream ``Set.EnsureNamedFieldsAreMembers``: owning ``.spec.template.spec.x`` also
    counts as owning ``.spec``, ``.spec.template`` and ``.spec.template.spec`` when those are
    declared struct fields, but never a map key such as a label name.
    """
    if schema is None:
        return set(paths)
    out = set(paths)
    cache: dict = {(): definitions.resolve(schema)}
    for path in paths:
        for i in range(1, len(path)):
            prefix = path[:i]
            if prefix in out and prefix in cache:
                continue
            parent = cache.get(path[:i - 1], MISSING)
            if parent is MISSING:
                break
            kind, content = prefix[-1]
            if kind == FIELD:
                if parent is not None and content in (parent.get("properties") or {}):
                    out.add(prefix)
                cache[prefix] = definitions.property_schema(parent, content) if parent else None
            else:
                cache[prefix] = definitions.items_schema(parent) if parent else None
    return out


__all__ = ["fields_of", "compare", "remove_paths", "ensure_named_members", "json_equal",
           "shape_of", "item_element", "Comparison", "STRIPPED", "MISSING", "KEY"]
