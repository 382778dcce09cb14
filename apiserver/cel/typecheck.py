"""Static type checking of ValidatingAdmissionPolicy expressions against the matched kinds'
OpenAPI schemas, for ``status.typeChecking``.

Upstream: k8s.io/apiserver ``pkg/admission/plugin/policy/validating/typechecking.go``
(``TypeChecker.Check``: every ``spec.validations[i].expression`` and non-empty
``messageExpression`` is compiled once per kind that ``matchConstraints.resourceRules`` name
without wildcards, at most ten per rule, with ``object``/``oldObject`` typed by the kind's
schema and ``params`` by the ``paramKind``'s; each expression with issues gets one warning
whose text is ``"<group>/<version>, Kind=<Kind>: <cel issues>\\n"`` per kind, joined by
newlines); the types come from :mod:`apiserver.cel.decltypes`.  Positions follow cel-go's
parser (``parser/parser.go``): a selection is at its ``.``, an operator at its token, a call
at its ``(``, what a macro makes (``has()``) at the macro's ``(``, and ``&&``/``||`` chains
are balanced trees.

cel-python has no type checker, so this is a small one over its parse tree.  It reports
what cel-go's checker reports for the common cases, with cel-go's text and caret:

* ``undefined field 'x'``: selecting (or ``has()``-testing) a field an object type does
  not declare: a schema property, a ``variables`` name, a ``request`` field;
* ``type 'int' does not support field selection``: selecting on a scalar;
* ``found no matching overload for '_==_' applied to '(string, int)'``: an operator, the
  conditional or a string method whose operands' types (scalars, lists and maps of them)
  no overload takes.

Anything it cannot type (function results it does not know, int-or-string, ``dyn``) is
dynamic and checks nothing further, so it errs towards silence, never a false warning
where cel-go would be silent.  Not modelled: the optional syntax (cel-python cannot parse
it: such an expression gets no warning), comparisons with ``null``, library functions'
argument types, undeclared identifiers.

May import: celpy, apiserver.cel.decltypes.
"""
from __future__ import annotations

import celpy

from apiserver.cel.decltypes import (BOOL, BYTES, DOUBLE, DURATION, DYN, ERROR, INT, NULL,
                                     STRING, TIMESTAMP, UINT, ListT, MapT, ObjT, Prim,
                                     type_name)

MAX_TYPES_TO_CHECK = 10
_environment = celpy.Environment()

_SCALARS = (STRING, INT, UINT, DOUBLE, BOOL, BYTES, TIMESTAMP, DURATION)
_NUMBERS = (INT, UINT, DOUBLE)
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
# methods only strings have (cel-go's standard and strings libraries), with their results
_STRING_METHODS = {"startsWith": BOOL, "endsWith": BOOL, "contains": BOOL, "matches": BOOL,
                   "lowerAscii": STRING, "upperAscii": STRING, "trim": STRING,
                   "replace": STRING, "substring": STRING, "charAt": STRING,
                   "split": ListT(STRING)}
_SIZED = (STRING, BYTES)
_CONVERSIONS = {"string": STRING, "int": INT, "uint": UINT, "double": DOUBLE, "bool": BOOL,
                "bytes": BYTES, "timestamp": TIMESTAMP, "duration": DURATION}
_MACROS = ("all", "exists", "exists_one", "map", "filter")
_WRAPPERS = ("expr", "conditionalor", "conditionaland", "relation", "addition",
             "multiplication", "unary", "member", "primary")


def _named(*types) -> bool:
    """Whether every type has a fixed name (so cel-go's message can be written)."""
    return all(type_name(t) is not None for t in types)


