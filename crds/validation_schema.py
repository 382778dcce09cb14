"""A CRD version's ``schema.openAPIV3Schema``: the OpenAPI subset Kubernetes accepts, the
list/map type extensions and the shape of ``x-kubernetes-validations`` rules.

Upstream: kubernetes/apiextensions-apiserver:pkg/apis/apiextensions/validation/
validation.go (``validateCustomResourceDefinitionValidation``,
``ValidateCustomResourceDefinitionOpenAPISchema``, ``specStandardValidatorV3.validate``,
``validateMapListKeysMapSet``).  The structural rules are :mod:`crds.validation_structural`, the x-kubernetes-validations
rules :mod:`crds.validation_rules`.  Not done: CEL cost estimates, and checking defaults
against the schema (``structuraldefaulting.ValidateDefaults``).
"""
from __future__ import annotations


from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import GoText, go_strings

from .validation_rules import compile_rules, rule_shapes
from .validation_structural import convertible, validate_structural

OPENAPI_TYPES = ("array", "boolean", "integer", "number", "object", "string")
META_FIELDS = ("apiVersion", "kind", "metadata")
# JSONSchemaProps in struct order (JSON key, Go field): the root check below walks them so
ROOT_FIELDS = (
    ("id", "ID"), ("$schema", "Schema"), ("$ref", "Ref"), ("description", "Description"),
    ("type", "Type"), ("nullable", "Nullable"), ("format", "Format"), ("title", "Title"),
    ("default", "Default"), ("maximum", "Maximum"), ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"), ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"), ("minLength", "MinLength"), ("pattern", "Pattern"),
    ("maxItems", "MaxItems"), ("minItems", "MinItems"), ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"), ("enum", "Enum"), ("maxProperties", "MaxProperties"),
    ("minProperties", "MinProperties"), ("required", "Required"), ("items", "Items"),
    ("allOf", "AllOf"), ("oneOf", "OneOf"), ("anyOf", "AnyOf"), ("not", "Not"),
    ("properties", "Properties"), ("additionalProperties", "AdditionalProperties"),
    ("patternProperties", "PatternProperties"), ("dependencies", "Dependencies"),
    ("additionalItems", "AdditionalItems"), ("definitions", "Definitions"),
    ("externalDocs", "ExternalDocs"), ("example", "Example"),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
    ("x-kubernetes-int-or-string", "XIntOrString"),
    ("x-kubernetes-list-map-keys", "XListMapKeys"), ("x-kubernetes-list-type", "XListType"),
    ("x-kubernetes-map-type", "XMapType"), ("x-kubernetes-validations", "XValidations"))
ALLOWED_AT_ROOT = ("Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum",
                   "Minimum", "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern",
                   "MaxItems", "MinItems", "UniqueItems", "MultipleOf", "Required", "Items",
                   "Properties", "ExternalDocs", "Example", "XPreserveUnknownFields",
                   "XValidations")
_BOOL_FIELDS = ("nullable", "exclusiveMaximum", "exclusiveMinimum", "uniqueItems",
                "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string")


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _s(value) -> str:
    return value if isinstance(value, str) else ""


def walk(schema, visit) -> bool:
    """True when ``visit`` is true for ``schema`` or any schema nested in it (upstream
    ``SchemaHas``)."""
    if not isinstance(schema, dict):
        return False
    if visit(schema):
        return True
    children = [schema.get("items"), schema.get("not"), schema.get("additionalProperties"),
                schema.get("additionalItems")]
    children += _l(schema.get("items"))
    for key in ("allOf", "anyOf", "oneOf"):
        children += _l(schema.get(key))
    for key in ("properties", "patternProperties", "definitions", "dependencies"):
        children += list(_d(schema.get(key)).values())
    return any(walk(c, visit) for c in children)


def has_schema_with(spec: dict, visit) -> bool:
    """``HasSchemaWith`` over the internal spec (top-level and per-version schemas)."""
    schemas = [_d(spec.get("validation")).get("openAPIV3Schema")]
    schemas += [_d(v.get("schema")).get("openAPIV3Schema") for v in _l(spec.get("versions"))]
    return any(walk(s, visit) for s in schemas)


