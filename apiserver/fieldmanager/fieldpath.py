"""Field paths, field sets and the ``FieldsV1`` wire format.

A *path* is a tuple of *path elements*; an element is a 2-tuple whose first item names its
kind, as in sigs.k8s.io/structured-merge-diff ``fieldpath``:

* ``("f", name)`` - a field of a map or struct (wire ``f:name``);
* ``("k", ((key, value), ...))`` - an item of a ``list-type: map`` list, identified by its
  key fields, sorted by name (wire ``k:{"name":"c"}``);
* ``("v", value)`` - an item of a ``list-type: set`` list of scalars (wire ``v:"a"``);
* ``("i", index)`` - a list position (wire ``i:0``; parsed, never produced by this package,
  because upstream never indexes non-associative lists either).

A *field set* is a plain Python ``set`` of paths.  A path in the set is a *member*: the
manager owns that node.  A parent of a member is not implicitly a member, exactly like
``fieldpath.Set``; in ``FieldsV1`` a node that is both a member and has member descendants
carries the ``".": {}`` marker.

Known aliasing: Python treats ``True == 1``, so ``("v", True)`` and ``("v", 1)`` are the same
element.  Kubernetes never mixes booleans and integers in one set list or key field.

May import: the standard library only.
"""
from __future__ import annotations

import json
import re

FIELD, KEY, VALUE, INDEX = "f", "k", "v", "i"


class FieldPathError(ValueError):
    """An object or a ``FieldsV1`` document cannot be expressed as field paths."""


# ---------------------------------------------------------------------------------------------
# JSON and string rendering shared with Go
# ---------------------------------------------------------------------------------------------

_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                    "\u2028": "\\u2028", "\u2029": "\\u2029"}


_PLAIN = re.compile(r"[A-Za-z0-9 ._/:=+@-]*")


def go_json(value) -> str:
    """``value`` encoded like Go's ``encoding/json``: compact, raw UTF-8, HTML-escaped."""
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return '"' + value + '"'          # nothing to escape: the common case, kept cheap
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if any(ch in text for ch in _GO_JSON_ESCAPES):
        text = "".join(_GO_JSON_ESCAPES.get(ch, ch) for ch in text)
    return text


_GO_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                     "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """``text`` quoted like Go's ``%q`` (``strconv.Quote``)."""
    out = ['"']
    for ch in text:
        if ch in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_float(value: float) -> str:
    # Go's %v for float64: shortest digits, exponent form only from 1e21 (or below 1e-4).
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def value_string(value) -> str:
    """A value rendered like structured-merge-diff ``value.ToString`` (used in path strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={value_string(v)}" for k, v in value.items())
    return str(value)


# ---------------------------------------------------------------------------------------------
# Elements
# ---------------------------------------------------------------------------------------------

def key_element(fields: dict) -> tuple:
    """The ``("k", ...)`` element for a list-map item whose key fields are ``fields``."""
    for v in fields.values():
        if isinstance(v, (dict, list)):
            raise FieldPathError("associative list keys must be scalars")
    return (KEY, tuple(sorted(fields.items())))


def _type_rank(value) -> int:
    # structured-merge-diff value.Compare: numbers < strings < bools < lists < maps < null
    if isinstance(value, bool):
        return 2
    if isinstance(value, (int, float)):
        return 0
    if isinstance(value, str):
        return 1
    if isinstance(value, (list, tuple)):
        return 3
    if isinstance(value, dict):
        return 4
    return 5


def _value_order(value):
    rank = _type_rank(value)
    if rank in (0, 1, 2):
        return (rank, value)
    if rank == 3:
        return (rank, tuple(_value_order(v) for v in value))
    return (rank, 0)


def element_order(pe: tuple):
    """A sort key giving upstream's element order: fields, then keys, values, indices."""
    kind, content = pe
    if kind == FIELD:
        return (0, content)
    if kind == KEY:
        return (1, tuple((name, _value_order(v)) for name, v in content))
    if kind == VALUE:
        return (2, _value_order(content))
    return (3, content)


def element_to_wire(pe: tuple) -> str:
    """The ``FieldsV1`` object key for one element (``f:spec``, ``k:{"name":"c"}``, ...)."""
    kind, content = pe
    if kind == FIELD:
        return "f:" + content
    if kind == KEY:
        return "k:{" + ",".join(go_json(name) + ":" + go_json(v) for name, v in content) + "}"
    if kind == VALUE:
        return "v:" + go_json(content)
    if kind == INDEX:
        return "i:" + str(int(content))
    raise FieldPathError(f"invalid path element {pe!r}")


