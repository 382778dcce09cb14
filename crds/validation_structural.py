"""Structural schemas: the rules a CRD's ``openAPIV3Schema`` must follow in v1 so that
pruning, defaulting and server-side apply can rely on it.

Upstream: kubernetes/apiextensions-apiserver:pkg/apiserver/schema/convert.go
(``NewStructural``: which keys are the node's shape — type, properties, items,
additionalProperties, title, description, default, nullable, the x-kubernetes extensions —
and which are value validations: allOf, anyOf, oneOf, not, pattern …), validation.go
(``ValidateStructural``: invariants of every node, and inside the logical junctors nothing
but value validations) and complete.go (every property a junctor names is a real property).
The result is sorted by message, as upstream sorts it.  Works on the JSON dicts as given.
"""
from __future__ import annotations

import re

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError

ROOT, ITEM, FIELD = "root", "item", "field"
_TYPE_REQUIRED = {ROOT: "must not be empty at the root",
                  ITEM: "must not be empty for specified array items",
                  FIELD: "must not be empty for specified object fields"}
# keys that make a JSONSchemaProps fail NewStructural (structural validation is skipped then)
UNSUPPORTED = ("id", "$schema", "$ref", "patternProperties", "dependencies", "additionalItems",
               "definitions")
# ValueValidation's fields: what may stay on a root metadata node besides name/generateName
VALUE_KEYS = ("format", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
              "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
              "multipleOf", "enum", "maxProperties", "minProperties", "required", "allOf",
              "anyOf", "oneOf", "not")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _props(node: dict) -> dict:
    return _d(node.get("properties"))


def convertible(node) -> str:
    """"" when ``NewStructural`` accepts ``node`` (recursively), else its error text."""
    if not isinstance(node, dict):
        return ""
    for key in UNSUPPORTED:
        if node.get(key):
            name = "schema" if key == "$schema" else key
            return f"OpenAPIV3Schema '{name}' is not supported"
    if node.get("x-kubernetes-preserve-unknown-fields") is False:
        return "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    items = node.get("items")
    if isinstance(items, list):
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    children = [items, node.get("not"), node.get("additionalProperties")]
    children += list(_props(node).values())
    for key in ("allOf", "anyOf", "oneOf"):
        children += node.get(key) if isinstance(node.get(key), list) else []
    for child in children:
        if problem := convertible(child):
            return problem
    return ""


def validate_structural(schema: dict, path: str) -> list[FieldError]:
    """``ValidateStructural(path, NewStructural(schema))``; call only when
    :func:`convertible` is happy."""
    errs = _invariants(schema, ROOT, path)
    errs += _completeness(schema, schema, path, path)
    return sorted(errs, key=lambda e: e.error_text())


# ---------------------------------------------------------------- invariants of a node

