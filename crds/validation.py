"""CustomResourceDefinition validation with upstream's messages and field paths.

Upstream: kubernetes/apiextensions-apiserver:pkg/apis/apiextensions/validation/
validation.go (``ValidateCustomResourceDefinition``, ``…Update``, ``…Status``).  Upstream
validates the *internal* form of the object, and its field paths show it: converting a v1
object hoists the per-version ``schema``, ``subresources``, ``additionalPrinterColumns`` and
``selectableFields`` to ``spec.validation``, ``spec.subresources`` … when every version
carries the same value (pkg/apis/apiextensions/v1/conversion.go), and the webhook settings
of ``spec.conversion.webhook`` sit at ``spec.conversion.webhookClientConfig`` and
``spec.conversion.conversionReviewVersions``.  :func:`internal_spec` makes that view, so a
one-version CRD's schema errors read ``spec.validation.openAPIV3Schema…`` as in a cluster.

The schema rules are in :mod:`crds.validation_schema` (OpenAPI subset, list/map types,
x-kubernetes-validations) and :mod:`crds.validation_structural` (structural schemas).
CEL rules are checked for shape only (not compiled), defaults are not validated against
the schema.  Maps are walked in sorted key order (Go's is random).
"""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import (GoText, is_dns1035_label,
                                          is_dns1123_subdomain, validate_immutable)

from .validation_conversion import (enum, has_recognized_review_version, validate_api_approval,
                                    validate_conversion, validate_preserve_unknown_fields,
                                    validate_stored_versions)
from .validation_schema import has_schema_with, validate_validation

SCOPES = ("Cluster", "Namespaced")
COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")        # sets.List() order
COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
MAX_SELECTABLE_FIELDS = 8


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str:
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------- the internal view

def internal_spec(spec: dict) -> dict:
    """The v1 spec as upstream's internal type sees it (see the module docstring)."""
    versions = [dict(_obj(v)) for v in _list(spec.get("versions"))]
    out = {k: v for k, v in spec.items() if k not in ("versions", "conversion")}
    out["versions"] = versions
    if versions:
        out["version"] = _str(versions[0].get("name"))
    for v1_key, key, empty in (("schema", "validation", None),
                               ("subresources", "subresources", None),
                               ("additionalPrinterColumns", "additionalPrinterColumns", []),
                               ("selectableFields", "selectableFields", [])):
        values = [v.get(v1_key) for v in versions]
        # Semantic.DeepEqual: a missing slice equals an empty one, a missing pointer does not
        norm = [(empty if x is None else x) if empty is not None else x for x in values]
        if versions and all(x == norm[0] for x in norm):
            if norm[0] not in (None, []):
                out[key] = values[0]
            for v in versions:
                v.pop(v1_key, None)
    conversion = spec.get("conversion")
    if isinstance(conversion, dict):
        webhook = _obj(conversion.get("webhook"))
        internal = {"strategy": conversion.get("strategy")}
        if "clientConfig" in webhook:
            internal["webhookClientConfig"] = webhook["clientConfig"]
        if webhook.get("conversionReviewVersions") is not None:
            internal["conversionReviewVersions"] = webhook["conversionReviewVersions"]
        out["conversion"] = internal
    return out


# ---------------------------------------------------------------- Go renderings of values

def _go_ptr(type_name: str, value) -> str:
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000000000)"


def _go_slice(type_name: str, items, render) -> str:
    if not items:
        return f"[]{type_name}(nil)" if items is None else f"[]{type_name}{{}}"
    return f"[]{type_name}{{" + ", ".join(render(i) for i in items) + "}"


def _q(value) -> str:
    import json
    return json.dumps(_str(value), ensure_ascii=False)