def element_from_wire(text: str) -> tuple | None:
    """Parse one ``FieldsV1`` key; ``None`` for an unknown element kind (ignored upstream)."""
    if len(text) < 2:
        raise FieldPathError(f"key must be 2 characters long: {text!r}")
    if text[1] != ":":
        raise FieldPathError(f"missing colon: {text!r}")
    kind, body = text[0], text[2:]
    try:
        if kind == FIELD:
            return (FIELD, body)
        if kind == VALUE:
            value = json.loads(body)
            if isinstance(value, (dict, list)):
                raise FieldPathError(f"set item must be a scalar: {text!r}")
            return (VALUE, value)
        if kind == KEY:
            fields = json.loads(body)
            if not isinstance(fields, dict):
                raise FieldPathError(f"key must be a JSON object: {text!r}")
            return key_element(fields)
        if kind == INDEX:
            return (INDEX, int(body))
    except (ValueError, TypeError) as exc:
        if isinstance(exc, FieldPathError):
            raise
        raise FieldPathError(f"parsing key as path element: {text!r}: {exc}") from None
    return None


def element_string(pe: tuple) -> str:
    """One element as upstream ``PathElement.String()`` prints it."""
    kind, content = pe
    if kind == FIELD:
        return "." + content
    if kind == KEY:
        return "[" + ",".join(f"{name}={value_string(v)}" for name, v in content) + "]"
    if kind == VALUE:
        return "[=" + value_string(content) + "]"
    return f"[{content}]"


def path_string(path: tuple) -> str:
    """A path as upstream prints it in conflicts: ``.spec.containers[name="c"].image``."""
    return "".join(element_string(pe) for pe in path)


def path_order(path: tuple):
    """A sort key ordering paths like upstream ``Set.Iterate``."""
    return tuple(element_order(pe) for pe in path)


# ---------------------------------------------------------------------------------------------
# FieldsV1
# ---------------------------------------------------------------------------------------------

def _tree(paths) -> dict:
    root: dict = {}
    for path in paths:
        node = root
        for pe in path:
            node = node.setdefault(pe, [False, {}])[1]
    for path in paths:
        if not path:
            continue
        node = root
        for pe in path[:-1]:
            node = node[pe][1]
        node[path[-1]][0] = True
    return root


def _emit(children: dict, include_self: bool) -> dict:
    out: dict = {}
    if include_self and children:
        out["."] = {}
    for pe in sorted(children, key=element_order):
        member, grand = children[pe]
        out[element_to_wire(pe)] = _emit(grand, member) if grand else {}
    return out


def to_fields_v1(paths: set) -> dict:
    """Encode a field set as a ``FieldsV1`` object.

    Each element becomes a nested object keyed ``f:``/``k:``/``v:``/``i:``; a member with no
    member descendants is ``{}``; a member that also has member descendants gets ``".": {}``
    next to its children; a non-member parent has only its children.  Keys are emitted in
    upstream order (field names, then keys, values, indices, each sorted).  The empty path
    (the root) is never encoded.
    """
    return _emit(_tree(paths), False)


def _parse(node, prefix: tuple, out: set) -> bool:
    """Add the members below ``node``; return whether ``prefix`` itself is a member."""
    if not isinstance(node, dict):
        raise FieldPathError(f"expected an object at {path_string(prefix) or '<root>'}")
    has_children = False
    is_member = False
    for key, child in node.items():
        if key == ".":
            is_member = True
            continue
        pe = element_from_wire(key)
        if pe is None:
            continue
        has_children = True
        path = prefix + (pe,)
        if _parse(child, path, out):
            out.add(path)
    return is_member or not has_children


def from_fields_v1(fields_v1: dict) -> set:
    """Decode a ``FieldsV1`` object into a field set (the inverse of :func:`to_fields_v1`).

    An object with no children, or with a ``"."`` key, marks its path as a member.  Keys with
    an unknown one-letter prefix are ignored like upstream; malformed keys or non-object
    values raise :class:`FieldPathError`.
    """
    out: set = set()
    if fields_v1 is None:
        return out
    _parse(fields_v1, (), out)
    return out