def _invariants(s: dict, lvl: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = s.get("type") or ""
    if typ == "array" and s.get("items") is None:
        errs.append(errors.required(path + ".items", "must be specified"))
    if isinstance(s.get("items"), dict):
        errs += _invariants(s["items"], ITEM, path + ".items")
    for key in sorted(_props(s)):
        errs += _invariants(_d(_props(s)[key]), FIELD, f"{path}.properties[{key}]")
    if "additionalProperties" in s and s["additionalProperties"] is not None:
        if lvl == ROOT:
            errs.append(errors.forbidden(path + ".additionalProperties", "must not be used at the root"))
        if isinstance(s["additionalProperties"], dict):
            errs += _invariants(s["additionalProperties"], FIELD, path + ".additionalProperties")
    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if int_or_string and preserve:
        errs.append(errors.invalid(path + ".x-kubernetes-preserve-unknown-fields", True,
                                   "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        errs.append(errors.invalid(path + ".x-kubernetes-embedded-resource", True,
                                   "must be false if x-kubernetes-int-or-string is true"))
    skip_any_of = s.get("anyOf") == _INT_OR_STRING_ANY_OF
    all_of = s.get("allOf") if isinstance(s.get("allOf"), list) else []
    skip_first = bool(all_of) and _d(all_of[0]).get("anyOf") == _INT_OR_STRING_ANY_OF
    errs += _value_validation(s, skip_any_of, skip_first, lvl, path)

    check_metadata = lvl == ROOT or embedded
    if embedded and typ != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(errors.invalid(path + ".type", typ, detail) if typ
                    else errors.required(path + ".type", detail))
    elif not typ and not int_or_string and not preserve:
        errs.append(errors.required(path + ".type", _TYPE_REQUIRED[lvl]))
    if embedded and s.get("additionalProperties") is not None:
        errs.append(errors.forbidden(path + ".additionalProperties",
                                     "must not be used if x-kubernetes-embedded-resource is set"))
    if lvl == ROOT and typ and typ != "object":
        errs.append(errors.invalid(path + ".type", typ, "must be object at the root"))
    for key in ("kind", "apiVersion"):
        if key in _props(s) and check_metadata:
            sub_type = _d(_props(s)[key]).get("type") or ""
            if sub_type != "string":
                errs.append(errors.invalid(f"{path}.properties[{key}].type", sub_type, "must be string"))
    if "metadata" in _props(s):
        errs += _metadata(_d(_props(s)["metadata"]), check_metadata, lvl,
                          path + ".properties[metadata]")
    if embedded and not preserve and not _props(s):
        errs.append(errors.required(path + ".properties",
                                    "must not be empty if x-kubernetes-embedded-resource is true "
                                    "without x-kubernetes-preserve-unknown-fields"))
    return errs


def _metadata(s: dict, check: bool, lvl: str, path: str) -> list[FieldError]:
    """``validateStructuralMetadataInvariants``: an object; at the root nothing but
    restrictions of name and generateName (the rest of metadata is implicit)."""
    errs: list[FieldError] = []
    if check and s.get("type") != "object":
        errs.append(errors.invalid(path + ".type", s.get("type") or "", "must be object"))
    if lvl == ROOT:
        rest = {k: v for k, v in s.items() if k not in ("type", "default")}
        props = _props(s)
        if props and set(props) <= {"name", "generateName"}:
            rest.pop("properties", None)
        if any(_non_zero(k, v) for k, v in rest.items()):
            errs.append(errors.forbidden(path, "must not specify anything other than name and "
                                               "generateName, but metadata is implicitly specified"))
    return errs


# Structural's pointer fields: set (even to false or 0) is not the zero value
_POINTERS = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type",
             "x-kubernetes-map-type", "maximum", "minimum", "maxLength", "minLength",
             "maxItems", "minItems", "multipleOf", "maxProperties", "minProperties", "not",
             "items", "additionalProperties")
# not part of a Structural at all
_NOT_STRUCTURAL = ("example", "externalDocs")


def _non_zero(key: str, value) -> bool:
    if value is None or key in _NOT_STRUCTURAL:
        return False
    if key in _POINTERS:
        return True
    if value is False or value == "":
        return False
    # NewStructural builds these only when non-empty
    return not (key in ("properties", "enum", "allOf", "anyOf", "oneOf") and not value)


# ---------------------------------------------------------------- junctors