def _go_column(col) -> str:
    c = _obj(col)
    priority = c.get("priority") if isinstance(c.get("priority"), int) else 0
    return (f"apiextensions.CustomResourceColumnDefinition{{Name:{_q(c.get('name'))}, "
            f"Type:{_q(c.get('type'))}, Format:{_q(c.get('format'))}, "
            f"Description:{_q(c.get('description'))}, Priority:{priority}, "
            f"JSONPath:{_q(c.get('jsonPath'))}}}")


def _go_version(v) -> str:
    b = {True: "true", False: "false"}
    return ("apiextensions.CustomResourceDefinitionVersion{"
            f"Name:{_q(v.get('name'))}, Served:{b[v.get('served') is True]}, "
            f"Storage:{b[v.get('storage') is True]}, "
            f"Deprecated:{b[v.get('deprecated') is True]}, "
            f"DeprecationWarning:{_go_ptr('string', v.get('deprecationWarning'))}, "
            f"Schema:{_go_ptr('apiextensions.CustomResourceValidation', v.get('schema'))}, "
            f"Subresources:{_go_ptr('apiextensions.CustomResourceSubresources', v.get('subresources'))}, "
            "AdditionalPrinterColumns:" + _go_slice("apiextensions.CustomResourceColumnDefinition",
                                                   v.get("additionalPrinterColumns"), _go_column)
            + ", SelectableFields:" + _go_slice(
                "apiextensions.SelectableField", v.get("selectableFields"),
                lambda f: f"apiextensions.SelectableField{{JSONPath:{_q(_obj(f).get('jsonPath'))}}}")
            + "}")


def go_versions(versions: list) -> GoText:
    """``%#v`` of the internal ``[]CustomResourceDefinitionVersion`` (pointers shown as
    0xc000000000, as the other kinds' messages do)."""
    return GoText(_go_slice("apiextensions.CustomResourceDefinitionVersion", versions or None,
                            _go_version))


# ---------------------------------------------------------------- entry points

