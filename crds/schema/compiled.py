"""A CRD version's ``openAPIV3Schema`` read once into a tree of :class:`Node` objects.

Every validation, pruning and defaulting pass walks this tree instead of the raw JSON, and
:func:`compile_schema` keeps the tree (with its compiled patterns and CEL programs) per schema
dict, so a request pays for neither.  The cache holds the schema object itself, so an ``id``
can never be reused while its entry lives; a schema dict must not be mutated once used.

Reading follows apiextensions-apiserver ``pkg/apiserver/validation/validation.go``
(``ConvertJSONSchemaPropsWithPostProcess``: int-or-string becomes the types
``integer,string``; unsupported formats are blanked by ``formats.go``).

May import: the standard library and this package.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

from . import formats

CACHE_SIZE = 512


class Node:
    """One schema node; attribute names mirror upstream's ``Structural`` fields."""

    __slots__ = (
        "raw", "types", "type", "nullable", "format", "enum", "maximum", "exclusive_maximum",
        "minimum", "exclusive_minimum", "multiple_of", "max_length", "min_length", "pattern",
        "pattern_rx", "pattern_error", "max_items", "min_items", "unique_items",
        "max_properties", "min_properties", "required", "properties", "additional",
        "items", "item_list", "all_of", "any_of", "one_of", "not_", "embedded", "preserve",
        "int_or_string", "list_type", "map_keys", "map_type", "rules", "has_default",
        "default", "cel", "has_rules_below")

    def __init__(self, raw: dict):
        self.raw = raw
        self.type = raw.get("type") or ""
        self.int_or_string = bool(raw.get("x-kubernetes-int-or-string"))
        self.types = (["integer", "string"] if self.int_or_string
                      else [self.type] if self.type else [])
        self.nullable = bool(raw.get("nullable"))
        self.format = formats.effective_format(self.type, raw.get("format") or "")
        self.enum = raw.get("enum")
        self.maximum = raw.get("maximum")
        self.exclusive_maximum = bool(raw.get("exclusiveMaximum"))
        self.minimum = raw.get("minimum")
        self.exclusive_minimum = bool(raw.get("exclusiveMinimum"))
        self.multiple_of = raw.get("multipleOf")
        self.max_length = raw.get("maxLength")
        self.min_length = raw.get("minLength")
        self.pattern = raw.get("pattern") or ""
        self.pattern_rx, self.pattern_error = None, ""
        if self.pattern:
            try:
                self.pattern_rx = re.compile(self.pattern)
            except re.error as exc:
                self.pattern_error = str(exc)
        self.max_items = raw.get("maxItems")
        self.min_items = raw.get("minItems")
        self.unique_items = bool(raw.get("uniqueItems"))
        self.max_properties = raw.get("maxProperties")
        self.min_properties = raw.get("minProperties")
        self.required = list(raw.get("required") or [])
        self.properties = {k: Node(v) for k, v in (raw.get("properties") or {}).items()}
        additional = raw.get("additionalProperties")
        # None: not set; False: forbidden; True: any; Node: a schema for every other key
        self.additional = Node(additional) if isinstance(additional, dict) else additional
        items = raw.get("items")
        self.items = Node(items) if isinstance(items, dict) else None
        self.item_list = [Node(i) for i in items] if isinstance(items, list) else []
        self.all_of = [Node(s) for s in raw.get("allOf") or []]
        self.any_of = [Node(s) for s in raw.get("anyOf") or []]
        self.one_of = [Node(s) for s in raw.get("oneOf") or []]
        self.not_ = Node(raw["not"]) if isinstance(raw.get("not"), dict) else None
        self.embedded = bool(raw.get("x-kubernetes-embedded-resource"))
        self.preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
        self.list_type = raw.get("x-kubernetes-list-type") or ""
        self.map_keys = list(raw.get("x-kubernetes-list-map-keys") or [])
        self.map_type = raw.get("x-kubernetes-map-type") or ""
        self.rules = list(raw.get("x-kubernetes-validations") or [])
        self.has_default = "default" in raw
        self.default = raw.get("default")
        self.cel = None          # filled lazily by cel.py: compiled rules of this node
        self.has_rules_below = bool(self.rules) or any(
            n.has_rules_below for n in self.children())

    def children(self):
        yield from self.properties.values()
        if isinstance(self.additional, Node):
            yield self.additional
        if self.items is not None:
            yield self.items
        yield from self.all_of

    def additional_schema(self) -> "Node | None":
        return self.additional if isinstance(self.additional, Node) else None

    def for_field(self, name: str) -> "Node | None":
        """The schema of a map entry: its property, else ``additionalProperties``."""
        prop = self.properties.get(name)
        return prop if prop is not None else self.additional_schema()


class Compiled:
    """The compiled tree of one schema; ``root`` is the ``openAPIV3Schema`` node."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.root = Node(schema or {})


_cache: "OrderedDict[int, Compiled]" = OrderedDict()
_lock = threading.Lock()
stats = {"compiled": 0}


def compile_schema(schema: dict) -> Compiled:
    """The :class:`Compiled` tree for ``schema``, built once per schema object."""
    key = id(schema)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit.schema is schema:
            _cache.move_to_end(key)
            return hit
    compiled = Compiled(schema)
    with _lock:
        _cache[key] = compiled
        stats["compiled"] += 1
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