# ---------------------------------------------------------------- one CustomResourceValidation

def validate_validation(validation, status_enabled: bool, path: str) -> list[FieldError]:
    """``validateCustomResourceDefinitionValidation`` for v1 options (defaults allowed,
    valid types and structural schemas required)."""
    if not isinstance(validation, dict):
        return []
    schema = validation.get("openAPIV3Schema")
    if not isinstance(schema, dict):
        return []
    spath = path + ".openAPIV3Schema"
    errs: list[FieldError] = []
    if status_enabled:
        errs += _root_with_status(schema, spath)
    if schema.get("nullable") is True:
        errs.append(errors.forbidden(spath + ".nullable", "nullable cannot be true at the root"))
    init_errs: list[FieldError] = []
    cel: list | None = None
    problem = convertible(schema)
    if problem:
        init_errs.append(errors.invalid(spath, "", problem))
    else:
        structural = validate_structural(schema, spath)
        errs += structural
        cel = [] if not structural else None
    errs += validate_openapi_schema(schema, spath, Context(cel=cel), root=True)
    errs += cel or []        # upstream: every schema error first, then the CEL ones
    if not errs:
        errs += init_errs
    return errs


def _root_with_status(schema: dict, path: str) -> list[FieldError]:
    for key, go_name in ROOT_FIELDS:
        value = schema.get(key)
        if value is None or (key in _BOOL_FIELDS and value is False) or value == "":
            continue
        if go_name == "Type":
            if value != "object":
                return [errors.invalid(path + ".type", value, 'only "object" is allowed as the '
                                       'type at the root of the schema if the status '
                                       'subresource is enabled')]
            continue
        if go_name not in ALLOWED_AT_ROOT:
            return [errors.invalid(path, GoText("apiextensions.JSONSchemaProps{...}"),
                                   f"only [{' '.join(ALLOWED_AT_ROOT)}] fields are allowed at "
                                   "the root of the schema if the status subresource is enabled")]
    return []


class Context:
    """``specStandardValidatorV3``'s state while descending, plus where CEL errors go
    (``cel``: None when the rules are not compiled, as upstream skips them for a
    non-structural schema) and the first ancestor below which ``oldSelf`` cannot be
    correlated (``uncorrelatable``)."""

    def __init__(self, *, allow_defaults: bool = True, reason: str = "",
                 inside_meta: bool = False, cel: list | None = None,
                 uncorrelatable: str | None = None):
        self.allow_defaults, self.reason, self.inside_meta = allow_defaults, reason, inside_meta
        self.cel, self.uncorrelatable = cel, uncorrelatable

    def _with(self, **changes) -> "Context":
        values = dict(allow_defaults=self.allow_defaults, reason=self.reason,
                      inside_meta=self.inside_meta, cel=self.cel,
                      uncorrelatable=self.uncorrelatable)
        values.update(changes)
        return Context(**values)

    def forbid_defaults(self, reason: str) -> "Context":
        return self._with(allow_defaults=False, reason=reason)

    def in_meta(self) -> "Context":
        return self._with(inside_meta=True)

    def forbid_old_self(self, path: str) -> "Context":
        return self if self.uncorrelatable is not None else self._with(uncorrelatable=path)

    def no_cel(self) -> "Context":
        return self._with(cel=None)


