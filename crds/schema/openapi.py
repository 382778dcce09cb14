"""The OpenAPI v3 value validation of a custom resource, as kube-openapi does it for 1.32.

Order and texts follow kube-openapi ``pkg/validation/validate`` (``schema.go``: per node the
type, composition (allOf/anyOf/oneOf/not), string, format, number, array, enum and object
validators; ``type.go``, ``values.go``, ``object_validator.go``, ``slice_validator.go``,
``schema_props.go``, ``validator.go``) and ``pkg/validation/errors/schema.go`` (the
``... in body ...`` messages).  ``to_field_errors`` is apiextensions-apiserver's
``kubeOpenAPIResultToFieldErrors`` (``pkg/apiserver/validation/validation.go``): the error
code picks the ``field.Error`` type, the kube-openapi message becomes the detail.

Updates ratchet (feature CRDValidationRatcheting, on by default in 1.32; kube-openapi
``validate/ratcheting.go``): errors raised under a node whose value equals its correlated
old value are dropped (upstream turns them into warnings).  Object fields correlate by name,
list items by their keys in ``x-kubernetes-list-type: map`` lists, by index in lists without a
list type, not at all in ``set`` and ``atomic`` lists (``validation/ratcheting.go``).

May import: the standard library and this package.
"""
from __future__ import annotations

import json

from . import fielderrors as fe
from . import formats
from .compiled import Node

MISSING = object()      # "no correlated old value" (distinct from an old JSON null)


class Err:
    """One kube-openapi error: its code, ``Name`` (dotted path), value, message, ``Valid``."""

    __slots__ = ("code", "name", "value", "message", "valid", "values")

    def __init__(self, code, name, message, value=None, valid=None, values=None):
        self.code, self.name, self.message = code, name, message
        self.value, self.valid, self.values = value, valid, values


class Result:
    """``validate.Result``: errors de-duplicated by message, and the match count that
    anyOf/oneOf use to pick the "best" failing branch."""

    __slots__ = ("errors", "count", "_seen")

    def __init__(self):
        self.errors, self.count, self._seen = [], 0, set()

    def add(self, err: Err):
        if err.message not in self._seen:
            self._seen.add(err.message)
            self.errors.append(err)

    def merge(self, other: "Result | None"):
        if other is not None:
            for e in other.errors:
                self.add(e)
            self.count += other.count
        return self


# ---------------------------------------------------------------- helpers

def deep_equal(a, b) -> bool:
    """Go ``reflect.DeepEqual`` on decoded JSON: ``1`` (int64) differs from ``1.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    return a == b


def kind_of(value) -> str:
    """kube-openapi ``schemaInfoForType`` type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return ""


def _go_format_of(value) -> str:
    # the format schemaInfoForType reports: unstructured numbers are int64 / float64
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return ""


def _is_json_integer(f: float) -> bool:
    # swag.IsFloat64AJSONInteger
    if f != f or f in (float("inf"), float("-inf")):
        return False
    if f.is_integer():
        return True
    g = float(round(f))
    return abs(f - g) / (abs(f) + abs(g)) < 1e-9