def validate_crd(obj: dict, *, old: dict | None = None) -> list[FieldError]:
    """``ValidateCustomResourceDefinition`` after the generic ObjectMeta checks (the Store
    validates the name as a DNS subdomain); with ``old``, the update's ratchets."""
    spec = _obj(obj.get("spec"))
    internal = internal_spec(spec)
    meta = _obj(obj.get("metadata"))
    errs: list[FieldError] = []
    names = _obj(spec.get("names"))
    name = meta.get("name") or ""
    if name and name != f"{_str(names.get('plural'))}.{_str(spec.get('group'))}":
        errs.append(errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    old_internal = internal_spec(_obj(old.get("spec"))) if old is not None else None
    errs += validate_spec(internal, "spec", old_internal)
    status = _obj(obj.get("status"))
    errs += validate_crd_status(obj)
    errs += validate_stored_versions(status.get("storedVersions"), internal["versions"],
                                     "status.storedVersions")
    errs += validate_api_approval(obj, old)
    errs += validate_preserve_unknown_fields(spec, _obj((old or {}).get("spec")) if old else None)
    return errs


def validate_crd_update(new: dict, old: dict) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionUpdate`` (ObjectMeta update checks are generic)."""
    errs = validate_crd(new, old=old)
    # metadata.name is immutable, so the name rule was already checked on create; upstream
    # does not repeat it on update
    errs = [e for e in errs if not (e.field == "metadata.name" and "spec.names.plural" in e.detail)]
    spec, old_spec = _obj(new.get("spec")), _obj(old.get("spec"))
    names, old_names = _obj(spec.get("names")), _obj(old_spec.get("names"))
    if is_established(old):
        errs += validate_immutable(spec.get("scope"), old_spec.get("scope"), "spec.scope")
        errs += validate_immutable(names.get("kind"), old_names.get("kind"), "spec.names.kind")
    errs += validate_immutable(spec.get("group"), old_spec.get("group"), "spec.group")
    errs += validate_immutable(names.get("plural"), old_names.get("plural"), "spec.names.plural")
    return errs


def validate_crd_status(obj: dict) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionStatus``: the accepted names."""
    return validate_names(_obj(_obj(obj.get("status")).get("acceptedNames")), "status.acceptedNames")


def is_established(obj: dict) -> bool:
    return any(_obj(c).get("type") == "Established" and _obj(c).get("status") == "True"
               for c in _list(_obj(obj.get("status")).get("conditions")))


# ---------------------------------------------------------------- spec

def validate_spec(spec: dict, path: str, old: dict | None = None) -> list[FieldError]:
    """``validateCustomResourceDefinitionSpec`` over the internal view."""
    errs: list[FieldError] = []
    group = spec.get("group")
    if not group:
        errs.append(errors.required(path + ".group"))
    elif problems := is_dns1123_subdomain(_str(group)):
        errs.append(errors.invalid(path + ".group", group, ",".join(problems)))
    elif len(_str(group).split(".")) < 2:
        errs.append(errors.invalid(path + ".group", group, "should be a domain with at least one dot"))
    errs += enum(path + ".scope", spec.get("scope"), SCOPES)

    versions = spec["versions"]
    preserve = spec.get("preserveUnknownFields") is True
    # on update a rule the stored object already broke is not enforced (upstream's options)
    require_schema = old is None or _all_versions_have_schema(old)
    if not _obj(spec.get("validation")).get("openAPIV3Schema"):
        for i, v in enumerate(versions):
            if _obj(v.get("schema")).get("openAPIV3Schema"):
                continue
            if require_schema:
                errs.append(errors.required(f"{path}.versions[{i}].schema.openAPIV3Schema",
                                            "schemas are required"))
            elif not preserve and v.get("served") is True:
                errs.append(errors.required(f"{path}.versions[{i}].schema.openAPIV3Schema",
                                            "because otherwise all fields are pruned"))
    if preserve and has_schema_with(spec, lambda s: "default" in s):
        errs.append(errors.invalid(path + ".preserveUnknownFields", True,
                                   "must be false in order to use defaults in the schema"))

    storage_count, seen, unique = 0, set(), True
    any_status = _has_status(spec.get("subresources")) or any(
        _has_status(v.get("subresources")) for v in versions)
    for i, v in enumerate(versions):
        vpath = f"{path}.versions[{i}]"
        storage_count += v.get("storage") is True
        vname = _str(v.get("name"))
        if vname in seen:
            unique = False
        seen.add(vname)
        if problems := is_dns1035_label(vname):
            errs.append(errors.invalid(vpath + ".name", vname, ",".join(problems)))
        status_on = _has_status(v.get("subresources") if "subresources" in v
                                else spec.get("subresources"))
        errs += validate_version(v, vpath, status_on)
    if not unique:
        errs.append(errors.invalid(path + ".versions", go_versions(versions),
                                   "must contain unique version names"))
    if storage_count != 1:
        errs.append(errors.invalid(path + ".versions", go_versions(versions),
                                   "must have exactly one version marked as storage version"))
    if spec.get("version"):
        if problems := is_dns1035_label(spec["version"]):
            errs.append(errors.invalid(path + ".version", spec["version"], ",".join(problems)))

    names = _obj(spec.get("names"))
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(errors.required(f"{path}.names.{key}"))
    errs += validate_names(names, path + ".names")
    errs += validate_validation(spec.get("validation"), any_status, path + ".validation")
    errs += validate_subresources(spec.get("subresources"), path + ".subresources")
    for i, col in enumerate(_list(spec.get("additionalPrinterColumns"))):
        errs += validate_column(_obj(col), f"{path}.additionalPrinterColumns[{i}]")
    if _list(spec.get("selectableFields")):
        if spec.get("validation") is None:
            errs.append(errors.invalid(path + ".selectableFields", "",
                                       "selectableFields may only be set when validations.schema "
                                       "is included"))
        else:
            errs += validate_selectable_fields(
                spec["selectableFields"], _obj(spec["validation"]).get("openAPIV3Schema"),
                path + ".selectableFields")
    conversion = spec.get("conversion")
    if isinstance(conversion, dict) and conversion.get("strategy") != "None" and preserve:
        errs.append(errors.invalid(path + ".conversion.strategy", conversion.get("strategy"),
                                   "must be None if spec.preserveUnknownFields is true"))
    require_recognized = old is None or has_recognized_review_version(old.get("conversion"))
    errs += validate_conversion(conversion, require_recognized, path + ".conversion")
    return errs


def _has_status(subresources) -> bool:
    return isinstance(subresources, dict) and subresources.get("status") is not None


def _all_versions_have_schema(spec: dict) -> bool:
    if _obj(spec.get("validation")).get("openAPIV3Schema"):
        return True
    return all(_obj(v.get("schema")).get("openAPIV3Schema") for v in spec["versions"])


def validate_version(v: dict, path: str, status_on: bool) -> list[FieldError]:
    """``validateCustomResourceDefinitionVersion``: what stayed per version."""
    errs = [errors.invalid(path + ".deprecationWarning", v.get("deprecationWarning"), e)
            for e in _deprecation_warning(v.get("deprecated") is True, v.get("deprecationWarning"))]
    errs += validate_validation(v.get("schema"), status_on, path + ".schema")
    errs += validate_subresources(v.get("subresources"), path + ".subresources")
    for i, col in enumerate(_list(v.get("additionalPrinterColumns"))):
        errs += validate_column(_obj(col), f"{path}.additionalPrinterColumns[{i}]")
    if _list(v.get("selectableFields")):
        schema = _obj(v.get("schema")).get("openAPIV3Schema")
        if schema is None:
            errs.append(errors.invalid(path + ".selectableFields", "",
                                       "selectableFields may only be set when "
                                       "version.schema.openAPIV3Schema is not included"))
        else:
            errs += validate_selectable_fields(v["selectableFields"], schema,
                                               path + ".selectableFields")
    return errs


def _deprecation_warning(deprecated: bool, warning) -> list[str]:
    if not deprecated and warning is not None:
        return ["can only be set for deprecated versions"]
    if warning is None:
        return []
    text, out = _str(warning), []
    if len(text.encode()) > 256:
        out.append("must be <= 256 characters long")
    if not text:
        out.append("must not be an empty string")
    for i, ch in enumerate(text):
        if not ch.isprintable() and ch != " ":
            kind = "control" if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 else "non-printable"
            index = len(text[:i].encode())
            out.append(f"must only contain printable UTF-8 characters; {kind} character found "
                       f"at index {index}")
            break
    return out


# ---------------------------------------------------------------- names

def validate_names(names: dict, path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionNames`` (spec.names and status.acceptedNames)."""
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        value = _str(names.get(key))
        if value and (problems := is_dns1035_label(value)):
            errs.append(errors.invalid(f"{path}.{key}", value, ",".join(problems)))
    for key in ("kind", "listKind"):
        value = _str(names.get(key))
        if value and (problems := is_dns1035_label(value.lower())):
            errs.append(errors.invalid(f"{path}.{key}", value,
                                       "may have mixed case, but should otherwise match: "
                                       + ",".join(problems)))
    for i, short in enumerate(_list(names.get("shortNames"))):
        if problems := is_dns1035_label(_str(short)):
            errs.append(errors.invalid(f"{path}.shortNames[{i}]", short, ",".join(problems)))
    kind = _str(names.get("kind"))
    if kind and kind == names.get("listKind"):
        errs.append(errors.invalid(path + ".listKind", kind, "kind and listKind may not be the same"))
    for i, category in enumerate(_list(names.get("categories"))):
        if problems := is_dns1035_label(_str(category)):
            errs.append(errors.invalid(f"{path}.categories[{i}]", category, ",".join(problems)))
    return errs


# ---------------------------------------------------------------- columns, subresources, fields

def validate_column(col: dict, path: str) -> list[FieldError]:
    """``ValidateCustomResourceColumnDefinition`` (upstream names the path ``JSONPath``)."""
    errs: list[FieldError] = []
    if not col.get("name"):
        errs.append(errors.required(path + ".name"))
    types = "must be one of " + ",".join(COLUMN_TYPES)
    if not col.get("type"):
        errs.append(errors.required(path + ".type", types))
    elif col["type"] not in COLUMN_TYPES:
        errs.append(errors.invalid(path + ".type", col["type"], types))
    if col.get("format") and col["format"] not in COLUMN_FORMATS:
        errs.append(errors.invalid(path + ".format", col["format"],
                                   "must be one of " + ",".join(COLUMN_FORMATS)))
    if not col.get("jsonPath"):
        errs.append(errors.required(path + ".JSONPath"))
    else:
        errs += simple_json_path(_str(col["jsonPath"]), path + ".JSONPath")
    return errs


def simple_json_path(s: str, path: str) -> list[FieldError]:
    """``validateSimpleJSONPath``."""
    if not s:
        return [errors.invalid(path, s, "must not be empty")]
    if s[0] != ".":
        return [errors.invalid(path, s, "must be a simple json path starting with .")]
    return []


def validate_subresources(sub, path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionSubresources``: the scale paths."""
    scale = _obj(sub).get("scale") if isinstance(sub, dict) else None
    if not isinstance(scale, dict):
        return []
    errs: list[FieldError] = []
    for key, prefix, where in (("specReplicasPath", ".spec.", ".spec"),
                               ("statusReplicasPath", ".status.", ".status")):
        value, fpath = _str(scale.get(key)), f"{path}.scale.{key}"
        if not value:
            errs.append(errors.required(fpath))
        elif problems := simple_json_path(value, fpath):
            errs += problems
        elif not value.startswith(prefix):
            errs.append(errors.invalid(fpath, value, "should be a json path under " + where))
    selector = _str(scale.get("labelSelectorPath"))
    if selector:
        fpath = path + ".scale.labelSelectorPath"
        if problems := simple_json_path(selector, fpath):
            errs += problems
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(errors.invalid(fpath, selector,
                                       "should be a json path under either .spec or .status"))
    return errs


def validate_selectable_fields(fields: list, schema, path: str) -> list[FieldError]:
    """``ValidateCustomResourceSelectableFields``: a dotted path to a string, boolean or
    integer field of the schema, not under metadata, unique, at most 8."""
    from .validation_rules import field_path_schema

    errs: list[FieldError] = []
    seen: list[str] = []
    for i, item in enumerate(fields):
        fpath = f"{path}[{i}].jsonPath"
        json_path = _str(_obj(item).get("jsonPath"))
        if not json_path:
            errs.append(errors.required(fpath))
            continue
        found, problem, normal = field_path_schema(schema, json_path)
        if problem:
            errs.append(errors.invalid(fpath, json_path, "is an invalid path: " + problem))
            continue
        if normal.split(".")[0] == "metadata":
            errs.append(errors.invalid(fpath, json_path, "must not point to fields in metadata"))
        if _obj(found).get("type") not in ("string", "boolean", "integer"):
            errs.append(errors.invalid(fpath, json_path,
                                       "must point to a field of type string, boolean or "
                                       "integer. Enum string fields and strings with formats "
                                       "are allowed."))
        if normal in seen:
            errs.append(errors.duplicate(fpath, json_path))
        else:
            seen.append(normal)
    if len(seen) > MAX_SELECTABLE_FIELDS:
        errs.append(FieldError("FieldValueTooMany", path, None,
                               f"{len(seen)}: must have at most {MAX_SELECTABLE_FIELDS} items",
                               has_value=False))
    return errs