def _node_checks(s: dict, path: str, ctx: Context) -> list[FieldError]:
    """``specStandardValidatorV3.validate``."""
    errs: list[FieldError] = []
    typ = s.get("type")
    if typ and typ not in OPENAPI_TYPES:
        errs.append(errors.not_supported(path + ".type", typ, OPENAPI_TYPES))
    if s.get("default") is not None and not ctx.allow_defaults:
        detail = "must not be set" + (" " + ctx.reason if ctx.reason else "")
        errs.append(errors.forbidden(path + ".default", detail))
    if s.get("id"):
        errs.append(errors.forbidden(path + ".id", "id is not supported"))
    for key in ("additionalItems", "patternProperties", "definitions", "dependencies"):
        if s.get(key) is not None and (key == "additionalItems" or s.get(key)):
            errs.append(errors.forbidden(f"{path}.{key}", f"{key} is not supported"))
    if s.get("$ref") is not None:
        errs.append(errors.forbidden(path + ".$ref", "$ref is not supported"))
    if typ == "null":
        errs.append(errors.forbidden(path + ".type",
                                     "type cannot be set to null, use nullable as an alternative"))
    if isinstance(s.get("items"), list) and s["items"]:
        errs.append(errors.forbidden(path + ".items", "items must be a schema object and not an array"))
    if ctx.inside_meta and s.get("x-kubernetes-embedded-resource") is True:
        errs.append(errors.forbidden(path + ".x-kubernetes-embedded-resource",
                                     "must not be used inside of resource meta"))
    return errs