def _value_validation(v: dict, skip_any_of: bool, skip_first_all_of_any_of: bool, lvl: str,
                      path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not skip_any_of:
        for i, clause in enumerate(_list(v.get("anyOf"))):
            errs += _nested(_d(clause), False, lvl, f"{path}.anyOf[{i}]")
    for i, clause in enumerate(_list(v.get("allOf"))):
        errs += _nested(_d(clause), skip_first_all_of_any_of and i == 0, lvl, f"{path}.allOf[{i}]")
    for i, clause in enumerate(_list(v.get("oneOf"))):
        errs += _nested(_d(clause), False, lvl, f"{path}.oneOf[{i}]")
    if isinstance(v.get("not"), dict):
        errs += _nested(v["not"], False, lvl, path + ".not")
    pattern = v.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            errs.append(errors.invalid(path + ".pattern", pattern,
                                       f"must be a valid regular expression, but isn't: "
                                       f"error parsing regexp: {exc}"))
    return errs


def _list(value) -> list:
    return value if isinstance(value, list) else []


_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural", lambda v: bool(v)),
    ("additionalProperties", "must be undefined to be structural",
     lambda v: isinstance(v, dict) or v is True),
    ("default", "must be undefined to be structural", lambda v: v is not None),
    ("title", "must be empty to be structural", lambda v: bool(v)),
    ("description", "must be empty to be structural", lambda v: bool(v)),
    ("nullable", "must be false to be structural", lambda v: v is True),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural", lambda v: v is True),
    ("x-kubernetes-embedded-resource", "must be false to be structural", lambda v: v is True),
    ("x-kubernetes-int-or-string", "must be false to be structural", lambda v: v is True),
    ("x-kubernetes-list-map-keys", "must be empty to be structural", lambda v: bool(v)),
    ("x-kubernetes-list-type", "must be undefined to be structural", lambda v: v is not None),
    ("x-kubernetes-map-type", "must be undefined to be structural", lambda v: v is not None),
    ("x-kubernetes-validations", "must be empty to be structural", lambda v: bool(v)),
)


def _nested(v: dict, skip_any_of: bool, lvl: str, path: str) -> list[FieldError]:
    """``validateNestedValueValidation``: inside allOf/anyOf/oneOf/not only value
    validations (and properties/items holding more of them)."""
    errs = _value_validation(v, skip_any_of, False, lvl, path)
    if isinstance(v.get("items"), dict):
        errs += _nested(v["items"], False, lvl, path + ".items")
    for key in sorted(_props(v)):
        errs += _nested(_d(_props(v)[key]), False, FIELD, f"{path}.properties[{key}]")
    for key, detail, present in _NESTED_FORBIDDEN:
        if key in v and present(v[key]):
            errs.append(errors.forbidden(f"{path}.{key}", detail))
    if "metadata" in _props(v):
        errs.append(errors.forbidden(path + ".properties[metadata]",
                                     "must not be specified in a nested context"))
    return errs


# ---------------------------------------------------------------- completeness

def _completeness(v: dict, s: dict | None, s_path: str, v_path: str) -> list[FieldError]:
    """``validateValueValidationCompleteness`` from the root: every property or items a
    junctor mentions exists in the structural schema at the same place."""
    errs: list[FieldError] = []
    clauses = [(v.get("not"), v_path + ".not")] if isinstance(v.get("not"), dict) else []
    for key in ("allOf", "anyOf", "oneOf"):
        clauses += [(c, f"{v_path}.{key}[{i}]") for i, c in enumerate(_list(v.get(key)))]
    for clause, c_path in clauses:
        errs += _nested_completeness(_d(clause), s, s_path, c_path)
    return errs


def _nested_completeness(v: dict, s: dict | None, s_path: str, v_path: str) -> list[FieldError]:
    if s is None:
        return [errors.required(s_path, f"because it is defined in {v_path}")]
    errs = _completeness(v, s, s_path, v_path)
    if isinstance(v.get("items"), dict):
        items = s.get("items") if isinstance(s.get("items"), dict) else None
        errs += _nested_completeness(v["items"], items, s_path + ".items", v_path + ".items")
    for key in sorted(_props(v)):
        if key not in _props(s):
            errs.append(errors.required(f"{s_path}.properties[{key}]",
                                        f"because it is defined in {v_path}.properties[{key}]"))
        else:
            errs += _nested_completeness(_d(_props(v)[key]), _d(_props(s)[key]),
                                         f"{s_path}.properties[{key}]",
                                         f"{v_path}.properties[{key}]")
    return errs