def _assignable(a, b) -> bool:
    """cel-go's ``isAssignable`` for the named types: equal, with ``dyn`` matching all."""
    if a is DYN or b is DYN or a is ERROR or b is ERROR:
        return True
    if isinstance(a, ListT) and isinstance(b, ListT):
        return _assignable(a.elem, b.elem)
    if isinstance(a, MapT) and isinstance(b, MapT):
        return _assignable(a.key, b.key) and _assignable(a.value, b.value)
    return a == b


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

    # -- positions (lark drops anonymous tokens: find them in the text)
    def _dot_before(self, token) -> int:
        i = token.start_pos - 1
        while i > 0 and self.text[i].isspace():
            i -= 1
        return i if self.text[i:i + 1] == "." else token.start_pos - 1

    def _find_after(self, end: int, op: str) -> int:
        found = self.text.find(op, end)
        return found if found >= 0 else end

    def _after(self, node, op: str) -> int:
        return self._find_after(_end(node), op)

    def _no_overload(self, at: int, name: str, *types, target=None) -> None:
        args = ", ".join(type_name(t) for t in types)
        signature = f"{type_name(target)}.({args})" if target is not None else f"({args})"
        self.issues.report(at, f"found no matching overload for '{name}' applied to "
                               f"'{signature}'")

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
        types = [self.check(cond), self.check(a), self.check(b)]
        if _named(*types) and not (_assignable(types[0], BOOL)
                                   and _assignable(types[1], types[2])):
            self._no_overload(self._after(cond, "?"), "_?_:_", *types)
            return ERROR
        return types[1] if types[1] == types[2] else DYN

    def _logical(self, node):
        """``&&``/``||``: cel-go balances a chain of one operator into a tree whose root is
        the middle operator (parser/helper.go ``balancer``)."""
        op = "||" if node.data == "conditionalor" else "&&"
        terms, ops = [], []
        while len(node.children) == 2:
            left, right = node.children
            terms.append(right)
            ops.append(self._after(left, op))
            node = left
        terms.append(node.children[0])
        terms.reverse()
        ops.reverse()
        types = [self.check(t) for t in terms]
        return self._balanced(types, ops, 0, len(ops) - 1, f"_{op}_")

    def _balanced(self, types, ops, lo, hi, name):
        mid = (lo + hi + 1) // 2
        left = types[mid] if mid == lo else self._balanced(types, ops, lo, mid - 1, name)
        right = types[mid + 1] if mid == hi else self._balanced(types, ops, mid + 1, hi, name)
        if _named(left, right) and not (_assignable(left, BOOL) and _assignable(right, BOOL)):
            self._no_overload(ops[mid], name, left, right)
            return ERROR
        return BOOL

    def _conditionalor(self, node):
        return self.check(node.children[0]) if len(node.children) == 1 else self._logical(node)

    _conditionaland = _conditionalor

    def _binary(self, node):
        if len(node.children) == 1:
            return self.check(node.children[0])
        op_node, right = node.children
        left = op_node.children[0]
        name, op = _OPERATORS[op_node.data]
        tl, tr = self.check(left), self.check(right)
        result = self._overload(name, tl, tr)
        if result is None:
            self._no_overload(self._after(left, op), name, tl, tr)
            return ERROR
        return result

    _relation = _addition = _multiplication = _binary

    @staticmethod
    def _overload(name, tl, tr):
        """The result type, DYN when it cannot be told, None when no overload of ``name``
        takes the two."""
        if not _named(tl, tr):
            return BOOL if name not in _ARITH else DYN
        if name in ("_==_", "_!=_"):
            return BOOL if _assignable(tl, tr) else None
        if name == "@in":
            if isinstance(tr, ListT):
                return BOOL if _assignable(tl, tr.elem) else None
            if isinstance(tr, MapT):
                return BOOL if _assignable(tl, tr.key) else None
            return None if tr in _SCALARS else BOOL
        if not (tl in _SCALARS and tr in _SCALARS):
            if isinstance(tl, ListT) and isinstance(tr, ListT) and name == "_+_":
                return tl if _assignable(tl, tr) else None
            return DYN
        if name in _ARITH:
            return _ARITH[name].get((tl, tr))
        if tl == tr and tl in _ORDERED or tl in _NUMBERS and tr in _NUMBERS:
            return BOOL                          # cross-type numeric comparisons are on
        return None

    def _unary(self, node):
        """``!``/``-``: cel-go drops an even run of one operator and calls ``!_``/``-_``
        at the first of an odd one."""
        ops = []
        while len(node.children) == 2:
            ops.append(node.children[0].data)
            node = node.children[1]
        t = self.check(node.children[0])
        if not ops or len(ops) % 2 == 0 or len(set(ops)) > 1:
            return t if not ops or len(set(ops)) == 1 else DYN
        name, ok = ("!_", (BOOL,)) if ops[0] == "unary_not" else ("-_", (INT, DOUBLE))
        if _named(t) and t not in ok:
            at = self.text.rfind("!" if name == "!_" else "-", 0, _start(node))
            for _ in range(len(ops) - 1):        # back to the first of the run
                at = self.text.rfind(self.text[at], 0, at)
            self._no_overload(at, name, t)
            return ERROR
        return t if _named(t) else (BOOL if name == "!_" else DYN)

    def _literal(self, node):
        token = node.children[0]
        return {"INT_LIT": INT, "UINT_LIT": UINT, "FLOAT_LIT": DOUBLE, "STRING_LIT": STRING,
                "MLSTRING_LIT": STRING, "BYTES_LIT": BYTES, "BOOL_LIT": BOOL,
                "NULL_LIT": NULL}.get(token.type, DYN)

    def _ident(self, node):
        return self.env.get(str(node.children[0]), DYN)

    def _select(self, target, name: str, at: int):
        if isinstance(target, MapT):
            return target.value
        if isinstance(target, ObjT):
            found = target.fields().get(name)
            if found is None:
                self.issues.report(at, f"undefined field '{name}'")
                return ERROR
            return found
        if isinstance(target, Prim):
            self.issues.report(at, f"type '{target}' does not support field selection")
            return ERROR
        return DYN

    def _member_dot(self, node, at: int | None = None):
        target, token = node.children
        return self._select(self.check(target), str(token),
                            self._dot_before(token) if at is None else at)

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
        token = node.children[0]
        name, args = str(token), self._args(node, 1)
        paren = self._find_after(token.end_pos, "(")
        if name == "has" and len(args) == 1:
            select = _unwrap(args[0])
            if select is not None and select.data == "member_dot":
                self._member_dot(select, at=paren)   # made by the macro: at its '('
                return BOOL
        types = [self.check(a) for a in args]
        if name == "size" and len(types) == 1:
            if types[0] in _SCALARS and types[0] not in _SIZED:
                self._no_overload(paren, "size", *types)
                return ERROR
            return INT
        if name == "matches" and len(types) == 2:
            return BOOL
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
        types = [self.check(a) for a in args]
        paren = self._find_after(token.end_pos, "(")
        if name in _STRING_METHODS or name == "size":
            wrong = t not in _SIZED if name == "size" else t != STRING
            if t in _SCALARS and wrong and _named(*types):
                self._no_overload(paren, name, *types, target=t)
                return ERROR
            return INT if name == "size" else _STRING_METHODS[name] if t == STRING else DYN
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
            return ListT(types[-1]) if types[-1] is not ERROR else ListT(DYN)
        if name == "filter":
            return ListT(elem)
        return BOOL

    def _list_lit(self, node):
        types = [self.check(a) for a in self._args(node, 0)]
        return ListT(types[0]) if types and all(t == types[0] for t in types) else ListT(DYN)

    def _map_lit(self, node):
        for child in node.children:
            self.check(child)
        return MapT(DYN, DYN)


_MISSING = object()


def _is_tree(node) -> bool:
    """A lark ``Tree`` (tokens, the leaves, are strings)."""
    return hasattr(node, "data") and hasattr(node, "children")


def _start(node) -> int:
    return 0 if node.meta.empty else node.meta.start_pos


def _end(node) -> int:
    return 0 if node.meta.empty else node.meta.end_pos


def _unwrap(node):
    """The single construct an expression node wraps (``expr > … > member > member_dot``),
    or None when it is an operation."""
    while _is_tree(node) and len(node.children) == 1 and node.data in _WRAPPERS:
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