def validate_openapi_schema(s, path: str, ctx: Context, *, root: bool = False) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionOpenAPISchema`` for one node and its children."""
    if not isinstance(s, dict):
        return []
    errs = _node_checks(s, path, ctx)
    if s.get("uniqueItems") is True:
        errs.append(errors.forbidden(path + ".uniqueItems", "uniqueItems cannot be set to true "
                                     "since the runtime complexity becomes quadratic"))
    props = _d(s.get("properties"))
    extra = s.get("additionalProperties")
    if extra is not None:
        if props and (extra is False or isinstance(extra, dict)):
            errs.append(errors.forbidden(path + ".additionalProperties",
                                         "additionalProperties and properties are mutual exclusive"))
        sub = ctx.forbid_defaults("inside additionalProperties applying to object metadata") \
            if ctx.inside_meta else ctx
        errs += validate_openapi_schema(extra, path + ".additionalProperties", sub)
    embedded = s.get("x-kubernetes-embedded-resource") is True
    for key in sorted(props):
        sub = ctx
        if s.get("x-kubernetes-map-type") == "atomic":      # cel.MapIsCorrelatable
            sub = sub.forbid_old_self(path)
        if (root or embedded) and key in META_FIELDS:
            sub = sub.in_meta()
            if root:
                sub = sub.forbid_defaults(f"in top-level {key}")
        errs += validate_openapi_schema(props[key], f"{path}.properties[{key}]", sub)
    # no CEL context inside junctors, definitions and dependencies (upstream passes nil)
    plain = ctx.no_cel()
    errs += validate_openapi_schema(s.get("not"), path + ".not", plain)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, clause in enumerate(_l(s.get(key))):
            errs += validate_openapi_schema(clause, f"{path}.{key}[{i}]", plain)
    for key in sorted(_d(s.get("definitions"))):
        errs += validate_openapi_schema(s["definitions"][key], f"{path}.definitions[{key}]", plain)
    items = s.get("items")
    item_ctx = ctx if s.get("x-kubernetes-list-type") == "map" else ctx.forbid_old_self(path)
    if isinstance(items, dict):
        errs += validate_openapi_schema(items, path + ".items", item_ctx)
    for i, item in enumerate(_l(items)):
        errs += validate_openapi_schema(item, f"{path}.items[{i}]", item_ctx)
    for key in sorted(_d(s.get("dependencies"))):
        errs += validate_openapi_schema(s["dependencies"][key], f"{path}.dependencies[{key}]", plain)
    errs += _extensions(s, path)
    errs += _map_list_keys(s, path)
    errs += rule_shapes(s, path)
    if not errs and ctx.cel is not None:
        ctx.cel.extend(compile_rules(s, path, ctx.uncorrelatable))
    return errs


def _extensions(s: dict, path: str) -> list[FieldError]:
    """x-kubernetes-preserve-unknown-fields, -map-type, -list-type, -list-map-keys."""
    errs: list[FieldError] = []
    typ = _s(s.get("type"))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(errors.invalid(path + ".x-kubernetes-preserve-unknown-fields", False,
                                   "must be true or undefined"))
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None and typ != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        errs.append(errors.invalid(path + ".type", typ, detail) if typ
                    else errors.required(path + ".type", detail))
    if map_type is not None and map_type not in ("atomic", "granular"):
        errs.append(errors.not_supported(path + ".x-kubernetes-map-type", map_type,
                                         ("atomic", "granular")))
    list_type = s.get("x-kubernetes-list-type")
    items = s.get("items") if isinstance(s.get("items"), dict) else None
    if list_type is not None and typ != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        errs.append(errors.invalid(path + ".type", typ, detail) if typ
                    else errors.required(path + ".type", detail))
    elif list_type == "set" and items is not None:
        item_type = items.get("type")
        if item_type == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
            errs.append(errors.invalid(path + ".items.x-kubernetes-list-type",
                                       items["x-kubernetes-list-type"],
                                       "must be atomic as item of a list with x-kubernetes-list-type=set"))
        if item_type == "object" and items.get("x-kubernetes-map-type") != "atomic":
            # upstream shows the items' list type here, not the map type
            errs.append(errors.invalid(path + ".items.x-kubernetes-map-type",
                                       items.get("x-kubernetes-list-type"),
                                       "must be atomic as item of a list with x-kubernetes-list-type=set"))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.append(errors.not_supported(path + ".x-kubernetes-list-type", list_type,
                                         ("atomic", "set", "map")))
    keys = _l(s.get("x-kubernetes-list-map-keys"))
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errs.append(errors.required(path + ".x-kubernetes-list-type", detail))
        elif list_type != "map":
            errs.append(errors.invalid(path + ".x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        if not keys:
            errs.append(errors.required(path + ".x-kubernetes-list-map-keys",
                                        "must not be empty if x-kubernetes-list-type is map"))
        if s.get("items") is None:
            errs.append(errors.required(path + ".items",
                                        "must have a schema if x-kubernetes-list-type is map"))
        elif items is None:
            errs.append(errors.invalid(path + ".items", GoText("[]apiextensions.JSONSchemaProps{...}"),
                                       "must only have a single schema if x-kubernetes-list-type is map"))
        elif items.get("type") != "object":
            errs.append(errors.invalid(path + ".items.type", _s(items.get("type")),
                                       "must be object if parent array's x-kubernetes-list-type is map"))
        else:
            seen: set = set()
            item_props = _d(items.get("properties"))
            for k in keys:
                if k in item_props:
                    if _d(item_props[k]).get("type") in ("array", "object"):
                        errs.append(errors.invalid(f"{path}.items.properties[{k}].type", "object",
                                                   "must be a scalar type if parent array's "
                                                   "x-kubernetes-list-type is map"))
                else:
                    errs.append(errors.invalid(path + ".x-kubernetes-list-map-keys", go_strings(keys),
                                               "entries must all be names of item properties"))
                if k in seen:
                    errs.append(errors.invalid(path + ".x-kubernetes-list-map-keys", go_strings(keys),
                                               "must not contain duplicate entries"))
                seen.add(k)
    return errs


def _map_list_keys(s: dict, path: str) -> list[FieldError]:
    """``validateMapListKeysMapSet``: set/map items are not nullable; map keys are required
    or defaulted, and not nullable."""
    items = s.get("items")
    list_type = s.get("x-kubernetes-list-type")
    if not isinstance(items, dict) or list_type not in ("set", "map"):
        return []
    errs: list[FieldError] = []
    if items.get("nullable") is True:
        errs.append(errors.forbidden(path + ".items.nullable",
                                     "cannot be nullable when x-kubernetes-list-type is " + list_type))
    if list_type == "map":
        required = _l(items.get("required"))
        props = _d(items.get("properties"))
        for k in _l(s.get("x-kubernetes-list-map-keys")):
            if k not in props:
                continue
            prop = _d(props[k])
            if k not in required and prop.get("default") is None:
                errs.append(errors.required(f"{path}.items.properties[{k}].default",
                                            "this property is in x-kubernetes-list-map-keys, so "
                                            "it must have a default or be a required property"))
            if prop.get("nullable") is True:
                errs.append(errors.forbidden(f"{path}.items.properties[{k}].nullable",
                                             "this property is in x-kubernetes-list-map-keys, so "
                                             "it cannot be nullable"))
    return errs
