"""CEL for ``--authentication-config`` JWT authenticators: claim mappings and claim validation
rules over ``claims``, user validation rules over ``user`` (kubernetes/apiserver:
pkg/authentication/cel/compile.go and mapper.go; the functions of the base environment,
pkg/cel/environment/base.go).

The library is cel-python (``celpy``, pinned 0.5.0), a maintained pure-Python CEL.  On top of
its standard functions this module adds what Kubernetes' environment offers and expressions
over claims commonly use: the ``ext.Strings`` functions (``charAt``, ``indexOf``,
``lastIndexOf``, ``lowerAscii``, ``upperAscii``, ``replace``, ``split``, ``substring``,
``trim``, list ``join``), the regex library's ``find``/``findAll`` and ``sets.contains``,
``sets.equivalent``, ``sets.intersects``.

Not expressible here, and refused or reported rather than ignored: the optional-field
syntax (``claims.?x``, a syntax error), the url, ip/cidr, quantity, semver and authz
libraries (an undeclared reference at start), and upstream's static result types (a
validation rule that does not return a bool fails when it is evaluated, not at start).

May import: celpy.
"""
from __future__ import annotations

import re

import celpy
from celpy import celtypes
from celpy import evaluation

COMPREHENSIONS = ("all", "exists", "exists_one", "map", "filter")
MACROS = frozenset(COMPREHENSIONS + ("has", "dyn"))
TYPE_NAMES = frozenset(("bool", "bytes", "double", "duration", "int", "list", "map",
                        "null_type", "string", "timestamp", "type", "uint"))
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class CompileError(ValueError):
    """An expression that does not compile; the message is upstream's validation detail."""


class EvaluationError(Exception):
    """An expression that failed on these claims (a missing key, a bad argument …)."""


class _Sets(celtypes.MapType):
    """The ``sets`` namespace: ``sets.contains(a, b)`` is a call of ``contains`` on it."""


def _strings(values) -> celtypes.ListType:
    return celtypes.ListType([celtypes.StringType(v) for v in values])


def _index_of(target, sub, start=0):
    if isinstance(target, list):
        return celtypes.IntType(target.index(sub) if sub in target else -1)
    return celtypes.IntType(str(target).find(str(sub), int(start)))


def _last_index_of(target, sub, end=None):
    if isinstance(target, list):
        return celtypes.IntType(len(target) - 1 - target[::-1].index(sub) if sub in target
                                else -1)
    stop = len(target) if end is None else int(end) + len(sub)
    return celtypes.IntType(str(target).rfind(str(sub), 0, stop))


def _replace(text, old, new, n=-1):
    return celtypes.StringType(str(text).replace(str(old), str(new), int(n)))


def _split(text, sep, n=-1):
    n = int(n)
    if n == 0:
        return celtypes.ListType([])
    if sep:
        return _strings(str(text).split(str(sep), n - 1 if n > 0 else -1))
    chars = list(str(text))           # Go's SplitN on "": one element per character
    if 0 < n < len(chars):
        chars = chars[:n - 1] + ["".join(chars[n - 1:])]
    return _strings(chars)


def _substring(text, start, end=None):
    text, start = str(text), int(start)
    end = len(text) if end is None else int(end)
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"index out of range: {end if end > len(text) else start}")
    return celtypes.StringType(text[start:end])


def _char_at(text, i):
    text, i = str(text), int(i)
    if not 0 <= i <= len(text):
        raise ValueError(f"index out of range: {i}")
    return celtypes.StringType(text[i:i + 1])


def _find_all(text, regex, n=-1):
    found = [m.group(0) for m in re.finditer(str(regex), str(text))]
    return _strings(found if int(n) < 0 else found[:int(n)])


def _find(text, regex):
    match = re.search(str(regex), str(text))
    return celtypes.StringType(match.group(0) if match else "")


def _contains(target, *args):
    if isinstance(target, _Sets):
        first, second = args
        return celtypes.BoolType(all(v in first for v in second))
    return evaluation.function_contains(target, *args)


def _equivalent(_sets, first, second):
    return celtypes.BoolType(all(v in second for v in first) and all(v in first for v in second))


def _intersects(_sets, first, second):
    return celtypes.BoolType(any(v in second for v in first))


FUNCTIONS = {
    "charAt": _char_at, "indexOf": _index_of, "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: celtypes.StringType(str(s).translate(_ASCII_LOWER)),
    "upperAscii": lambda s: celtypes.StringType(str(s).translate(_ASCII_UPPER)),
    "replace": _replace, "split": _split, "substring": _substring,
    "trim": lambda s: celtypes.StringType(str(s).strip()),
    "join": lambda items, sep="": celtypes.StringType(str(sep).join(str(i) for i in items)),
    "find": _find, "findAll": _find_all,
    "contains": _contains, "equivalent": _equivalent, "intersects": _intersects,
}
KNOWN_FUNCTIONS = frozenset(evaluation.base_functions) | frozenset(FUNCTIONS) | MACROS


