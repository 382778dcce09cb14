"""Static type checking of ValidatingAdmissionPolicy expressions against the matched kinds'
OpenAPI schemas, for ``status.typeChecking``.

Upstream: k8s.io/apiserver ``pkg/admission/plugin/policy/validating/typechecking.go``
(``TypeChecker.Check``: every ``spec.validations[i].expression`` and non-empty
``messageExpression`` is compiled once per kind that ``matchConstraints.resourceRules`` name
without wildcards, at most ten per rule, with ``object``/``oldObject`` typed by the kind's
schema and ``params`` by the ``paramKind``'s; each expression with issues gets one warning
whose text is ``"<group>/<version>, Kind=<Kind>: <cel issues>\\n"`` per kind, joined by
newlines), ``pkg/cel/common/schemas.go`` (``SchemaDeclType``: which schema nodes become
which CEL types), ``pkg/cel/openapi/resolver/refs.go`` (references replaced by what they
name; a reference back into its own path is an empty object) and ``pkg/cel/escaping.go``.

cel-python has no type checker, so this is a small one over its parse tree.  It reports
what cel-go's checker reports for the common cases, with cel-go's text and caret:

* ``undefined field 'x'``: selecting (or ``has()``-testing) a field an object type does
  not declare: a schema property, a ``variables`` name, a ``request`` field;
* ``type 'int' does not support field selection``: selecting on a scalar;
* ``found no matching overload for '_==_' applied to '(string, int)'``: an operator whose
  two operands are both known scalar types no overload takes.

Anything it cannot type (function results it does not know, int-or-string, ``dyn``) is
dynamic and checks nothing further, so it errs towards silence, never a false warning
where cel-go would be silent.  Not modelled: the optional syntax (cel-python cannot parse
it: such an expression gets no warning), library functions' argument types.

May import: celpy, apiserver.openapi.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import celpy

MAX_TYPES_TO_CHECK = 10
_environment = celpy.Environment()


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


# ---------------------------------------------------------------- the checker

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


_ARITH = {
    "_+_": {(INT, INT): INT, (UINT, UINT): UINT, (DOUBLE, DOUBLE): DOUBLE,
            (STRING, STRING): STRING, (BYTES, BYTES): BYTES,
            (TIMESTAMP, DURATION): TIMESTAMP, (DURATION, TIMESTAMP): TIMESTAMP,
            (DURATION, DURATION): DURATION},
    "_-_": {(INT, INT): INT, (UINT, UINT): UINT, (DOUBLE, DOUBLE): DOUBLE,
            (TIMESTAMP, TIMESTAMP): DURATION, (TIMESTAMP, DURATION): TIMESTAMP,
            (DURATION, DURATION): DURATION},
    "_*_": {(INT, INT): INT, (UINT, UINT): UINT, (DOUBLE, DOUBLE): DOUBLE},
    "_/_": {(INT, INT): INT, (UINT, UINT): UINT, (DOUBLE, DOUBLE): DOUBLE},
    "_%_": {(INT, INT): INT, (UINT, UINT): UINT},
}
_ORDERED = (INT, UINT, DOUBLE, STRING, BYTES, BOOL, TIMESTAMP, DURATION)
# grammar rule -> (cel-go function name, operator text)
_OPERATORS = {
    "relation_lt": ("_<_", "<"), "relation_le": ("_<=_", "<="), "relation_gt": ("_>_", ">"),
    "relation_ge": ("_>=_", ">="), "relation_eq": ("_==_", "=="), "relation_ne": ("_!=_", "!="),
    "relation_in": ("@in", "in"), "addition_add": ("_+_", "+"), "addition_sub": ("_-_", "-"),
    "multiplication_mul": ("_*_", "*"), "multiplication_div": ("_/_", "/"),
    "multiplication_mod": ("_%_", "%"),
}
_STRING_METHODS = {"startsWith": BOOL, "endsWith": BOOL, "contains": BOOL, "matches": BOOL,
                   "lowerAscii": STRING, "upperAscii": STRING, "trim": STRING,
                   "replace": STRING, "substring": STRING, "charAt": STRING,
                   "indexOf": INT, "lastIndexOf": INT, "split": ListT(STRING),
                   "size": INT}
_CONVERSIONS = {"string": STRING, "int": INT, "uint": UINT, "double": DOUBLE, "bool": BOOL,
                "bytes": BYTES, "timestamp": TIMESTAMP, "duration": DURATION, "size": INT,
                "matches": BOOL}
_MACROS = ("all", "exists", "exists_one", "map", "filter")


class _Issues:
    def __init__(self, text: str):
        self.text = text
        self.found: list[tuple[int, str]] = []       # (offset, message)

    def report(self, offset: int, message: str) -> None:
        self.found.append((offset, message))

    def display(self) -> str:
        """cel-go ``Errors.ToDisplayString``: sorted by position, one block each."""
        lines = self.text.split("\n")
        out = []
        for offset, message in sorted(self.found, key=lambda f: f[0]):
            line = self.text.count("\n", 0, offset) + 1
            column = offset - (self.text.rfind("\n", 0, offset) + 1)
            snippet = lines[line - 1].replace("\t", " ")
            marks = "".join("\uff0e" if len(c.encode()) > 1 else "."
                            for c in snippet[:column])
            at = snippet[column:column + 1]
            marks += "\uff3e" if at and len(at.encode()) > 1 else "^"
            out.append(f"ERROR: <input>:{line}:{column + 1}: {message}\n | {snippet}\n | {marks}")
        return "\n".join(out)


class Checker:
    """One expression's walk.  ``env`` maps identifiers to types; unknown ones are dynamic."""

    def __init__(self, text: str, env: dict):
        self.text = text
        self.env = dict(env)
        self.issues = _Issues(text)

    # -- positions
    def _dot_before(self, token) -> int:
        i = token.start_pos - 1
        while i > 0 and self.text[i].isspace():
            i -= 1
        return i if self.text[i:i + 1] == "." else token.start_pos - 1

    def _operator_after(self, left, op: str) -> int:
        i = left.meta.end_pos if not left.meta.empty else 0
        found = self.text.find(op, i)
        return found if found >= 0 else i

    # -- the walk
    def check(self, node):
        handler = getattr(self, "_" + node.data, None)
        if handler is None:                      # a construct this checker does not type
            for child in node.children:
                if _is_tree(child):
                    self.check(child)
            return DYN
        return handler(node)

    def _single(self, node):
        return self.check(node.children[0])

    _member = _primary = _paren_expr = _single

    def _expr(self, node):
        if len(node.children) == 1:
            return self.check(node.children[0])
        cond, a, b = node.children
        self.check(cond)
        ta, tb = self.check(a), self.check(b)
        return ta if ta == tb else DYN

    def _logical(self, node, name, op):
        if len(node.children) == 1:
            return self.check(node.children[0])
        left, right = node.children
        tl, tr = self.check(left), self.check(right)
        if isinstance(tl, Prim) and isinstance(tr, Prim) and (tl, tr) != (BOOL, BOOL):
            self.issues.report(self._operator_after(left, op),
                               f"found no matching overload for '{name}' applied to "
                               f"'({tl}, {tr})'")
            return ERROR
        return BOOL

    def _conditionalor(self, node):
        return self._logical(node, "_||_", "||")

    def _conditionaland(self, node):
        return self._logical(node, "_&&_", "&&")

    def _binary(self, node):
        if len(node.children) == 1:
            return self.check(node.children[0])
        op_node, right = node.children
        left = op_node.children[0]
        name, op = _OPERATORS[op_node.data]
        tl, tr = self.check(left), self.check(right)
        if name == "@in":
            return BOOL
        result = self._overload(name, tl, tr)
        if result is None:
            self.issues.report(self._operator_after(left, op),
                               f"found no matching overload for '{name}' applied to "
                               f"'({tl}, {tr})'")
            return ERROR
        return result

    _relation = _addition = _multiplication = _binary

    @staticmethod
    def _overload(name, tl, tr):
        """The result type, DYN when either side is not a known scalar, None when no
        overload of ``name`` takes the two."""
        if not (tl in _SCALARS and tr in _SCALARS):
            if name in _ARITH and isinstance(tl, ListT) and tl == tr and name == "_+_":
                return tl
            return BOOL if name not in _ARITH else DYN
        if name in ("_==_", "_!=_"):
            return BOOL if tl == tr else None
        if name in _ARITH:
            return _ARITH[name].get((tl, tr))
        if tl == tr and tl in _ORDERED or tl in _NUMBERS and tr in _NUMBERS:
            return BOOL                          # cross-type numeric comparisons are on
        return None

    def _unary(self, node):
        if len(node.children) == 1:
            return self.check(node.children[0])
        op, operand = node.children
        t = self.check(operand)
        if op.data == "unary_not":
            return BOOL if t in (BOOL, DYN, ERROR) or not isinstance(t, Prim) else DYN
        return t if t in (INT, DOUBLE) else DYN

    def _literal(self, node):
        token = node.children[0]
        return {"INT_LIT": INT, "UINT_LIT": UINT, "FLOAT_LIT": DOUBLE, "STRING_LIT": STRING,
                "MLSTRING_LIT": STRING, "BYTES_LIT": BYTES, "BOOL_LIT": BOOL,
                "NULL_LIT": NULL}.get(token.type, DYN)

    def _ident(self, node):
        return self.env.get(str(node.children[0]), DYN)

    def _select(self, target, token):
        name = str(token)
        if isinstance(target, MapT):
            return target.value
        if isinstance(target, ObjT):
            found = target.fields().get(name)
            if found is None:
                self.issues.report(self._dot_before(token), f"undefined field '{name}'")
                return ERROR
            return found
        if isinstance(target, Prim):
            self.issues.report(self._dot_before(token),
                               f"type '{target}' does not support field selection")
            return ERROR
        return DYN

    def _member_dot(self, node):
        target, token = node.children
        return self._select(self.check(target), token)

    def _member_index(self, node):
        target, index = node.children
        t = self.check(target)
        self.check(index)
        if isinstance(t, ListT):
            return t.elem
        if isinstance(t, MapT):
            return t.value
        return DYN

    def _args(self, node, at: int):
        lists = [c for c in node.children[at:] if _is_tree(c)]
        return lists[0].children if lists else []

    def _ident_arg(self, node):
        name = str(node.children[0])
        args = self._args(node, 1)
        if name == "has" and len(args) == 1:
            select = _unwrap(args[0])
            if select is not None and select.data == "member_dot":
                self._member_dot(select)
                return BOOL
        types = [self.check(a) for a in args]
        if name in ("size", "matches"):
            return _CONVERSIONS[name]
        if name in _CONVERSIONS and len(types) == 1:
            return _CONVERSIONS[name]
        return DYN

    def _member_dot_arg(self, node):
        target, token = node.children[0], node.children[1]
        name, args = str(token), self._args(node, 2)
        t = self.check(target)
        var = _unwrap(args[0]) if args else None
        if name in _MACROS and len(args) in (2, 3) and var is not None and var.data == "ident":
            return self._macro(name, t, str(var.children[0]), args[1:])
        for a in args:
            self.check(a)
        if t == STRING and name in _STRING_METHODS:
            return _STRING_METHODS[name]
        if name == "size":
            return INT
        return DYN

    def _macro(self, name, t, var, body):
        elem = t.elem if isinstance(t, ListT) else t.key if isinstance(t, MapT) else DYN
        saved = self.env.get(var, _MISSING)
        self.env[var] = elem
        try:
            types = [self.check(b) for b in body]
        finally:
            if saved is _MISSING:
                self.env.pop(var, None)
            else:
                self.env[var] = saved
        if name == "map":
            return ListT(types[-1]) if types[-1] not in (DYN, ERROR) else ListT(DYN)
        if name == "filter":
            return ListT(elem)
        return BOOL

    def _list_lit(self, node):
        args = self._args(node, 0)
        types = [self.check(a) for a in args]
        return ListT(types[0]) if types and all(t == types[0] for t in types) else ListT(DYN)

    def _map_lit(self, node):
        for child in node.children:
            self.check(child)
        return MapT(DYN, DYN)


_MISSING = object()


def _is_tree(node) -> bool:
    """A lark ``Tree`` (tokens, the leaves, are strings)."""
    return hasattr(node, "data") and hasattr(node, "children")


def _unwrap(node):
    """The single construct an expression node wraps (``expr > … > member > member_dot``),
    or None when it is an operation."""
    while _is_tree(node) and len(node.children) == 1 and node.data in (
            "expr", "conditionalor", "conditionaland", "relation", "addition",
            "multiplication", "unary", "member", "primary"):
        node = node.children[0]
    return node if _is_tree(node) else None


def check_expression(text: str, env: dict) -> tuple[str | None, object]:
    """``(issues text or None, result type)``; an expression cel-python cannot parse has
    no issues here (upstream's validation rejects real syntax errors on write)."""
    try:
        tree = _environment.compile(text)
    except Exception:                             # CELParseError, lexer errors
        return None, DYN
    checker = Checker(text, env)
    result = checker.check(tree)
    return (checker.issues.display() if checker.issues.found else None), result