def _go_v(value) -> str:
    """Go ``%v`` of a JSON value (enum lists in messages: ``[a b 1]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        return fe.go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _num_text(value) -> str:
    return fe.go_float(value) if isinstance(value, float) else str(value)


def _in(name: str, text: str) -> str:
    return f"{name} in body {text}"


def _invalid_type(name: str, type_name: str, actual: str) -> Err:
    return Err("type", name, _in(name, f"must be of type {type_name}: {json.dumps(actual)}"),
               actual)


def _sub(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------- validators

def _type(node: Node, data, path: str) -> "Err | bool | None":
    """``typeValidator``: an error, True when it passed, None when it does not apply."""
    if not node.types and not node.format:
        return None
    kind = kind_of(data)
    if data is None:
        if node.types and "null" not in node.types and not node.nullable:
            return _invalid_type(path, ",".join(node.types), "null")
        return True
    fmt = _go_format_of(data)
    is_float_int = kind == "number" and _is_json_integer(data) and "integer" in node.types
    is_int_float = kind == "integer" and "number" in node.types
    is_lower_int = node.format == "int64" and fmt == "int32"
    if kind not in ("string", "array") and node.format and not (
            kind in node.types or fmt == node.format or is_float_int or is_int_float
            or is_lower_int):
        return _invalid_type(path, node.format, fmt)
    if not ("number" in node.types or "integer" in node.types) and node.format \
            and kind in ("string", "array"):
        return True
    if not (kind in node.types or is_float_int or is_int_float):
        return _invalid_type(path, ",".join(node.types), kind)
    return True


def _string(node: Node, path: str, data: str, res: Result):
    if node.max_length is not None and len(data) > node.max_length:
        res.add(Err("toolong", path, _in(path, f"should be at most {node.max_length} chars long"),
                    data, node.max_length))
    elif node.min_length is not None and len(data) < node.min_length:
        res.add(Err("invalid", path,
                    _in(path, f"should be at least {node.min_length} chars long"), data,
                    node.min_length))
    elif node.pattern:
        if node.pattern_rx is None:
            res.add(Err("invalid", path, _in(path, f"should match '{node.pattern}, but pattern "
                                                  f"is invalid: {node.pattern_error}'"), data))
        elif not node.pattern_rx.search(data):
            res.add(Err("invalid", path, _in(path, f"should match '{node.pattern}'"), data))


def _format(node: Node, path: str, data: str, res: Result):
    if not formats.check(node.format, data):
        res.add(Err("type", path, _in(path, f"must be of type {node.format}: {json.dumps(data)}"),
                    data))


def _number(node: Node, path: str, data, res: Result):
    is_int = isinstance(data, int)
    factor = node.multiple_of
    if factor is not None:
        f = int(factor) if is_int else float(factor)
        if f <= 0:
            res.add(Err("invalid", path, f"factor MultipleOf declared for {path} must be "
                                         f"positive: {_num_text(f)}", f))
        elif (is_int and data % f != 0) or (
                not is_int and not _is_json_integer((1 / f * data) if f < 1 else data / f)):
            res.add(Err("invalid", path, _in(path, f"should be a multiple of {_num_text(f)}"),
                        data))
    for bound, exclusive, word in ((node.minimum, node.exclusive_minimum, "greater"),
                                   (node.maximum, node.exclusive_maximum, "less")):
        if bound is None:
            continue
        b = int(bound) if is_int else float(bound)
        fails = (data < b or (exclusive and data == b)) if word == "greater" else \
            (data > b or (exclusive and data == b))
        if fails:
            rel = f"should be {word} than" + ("" if exclusive else " or equal to")
            res.add(Err("invalid", path, _in(path, f"{rel} {_num_text(b)}"), data))


def _array(node: Node, path: str, data: list, old, res: Result, ratchet: bool):
    if node.items is not None:
        olds = correlate_items(node, data, old) if ratchet else [MISSING] * len(data)
        for i, v in enumerate(data):
            res.merge(validate_node(node.items, v, f"{path}[{i}]", olds[i], ratchet))
    for i, item in enumerate(node.item_list[:len(data)]):
        res.merge(validate_node(item, data[i], f"{path}[{i}]", MISSING, ratchet))
    if node.min_items is not None and len(data) < node.min_items:
        res.add(Err("invalid", path, _in(path, f"should have at least {node.min_items} items"),
                    len(data), node.min_items))
    if node.max_items is not None and len(data) > node.max_items:
        res.add(Err("maxitems", path, _in(path, f"should have at most {node.max_items} items"),
                    len(data), node.max_items))
    if node.unique_items:
        for i, v in enumerate(data):
            if any(deep_equal(v, u) for u in data[:i]):
                res.add(Err("invalid", path, _in(path, "shouldn't contain duplicates")))
                break
    res.count += 1


def correlate_items(node: Node, data: list, old) -> list:
    """The old value of each new item (``correlateOldValueForChildAtNewIndex``): by key in
    a list-type ``map``, none in a ``set`` or ``atomic`` list, by index otherwise."""
    if not isinstance(old, list):
        return [MISSING] * len(data)
    if node.list_type == "map":
        if not node.map_keys:
            return [MISSING] * len(data)
        def keys(item):
            return json.dumps([[k in item, item.get(k)] for k in node.map_keys])
        by_key = {keys(o): o for o in old if isinstance(o, dict)}
        return [by_key.get(keys(v), MISSING) if isinstance(v, dict) else MISSING for v in data]
    if node.list_type in ("set", "atomic"):
        return [MISSING] * len(data)
    return [old[i] if i < len(old) and old[i] is not None else MISSING for i in range(len(data))]


def ratchet_equal(node: Node | None, new, old) -> bool:
    """``ratchetingValueValidator.CachedDeepEqual``: equal, and every old field or item was
    correlated to a validated child — a key the schema does not describe (or an item of a
    set or atomic list) makes the parent count as changed, as upstream."""
    if new is None or old is None:
        return new is None and old is None
    if isinstance(old, list) or isinstance(new, list):
        if not (isinstance(old, list) and isinstance(new, list)) or len(old) != len(new):
            return False
        if not old:
            return True
        if node is None or node.items is None:
            return False
        olds = correlate_items(node, new, old)
        return all(o is not MISSING and ratchet_equal(node.items, n, o)
                   for n, o in zip(new, olds))
    if isinstance(old, dict) or isinstance(new, dict):
        if not (isinstance(old, dict) and isinstance(new, dict)) or len(old) != len(new):
            return False
        for k, v in old.items():
            sub = None if node is None else node.for_field(k)
            if k not in new or sub is None or not ratchet_equal(sub, new[k], v):
                return False
        return True
    return deep_equal(new, old)


def _enum_match(data, allowed) -> bool:
    """``basicCommonValidator``: equal after converting the value to the enum value's type
    (so an int64 matches a float64 enum and a float is truncated to an int enum)."""
    if data is None:
        return False
    if isinstance(allowed, bool) or isinstance(data, bool):
        return isinstance(allowed, bool) and isinstance(data, bool) and allowed == data
    if isinstance(allowed, (int, float)) and isinstance(data, (int, float)):
        return (int(data) if isinstance(allowed, int) else float(data)) == allowed
    return deep_equal(data, allowed)


def _enum(node: Node, path: str, data, res: Result):
    if node.enum and not any(_enum_match(data, e) for e in node.enum):
        res.add(Err("enum", path, _in(path, f"should be one of {_go_v(node.enum)}"), data,
                    values=node.enum))


def _object(node: Node, path: str, data: dict, old, res: Result, ratchet: bool):
    n = len(data)
    if node.min_properties is not None and n < node.min_properties:
        res.add(Err("invalid", path, _in(path, f"should have at least {node.min_properties} "
                                               "properties"), n, node.min_properties))
    if node.max_properties is not None and n > node.max_properties:
        res.add(Err("maxprops", path, _in(path, f"should have at most {node.max_properties} "
                                                "properties"), n, node.max_properties))
    old_map = old if isinstance(old, dict) and ratchet else {}
    if node.additional is False:
        for k in data:
            if k not in node.properties:
                res.add(Err("invalid", path, f"{path}.{k} in body is a forbidden property", k))
    elif isinstance(node.additional, Node):
        for k, v in data.items():
            if k not in node.properties:
                res.merge(validate_node(node.additional, v, f"{path}.{k}",
                                        old_map.get(k, MISSING), ratchet))
    for name, prop in node.properties.items():
        if name in data:
            res.merge(validate_node(prop, data[name], _sub(path, name),
                                    old_map.get(name, MISSING), ratchet))
    for name in node.required:
        if name not in data:
            res.add(Err("required", f"{path}.{name}", _in(f"{path}.{name}", "is required")))


def _compose(node: Node, path: str, data, res: Result):
    """``schemaPropsValidator``: anyOf, oneOf, allOf, not (messages of schema_messages.go)."""
    quoted = json.dumps(path)
    if node.any_of:
        best, ok = None, False
        for sub in node.any_of:
            r = validate_node(sub, data, path, MISSING, False)
            if not r.errors:
                ok, best = True, r
                break
            if best is None or r.count > best.count:
                best = r
        if not ok:
            res.add(Err("composite", "", f"{quoted} must validate at least one schema (anyOf)"))
        res.merge(best)
    if node.one_of:
        best, first, valid = None, None, 0
        for sub in node.one_of:
            r = validate_node(sub, data, path, MISSING, False)
            if not r.errors:
                valid += 1
                best = None
                first = first or r
                continue
            if valid == 0 and (best is None or r.count > best.count):
                best = r
        if valid != 1:
            extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            res.add(Err("composite", "",
                        f"{quoted} must validate one and only one schema (oneOf). {extra}"))
            res.merge(best)
        else:
            res.merge(first)
    if node.all_of:
        valid = 0
        for sub in node.all_of:
            r = validate_node(sub, data, path, MISSING, False)
            valid += not r.errors
            res.merge(r)
        if valid != len(node.all_of):
            extra = ". None validated" if valid == 0 else ""
            res.add(Err("composite", "", f"{quoted} must validate all the schemas (allOf){extra}"))
    if node.not_ is not None and not validate_node(node.not_, data, path, MISSING, False).errors:
        res.add(Err("composite", "", f"{quoted} must not validate the schema (not)"))
    res.count += 1


def validate_node(node: Node, data, path: str, old=MISSING, ratchet: bool = True) -> Result:
    """``SchemaValidator.Validate`` of ``data`` at the dotted ``path``; ``old`` is the
    correlated old value (or :data:`MISSING`) used for ratcheting.  ``count`` grows as
    upstream's ``MatchCount`` does (one per validator that applied, plus their own)."""
    res = Result()
    typed = _type(node, data, path)
    if isinstance(typed, Err):
        res.add(typed)
    elif typed:
        res.count += 1
    if data is None:              # upstream: only the type and enum validators, no counting
        _enum(node, path, data, res)
        return res
    res.count += typed is not None
    _compose(node, path, data, res)
    res.count += 1
    if isinstance(data, str):
        _string(node, path, data, res)
        res.count += 1
        if node.format and formats.known(node.format):
            _format(node, path, data, res)
            res.count += 1
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        _number(node, path, data, res)
        res.count += 2
    elif isinstance(data, list):
        _array(node, path, data, old, res, ratchet)
        res.count += 1
    _enum(node, path, data, res)
    res.count += 1
    if isinstance(data, dict):
        _object(node, path, data, old, res, ratchet)
        res.count += 1
    res.count += 1
    if res.errors and ratchet and old is not MISSING and ratchet_equal(node, data, old):
        return Result()          # ratcheted: the value did not change
    return res