def _bare_ident(node) -> str | None:
    """The name when ``node`` (an expression subtree) is nothing but an identifier."""
    while hasattr(node, "data") and node.data != "ident" and len(node.children) == 1:
        node = node.children[0]
    return str(node.children[0]) if getattr(node, "data", "") == "ident" else None


def _undeclared(token) -> CompileError:
    return CompileError(f"compilation failed: ERROR: <input>:{token.line}:{token.column}: "
                        f"undeclared reference to '{token}' (in container '')")


def _check_references(tree, variable: str) -> None:
    """cel-go's checker, for names: only ``variable``, ``sets``, comprehension variables,
    type names and known functions may be referred to (cel-python would only notice when
    an expression is evaluated)."""
    bound = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and str(node.children[1]) in COMPREHENSIONS \
                and len(node.children) > 2 and node.children[2].children:
            bound.add(_bare_ident(node.children[2].children[0]))
    allowed = {variable, "sets"} | bound | TYPE_NAMES
    for node in tree.iter_subtrees():
        if node.data == "ident" and str(node.children[0]) not in allowed:
            raise _undeclared(node.children[0])
        if node.data in ("ident_arg", "member_dot_arg"):
            name = node.children[0 if node.data == "ident_arg" else 1]
            if str(name) not in KNOWN_FUNCTIONS:
                raise _undeclared(name)


class Expression:
    """One compiled expression over one variable (``claims`` or ``user``)."""

    def __init__(self, environment: celpy.Environment, text: str, variable: str):
        self.text = text
        self.variable = variable
        try:
            self.tree = environment.compile(text)
        except celpy.CELParseError as exc:
            line, column = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
            pointer = "." * (column - 1) + "^"
            raise CompileError(f"compilation failed: ERROR: <input>:{line}:{column}: Syntax "
                               f"error: unexpected input\n | {text}\n | {pointer}") from None
        _check_references(self.tree, variable)
        self.program = environment.program(self.tree, functions=FUNCTIONS)

    def uses(self, operand: str, field: str) -> bool:
        """Whether the expression selects ``operand.field`` (upstream ``hasSelectExp``,
        which finds ``claims.email`` and ``has(claims.email)``)."""
        for node in self.tree.iter_subtrees():
            if node.data == "member_dot" and str(node.children[1]) == field \
                    and _bare_ident(node.children[0]) == operand:
                return True
        return False

    def evaluate(self, value):
        """The result on ``value`` (JSON data); :class:`EvaluationError` when CEL fails."""
        activation = {self.variable: celpy.json_to_cel(value), "sets": _Sets()}
        try:
            result = self.program.evaluate(activation)
        except Exception as exc:    # CELEvalError, or a function's ValueError/TypeError
            raise EvaluationError(self._reason(exc)) from None
        if isinstance(result, Exception):    # CEL errors may come back as values
            raise EvaluationError(self._reason(result))
        return result

    def _reason(self, exc) -> str:
        detail = str(exc.args[0]) if exc.args else type(exc).__name__
        missing = re.fullmatch(r"no such member in mapping: '(.*)'", detail)
        if missing:
            detail = f"no such key: {missing.group(1)}"
        return f"expression '{self.text}' resulted in error: {detail}"


class Compiler:
    """Compiles expressions; one per configuration load (cel-python's parser is shared)."""

    def __init__(self):
        self.environment = celpy.Environment()

    def claims(self, text: str) -> Expression:
        return Expression(self.environment, text, "claims")

    def user(self, text: str) -> Expression:
        return Expression(self.environment, text, "user")


def as_string(result) -> str | None:
    """The result when it is a CEL string, else None."""
    return str(result) if isinstance(result, str) else None


def as_bool(result) -> bool | None:
    """The result when it is a CEL bool, else None."""
    if isinstance(result, (bool, celtypes.BoolType)):
        return bool(result)
    return None


def as_string_list(result) -> list[str]:
    """Upstream ``convertCELValueToStringList``: a string or a list of strings; ``""``,
    ``[]``, null and empty strings inside a list count as absent."""
    if result is None:
        return []
    if isinstance(result, str):
        return [str(result)] if result else []
    if isinstance(result, (list, tuple)) and all(isinstance(v, str) for v in result):
        return [str(v) for v in result if v]
    raise EvaluationError("expression must return a string or a list of strings")
