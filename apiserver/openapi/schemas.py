"""Built-in definitions rewritten in OpenAPI 3.0 form, as ``components.schemas`` carries them.

:mod:`apiserver.openapi.definitions` holds the definitions JSON-schema flavoured
(``$ref: "#/$defs/<name>"``, ``type: ["string", "null"]``).  kube-apiserver's /openapi/v3
documents differ in these ways, which is what this module undoes:

* references are ``#/components/schemas/<name>``; a reference with sibling keywords (a
  property's own description, patch strategy, ...) is written ``allOf: [{$ref}]`` next to them;
* ``type`` is one string (the ``null`` alternative is dropped);
* IntOrString is ``{format: int-or-string, oneOf: [integer, string]}`` and Quantity
  ``{oneOf: [string, number]}``;
* ``apiVersion``/``kind`` carry no ``enum``.

Everything else (description, required, properties, items, additionalProperties, format,
enum, default and the ``x-kubernetes-*`` extensions, including the list-valued
``x-kubernetes-group-version-kind`` of top-level kinds) is kept.  Conversions are memoized
per definition; callers must treat what they get back as read-only.

May import: apiserver.openapi.definitions.
"""
from __future__ import annotations

import functools

from apiserver.openapi import definitions

SCHEMA_PREFIX = "#/components/schemas/"

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# Keys whose value is one schema / a list of schemas / a name -> schema map.
_SCHEMA_KEYS = ("items", "additionalProperties", "not")
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")

# The two scalar wrappers whose upstream v3 form differs from the JSON-schema file's.
_OVERRIDES = {
    INT_OR_STRING: {
        "description": "IntOrString holds either an int32 or a string. Where it is used as "
                       "a field, JSON and YAML accept either form.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    QUANTITY: {
        "description": "Quantity is a fixed-point representation of a number, written as a "
                       "string such as \"100m\", \"1.5Gi\" or \"2e3\" (a bare JSON number is "
                       "also accepted).",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
}


def ref(name: str) -> dict:
    """A reference node to ``components.schemas.<name>``."""
    return {"$ref": SCHEMA_PREFIX + name}


def ref_target(node) -> str | None:
    """The schema name a ``#/components/schemas/`` reference node points at."""
    value = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(value, str) and value.startswith(SCHEMA_PREFIX):
        return value[len(SCHEMA_PREFIX):]
    return None


def convert(node, refs: set[str]):
    """One JSON-schema node (and everything under it) in OpenAPI 3 form.

    Names of the definitions it references are added to ``refs``.
    """
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type":
            types = [t for t in (value if isinstance(value, list) else [value]) if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
            elif len(types) > 1:  # not present in the 1.32 definitions; keep it expressible
                out.setdefault("anyOf", []).extend({"type": t} for t in types)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: convert(sub, refs) for name, sub in value.items()}
        elif key in _SCHEMA_KEYS and isinstance(value, dict):
            out[key] = convert(value, refs)
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out.setdefault(key, []).extend(convert(sub, refs) for sub in value)
        else:
            out[key] = value
    target = node.get("$ref")
    if isinstance(target, str):
        name = target[len(definitions.REF_PREFIX):] \
            if target.startswith(definitions.REF_PREFIX) else target.rsplit("/", 1)[-1]
        refs.add(name)
        if not out:
            return ref(name)
        out["allOf"] = [ref(name)] + out.get("allOf", [])
    return out


@functools.lru_cache(maxsize=None)
def converted(name: str) -> tuple[dict, frozenset[str]] | None:
    """``(schema, names it references)`` for one definition, or None when unknown."""
    if name in _OVERRIDES:
        return _OVERRIDES[name], frozenset()
    source = definitions.get(name)
    if source is None:
        return None
    refs: set[str] = set()
    schema = convert(source, refs)
    if schema.get("x-kubernetes-group-version-kind"):
        # The JSON-schema file pins apiVersion/kind with an enum; upstream v3 does not.
        props = schema.get("properties") or {}
        for key in ("apiVersion", "kind"):
            if isinstance(props.get(key), dict) and "enum" in props[key]:
                props[key] = {k: v for k, v in props[key].items() if k != "enum"}
    refs.discard(name)
    return schema, frozenset(refs)


def is_builtin(name: str) -> bool:
    return bool(name) and (name in _OVERRIDES or definitions.get(name) is not None)


def references_in(node) -> set[str]:
    """Names of every ``#/components/schemas/`` reference anywhere under ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            target = ref_target(item)
            if target:
                found.add(target)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def closure(roots, extra: dict[str, dict] | None = None) -> dict[str, dict]:
    """``components.schemas`` for ``roots``: each named schema plus everything it reaches.

    ``extra`` supplies schemas that are not built-in definitions (already in OpenAPI 3
    form, e.g. a kind's own schema); their references are followed too.  A name that is
    neither built-in nor in ``extra`` gets a permissive object schema, so no reference in
    the result dangles.
    """
    extra = extra or {}
    out: dict[str, dict] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in out:
            continue
        if name in extra:
            schema = extra[name]
            refs = references_in(schema)
        else:
            found = converted(name)
            if found is None:
                schema, refs = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, ()
            else:
                schema, refs = found
        out[name] = schema
        pending.extend(r for r in refs if r not in out)
    return out
