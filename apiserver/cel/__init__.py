"""The shared CEL environment (upstream k8s.io/apiserver ``pkg/cel/`` and ``pkg/cel/library/``).

:func:`compile_expression` compiles one expression over declared variables with the
Kubernetes library functions (strings, regex, sets from ``oidc_cel``; lists ``isSorted``,
``sum``, ``min``, ``max``; quantity, url, ip and cidr from :mod:`apiserver.cel.library`)
and returns a :class:`Program`; ``authz=True`` adds the ``authorizer`` library
(:mod:`apiserver.cel.authz`) that admission expressions have.  Not yet here: the cost budget
(cel-python has no cost tracking).

May import: celpy, ``apiserver.authentication.oidc_cel``, ``apiserver.runtime.quantity``.
"""
from __future__ import annotations

import celpy
from celpy import celtypes

from apiserver.authentication.oidc_cel import FUNCTIONS as _STRING_FUNCTIONS
from apiserver.authentication.oidc_cel import KNOWN_FUNCTIONS as _KNOWN
from apiserver.authentication.oidc_cel import _Sets
from apiserver.cel import authz as _authz
from apiserver.cel import library

COST_LIMIT_MESSAGE = "operation cancelled: actual cost limit exceeded"


class CompileError(ValueError):
    """An expression that does not parse or names an undeclared function."""


class EvaluationError(Exception):
    """An expression that failed at run time."""


def _is_sorted(items):
    values = list(items)
    return celtypes.BoolType(all(a <= b for a, b in zip(values, values[1:])))


def _sum(items):
    values = list(items)
    if not values:
        return celtypes.IntType(0)
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _extreme(pick):
    def fn(items, *more):
        values = list(items) if not more else [items, *more]
        if not values:
            raise ValueError("min/max of an empty list")
        return pick(values)
    return fn


_BASE_STRING = celpy.evaluation.base_functions["string"]


def string_of(value):
    """CEL ``string()``: the library types print their value, booleans as ``true``/``false``
    (cel-go's spelling), everything else as cel-python's conversion does."""
    if isinstance(value, library.LIBRARY_TYPES):
        return celtypes.StringType(str(value))
    if isinstance(value, celtypes.BoolType):
        return celtypes.StringType("true" if value else "false")
    return _BASE_STRING(value)


FUNCTIONS = dict(_STRING_FUNCTIONS, isSorted=_is_sorted, sum=_sum,
                 min=_extreme(min), max=_extreme(max), **library.FUNCTIONS, string=string_of)
KNOWN_FUNCTIONS = frozenset(_KNOWN) | frozenset(FUNCTIONS)
AUTHZ_FUNCTIONS = dict(FUNCTIONS, **_authz.FUNCTIONS)
AUTHZ_KNOWN_FUNCTIONS = KNOWN_FUNCTIONS | frozenset(_authz.FUNCTIONS)
_environment = celpy.Environment()


class Program:
    """One compiled expression; ``evaluate`` takes plain JSON-like values per variable."""

    def __init__(self, text: str, *, authz: bool = False):
        self.text = text
        known = AUTHZ_KNOWN_FUNCTIONS if authz else KNOWN_FUNCTIONS
        try:
            tree = _environment.compile(text)
        except celpy.CELParseError as exc:
            line, column = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
            raise CompileError(f"compilation failed: ERROR: <input>:{line}:{column}: Syntax "
                               f"error: unexpected input\n | {text}\n | {'.' * (column - 1)}^"
                               ) from None
        for sub in tree.iter_subtrees():
            if sub.data in ("ident_arg", "member_dot_arg"):
                name = sub.children[0 if sub.data == "ident_arg" else 1]
                if str(name) not in known:
                    raise CompileError(
                        f"compilation failed: ERROR: <input>:{name.line}:{name.column}: "
                        f"undeclared reference to '{name}' (in container '')")
        self.tree = tree
        self.program = _environment.program(tree, functions=AUTHZ_FUNCTIONS if authz
                                            else FUNCTIONS)

    def evaluate(self, variables: dict):
        activation = {k: (v if isinstance(v, (celtypes.MapType, _authz.AuthzValue))
                          else celpy.json_to_cel(v)) for k, v in variables.items()}
        activation["sets"] = _Sets()
        activation.setdefault("ip", library.IPNamespace())
        try:
            result = self.program.evaluate(activation)
        except Exception as exc:   # CELEvalError or a library function's error
            raise EvaluationError(error_text(exc)) from None
        if isinstance(result, Exception):
            raise EvaluationError(error_text(result))
        return result


def error_text(exc) -> str:
    """cel-python's error → cel-go's text where they differ (``no such key: x``,
    ``division by zero``, ``modulus by zero``, ``no such overload``).  celpy wraps a library
    function's ValueError as ("return error for overflow", ValueError, (text,)): the
    function's own text is what upstream reports."""
    args = getattr(exc, "args", None) or ()
    if len(args) == 3 and isinstance(args[1], type) and issubclass(args[1], ValueError) \
            and args[2]:
        return str(args[2][0])
    detail = str(args[0]) if args else type(exc).__name__
    inner = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    if detail.startswith("no such member in mapping: "):
        return "no such key: " + detail.split(": ", 1)[1].strip("'")
    if detail == "no such key" and inner:
        return f"no such key: {inner[0]}"
    if detail == "modulus or divide by zero":
        return "modulus by zero" if inner and "modulo by zero" in str(inner[0]) \
            and "division" not in str(inner[0]) else "division by zero"
    if "no matching overload" in detail or "no such overload" in detail:
        return "no such overload"
    return detail


def compile_expression(text: str, *, authz: bool = False) -> Program:
    return Program(text, authz=authz)