# ---------------------------------------------------------------- to field errors

def to_field_errors(res: Result, base: str = "") -> list:
    """``kubeOpenAPIResultToFieldErrors`` under the field path ``base`` ("" = nil)."""
    out = []
    for e in res.errors:
        if e.code == "composite":
            out.append(fe.invalid(base, "", e.message))
            continue
        name = e.name[1:] if e.name.startswith(".") else e.name
        path = fe.child(base, name) if name and e.name != "." else base
        value = "" if e.value is None else e.value
        if e.code == "required":
            out.append(fe.required(path))
        elif e.code == "enum":
            allowed = [v if isinstance(v, str) else fe.json_text(v) for v in e.values]
            out.append(fe.not_supported(path, e.value, allowed))
        elif e.code == "toolong":
            out.append(fe.too_long(path, e.valid if e.valid is not None else -1))
        elif e.code in ("maxitems", "maxprops"):
            out.append(fe.too_many(path, e.value, e.valid))
        elif e.code == "type":
            out.append(fe.type_invalid(path, value, e.message))
        else:
            out.append(fe.invalid(path, value, e.message))
    return out


def validate(root: Node, obj, old=MISSING, base: str = "") -> list:
    """Field errors of ``obj`` against the schema ``root``; ``old`` ratchets an update;
    ``base`` is the field path ``obj`` sits at (the status subresource uses ``status``)."""
    return to_field_errors(validate_node(root, obj, "", old, old is not MISSING), base)
