"""How an RBAC document maps onto its rows, and back, losslessly.

:func:`split` turns a document into the column values of its object row and of its child rows
(rules or subjects); :func:`join` rebuilds the very same document from them, so that
``orjson.dumps(join(split(doc)))`` is the text the JSON document store would have kept.  The
rules that make it lossless:

* a value goes into its column only if the column can hold it exactly (a string column holds
  strings within its length and without NUL, an integer column 64-bit integers); anything
  else stays in the level's JSON remainder (``metadata_rest``, ``rest``);
* ``metadata.name``/``namespace`` and ``metadata.resourceVersion`` are not stored at all when
  they equal the row's key and revision (they are rebuilt from them);
* a nested object (roleRef) or a list of children (rules, subjects) is taken apart only if
  every part of it fits; otherwise it is kept whole in ``rest``;
* ``layout`` records the key order of every level, hence also which keys are present.

Pure functions over dicts: the storage and the data migration (historical models) share them.
"""
from __future__ import annotations

from dataclasses import dataclass

STR, INT, JSON = "str", "int", "json"
NAME, NAMESPACE, RV = "name", "namespace", "rv"     # rebuilt from the row's key and revision
INT64 = (-(2 ** 63), 2 ** 63)


@dataclass(frozen=True)
class Field:
    key: str                 # the document's key
    column: str | None       # the model field (None: rebuilt from the key or the revision)
    type: str
    max_length: int | None = None


@dataclass(frozen=True)
class Ident:
    """The row's key and revision."""

    namespace: str
    name: str
    rv: int


@dataclass(frozen=True)
class Shape:
    """One kind: its metadata, nested objects, plain columns and child rows."""

    namespaced: bool
    children_key: str                    # "rules" | "subjects"
    child_fields: tuple
    nested: tuple = ()                   # ((key, (Field, ...)), ...): roleRef
    top: tuple = ()                      # Fields of top-level keys: aggregationRule

    @property
    def meta_fields(self) -> tuple:
        return META_FIELDS if self.namespaced else tuple(f for f in META_FIELDS
                                                         if f.type != NAMESPACE)

    def object_fields(self) -> list:
        """Every object-row field with a column of its own."""
        fields = [f for f in self.meta_fields if f.column]
        for _key, nested in self.nested:
            fields += list(nested)
        return fields + list(self.top)

    def json_columns(self) -> set:
        return {f.column for f in self.object_fields() if f.type == JSON} | set(REMAINDERS)

    def empty_values(self) -> dict:
        return {f.column: ("" if f.type == STR else None) for f in self.object_fields()} | \
            dict.fromkeys(REMAINDERS)


REMAINDERS = ("metadata_rest", "rest", "layout")

META_FIELDS = (
    Field("name", None, NAME),
    Field("namespace", None, NAMESPACE),
    Field("uid", "uid", STR, 128),
    Field("resourceVersion", None, RV),
    Field("generation", "generation", INT),
    Field("creationTimestamp", "creation_timestamp", STR, 64),
    Field("deletionTimestamp", "deletion_timestamp", STR, 64),
    Field("labels", "labels", JSON),
    Field("annotations", "annotations", JSON),
    Field("ownerReferences", "owner_references", JSON),
    Field("finalizers", "finalizers", JSON),
    Field("managedFields", "managed_fields", JSON),
)
RULE_FIELDS = (
    Field("verbs", "verbs", JSON),
    Field("apiGroups", "api_groups", JSON),
    Field("resources", "resources", JSON),
    Field("resourceNames", "resource_names", JSON),
    Field("nonResourceURLs", "non_resource_urls", JSON),
)
SUBJECT_FIELDS = (
    Field("kind", "kind", STR, 32),
    Field("apiGroup", "api_group", STR, 253),
    Field("name", "name", STR, 1024),
    Field("namespace", "namespace", STR, 63),
)
ROLE_REF_FIELDS = (
    Field("apiGroup", "role_ref_api_group", STR, 253),
    Field("kind", "role_ref_kind", STR, 32),
    Field("name", "role_ref_name", STR, 253),
)

ROLE = Shape(namespaced=True, children_key="rules", child_fields=RULE_FIELDS)
CLUSTER_ROLE = Shape(namespaced=False, children_key="rules", child_fields=RULE_FIELDS,
                     top=(Field("aggregationRule", "aggregation_rule", JSON),))
ROLE_BINDING = Shape(namespaced=True, children_key="subjects", child_fields=SUBJECT_FIELDS,
                     nested=(("roleRef", ROLE_REF_FIELDS),))
CLUSTER_ROLE_BINDING = Shape(namespaced=False, children_key="subjects",
                             child_fields=SUBJECT_FIELDS, nested=(("roleRef", ROLE_REF_FIELDS),))


def _fits(field: Field, value, ident: Ident) -> bool:
    t = field.type
    if t == JSON:
        return True
    if t == INT:
        return type(value) is int and INT64[0] <= value < INT64[1]
    if type(value) is not str:
        return False
    if t == NAME:
        return value == ident.name
    if t == NAMESPACE:
        return value == ident.namespace
    if t == RV:
        return value == str(ident.rv)
    return "\x00" not in value and (field.max_length is None or len(value) <= field.max_length)


def _split_mapping(d: dict, fields: tuple, ident: Ident, strict: bool):
    """(column values, key order, remainder) of one object level; None when ``strict`` and
    some key has no column or its value does not fit."""
    by_key = {f.key: f for f in fields}
    values, rest = {}, {}
    for key, value in d.items():
        field = by_key.get(key)
        if field is not None and _fits(field, value, ident):
            if field.column:
                values[field.column] = value
        elif strict:
            return None
        else:
            rest[key] = value
    return values, list(d), rest


def _split_children(items, fields: tuple, ident: Ident):
    """(child rows, their key orders), or None unless every item is an object that fits."""
    if not isinstance(items, list):
        return None
    rows, orders = [], []
    for item in items:
        placed = _split_mapping(item, fields, ident, strict=True) if isinstance(item, dict) else None
        if placed is None:
            return None
        rows.append({f.column: ("" if f.type == STR else None) for f in fields} | placed[0])
        orders.append(placed[1])
    return rows, orders


def split(doc: dict, shape: Shape, ident: Ident) -> tuple[dict, list[dict]]:
    """(object-row values, child-row values in order) for ``doc`` stored under ``ident``."""
    values = shape.empty_values()
    children: list[dict] = []
    layout: dict = {"": list(doc)}
    rest: dict = {}
    nested = dict(shape.nested)
    top = {f.key: f for f in shape.top}
    for key, value in doc.items():
        if key == "metadata" and isinstance(value, dict):
            columns, order, meta_rest = _split_mapping(value, shape.meta_fields, ident, False)
            values.update(columns)
            layout["metadata"] = order
            values["metadata_rest"] = meta_rest or None
            continue
        if key in nested and isinstance(value, dict):
            placed = _split_mapping(value, nested[key], ident, strict=True)
            if placed is not None:
                values.update(placed[0])
                layout[key] = placed[1]
                continue
        if key in top:
            values[top[key].column] = value
            continue
        if key == shape.children_key:
            placed = _split_children(value, shape.child_fields, ident)
            if placed is not None:
                children, layout[key] = placed
                continue
        rest[key] = value
    values["rest"] = rest or None
    values["layout"] = layout
    return values, children


def _present(fields: tuple, values: dict, ident: Ident) -> list:
    """Key order for a level without a recorded layout: the keys that have a value."""
    keys = []
    for f in fields:
        if f.column is None:
            if f.type != NAMESPACE or ident.namespace:
                keys.append(f.key)
        elif values.get(f.column) not in (None, ""):
            keys.append(f.key)
    return keys


def _join_mapping(values: dict, fields: tuple, order, rest: dict, ident: Ident) -> dict:
    by_key = {f.key: f for f in fields}
    out = {}
    for key in order if order is not None else _present(fields, values, ident) + list(rest):
        if key in rest:
            out[key] = rest[key]
            continue
        field = by_key.get(key)
        if field is None:
            continue
        if field.type == NAME:
            out[key] = ident.name
        elif field.type == NAMESPACE:
            out[key] = ident.namespace
        elif field.type == RV:
            out[key] = str(ident.rv)
        else:
            out[key] = values[field.column]
    return out


def join(values: dict, children: list[dict], shape: Shape, ident: Ident) -> dict:
    """The document the rows hold (the inverse of :func:`split`)."""
    layout = values.get("layout") or {}
    rest = values.get("rest") or {}
    nested = dict(shape.nested)
    top = {f.key: f for f in shape.top}
    order = layout.get("")
    if order is None:       # rows not written by split(): the usual order of a document
        order = list(rest) + ["metadata"] + [k for k, _ in shape.nested] + \
            [f.key for f in shape.top if values.get(f.column) is not None] + [shape.children_key]
    doc = {}
    for key in order:
        if key in rest:
            doc[key] = rest[key]
        elif key == "metadata":
            doc[key] = _join_mapping(values, shape.meta_fields, layout.get("metadata"),
                                     values.get("metadata_rest") or {}, ident)
        elif key in nested:
            doc[key] = _join_mapping(values, nested[key], layout.get(key), {}, ident)
        elif key in top:
            doc[key] = values[top[key].column]
        elif key == shape.children_key:
            orders = layout.get(key) or []
            doc[key] = [_join_mapping(child, shape.child_fields,
                                      orders[i] if i < len(orders) else None, {}, ident)
                        for i, child in enumerate(children)]
    return doc
