"""Label and field selectors, parsed and matched as kube-apiserver does.

Label selectors follow k8s.io/apimachinery ``pkg/labels/selector.go`` (1.32): the same
lexer and recursive-descent parser, so malformed input fails with upstream's messages
(``found ',', expected: identifier after ','`` …), keys and values are checked as label keys
and values, requirements are sorted by key, and ``to_string()`` is upstream's canonical
``String()``.  Field selectors follow ``pkg/fields/selector.go`` including its ``\\,``,
``\\=`` and ``\\\\`` escaping.  Every parse failure raises ``errors.BadRequest``.

May import: the standard library and ``apiserver.runtime.errors`` / ``.validation``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BadRequest, FieldError, forbidden, invalid, not_supported, required
from .validation import go_strings, is_qualified_name, is_valid_label_value, validate_labels

EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT = "in", "notin", "exists", "!", "gt", "lt"
_BINARY_OPS = [IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GT, LT]
_INT64 = re.compile(r"[+-]?[0-9]+")


class _Aggregate(Exception):
    """Upstream ``utilerrors.Aggregate`` text: one message, or ``[a, b]`` de-duplicated."""

    def __init__(self, errors: list[FieldError]):
        texts = list(dict.fromkeys(e.error_text() for e in errors))
        super().__init__(texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")


def _key_error(key: str, path: str) -> FieldError | None:
    msgs = is_qualified_name(key)
    return invalid(path, key, "; ".join(msgs)) if msgs else None


def _is_int64(v: str) -> bool:
    return bool(_INT64.fullmatch(v)) and -2 ** 63 <= int(v) < 2 ** 63


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term; ``values`` keeps upstream's order (sorted when parsed)."""

    key: str
    operator: str
    values: tuple = ()

    @classmethod
    def new(cls, key: str, op: str, values) -> "Requirement":
        """Upstream ``NewRequirement``: validate, raising ``_Aggregate`` on failure.

        Upstream calls it without a field path, so errors read ``key: …`` / ``values[0][k]: …``.
        """
        values = tuple(values)
        vpath, shown = "values", go_strings(values)
        errs = [e for e in [_key_error(key, "key")] if e]
        if op in (IN, NOT_IN) and not values:
            errs.append(invalid(vpath, shown,
                                "for 'in', 'notin' operators, values set can't be empty"))
        elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
            errs.append(invalid(vpath, shown,
                                "exact-match compatibility requires one single value"))
        elif op in (EXISTS, DOES_NOT_EXIST) and values:
            errs.append(invalid(vpath, shown,
                                "values set must be empty for exists and does not exist"))
        elif op in (GT, LT):
            if len(values) != 1:
                errs.append(invalid(vpath, shown,
                                    "for 'Gt', 'Lt' operators, exactly one value is required"))
            errs += [invalid(f"{vpath}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be "
                             "an integer") for i, v in enumerate(values) if not _is_int64(v)]
        elif op not in _BINARY_OPS + [EXISTS, DOES_NOT_EXIST]:
            errs.append(not_supported("operator", op, _BINARY_OPS + [EXISTS, DOES_NOT_EXIST]))
        for i, v in enumerate(values):
            msgs = is_valid_label_value(v)
            if msgs:
                errs.append(invalid(f"{vpath}[{i}][{key}]", v, "; ".join(msgs)))
        if errs:
            raise _Aggregate(errs)
        return cls(key, op, values)

    def matches(self, labels: dict) -> bool:
        present = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if self.operator in (GT, LT) and present and len(self.values) == 1:
            have, want = labels[self.key], self.values[0]
            if not (_is_int64(have) and _is_int64(want)):
                return False
            return int(have) > int(want) if self.operator == GT else int(have) < int(want)
        return False

    def to_string(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({vals})"
        symbol = {GT: ">", LT: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{vals}"


class LabelSelector:
    """AND of requirements.  ``nothing=True`` is upstream ``labels.Nothing()`` (a nil
    structured selector): it matches no object."""

    def __init__(self, requirements=(), nothing: bool = False):
        self.requirements = sorted(requirements, key=lambda r: r.key)
        self.nothing = nothing

    @property
    def empty(self) -> bool:
        """True when it selects everything (upstream ``Empty()``)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: dict | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def to_string(self) -> str:
        return ",".join(r.to_string() for r in self.requirements)

    __str__ = to_string

    def __repr__(self):
        return f"LabelSelector({self.to_string()!r})"


# ------------------------------------------------------------------ structured selector validation

def validate_label_selector(selector: dict | None, path: str) -> list[FieldError]:
    """Structured ``LabelSelector`` (Deployment ``spec.selector`` …), upstream metav1 rules."""
    if selector is None:
        return []
    errs = validate_labels(selector.get("matchLabels"), path + ".matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), list(expr.get("values") or [])
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(p + ".values",
                                     "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(p + ".values", "may not be specified when `operator` "
                                                     "is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(p + ".operator", op or "", "not a valid selector operator"))
        key = expr.get("key") or ""
        errs += [invalid(p + ".key", key, m) for m in is_qualified_name(key)]
        errs += [invalid(f"{p}.values[{j}]", v, m)
                 for j, v in enumerate(values) for m in is_valid_label_value(str(v))]
    return errs


# ------------------------------------------------------------------ label selector lexer

_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_SYMBOLS = {")": "CLOSE", ",": "COMMA", "!": "NOT", "==": "DEQ", "=": "EQ", ">": "GT",
            "<": "LT", "!=": "NEQ", "(": "OPEN"}
_KEYWORDS = {"in": "IN", "notin": "NOTIN"}


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal), ending with ("EOS", "")."""
    tokens, pos, n = [], 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            tokens.append(("EOS", ""))
            return tokens
        if text[pos] in _SPECIAL:
            # longest run of specials that still forms a known symbol ("!=" over "!")
            buf, last = "", None
            while pos < n and text[pos] in _SPECIAL:
                if buf + text[pos] in _SYMBOLS:
                    buf += text[pos]
                    last = (_SYMBOLS[buf], buf)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buf += text[pos]
                    pos += 1
            tokens.append(last or ("ERROR", f"error expected: keyword found '{buf}'"))
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append((_KEYWORDS.get(word, "ID"), word))


class _Parser:
    def __init__(self, text: str):
        self.tokens, self.pos = _lex(text), 0

    def peek(self, values: bool = True):
        kind, lit = self.tokens[self.pos]
        # inside values (and key position) the keywords in/notin are plain identifiers
        return ("ID" if values and kind in ("IN", "NOTIN") else kind), lit

    def take(self, values: bool = True):
        tok = self.peek(values)
        self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs = []
        while True:
            kind, lit = self.peek()
            if kind == "EOS":
                return reqs
            if kind not in ("ID", "NOT"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except (ValueError, _Aggregate) as exc:
                raise ValueError(f"unable to parse requirement: {exc}") from None
            kind, lit = self.take()
            if kind == "EOS":
                return reqs
            if kind != "COMMA":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in ("ID", "NOT"):
                raise ValueError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        op = ""
        kind, key = self.take()
        if kind == "NOT":
            op = DOES_NOT_EXIST
            kind, key = self.take()
        if kind != "ID":
            raise ValueError(f"found '{key}', expected: identifier")
        err = _key_error(key, "<nil>")
        if err:
            raise ValueError(err.error_text())
        if self.peek()[0] in ("EOS", "COMMA") and op != DOES_NOT_EXIST:
            op = EXISTS
        if op in (EXISTS, DOES_NOT_EXIST):
            return Requirement.new(key, op, [])
        kind, lit = self.take(values=False)
        ops = {"IN": IN, "NOTIN": NOT_IN, "EQ": EQUALS, "DEQ": DOUBLE_EQUALS, "NEQ": NOT_EQUALS,
               "GT": GT, "LT": LT}
        if kind not in ops:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPS)}")
        op = ops[kind]
        values = self.set_values() if op in (IN, NOT_IN) else self.exact_value()
        return Requirement.new(key, op, sorted(values))

    def set_values(self) -> set:
        kind, lit = self.take()
        if kind != "OPEN":
            raise ValueError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == "CLOSE":  # "()" means the single empty value
            self.take()
            return {""}
        if kind not in ("ID", "COMMA"):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values = set()
        while True:  # empty items between commas are the empty string, as upstream
            kind, lit = self.take()
            if kind == "ID":
                values.add(lit)
                kind2, lit2 = self.peek()
                if kind2 == "CLOSE":
                    break
                if kind2 != "COMMA":
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            elif kind == "COMMA":
                if not values:
                    values.add("")
                kind2, _ = self.peek()
                if kind2 == "CLOSE":
                    values.add("")
                    break
                if kind2 == "COMMA":
                    self.take()
                    values.add("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")
        self.take()  # the ')' seen by peek
        return values

    def exact_value(self) -> set:
        if self.peek()[0] in ("EOS", "COMMA"):  # "a=" selects the empty value
            return {""}
        kind, lit = self.take()
        if kind == "ID":
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the ``labelSelector`` query string; empty selects everything."""
    try:
        return LabelSelector(_Parser(text or "").parse())
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


_STRUCT_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(selector: dict | None) -> LabelSelector:
    """Upstream ``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` everything."""
    if selector is None:
        return LabelSelector(nothing=True)
    reqs = []
    try:
        for key in sorted(selector.get("matchLabels") or {}):
            reqs.append(Requirement.new(key, EQUALS, [selector["matchLabels"][key]]))
        for expr in selector.get("matchExpressions") or []:
            op = expr.get("operator")
            if op not in _STRUCT_OPS:
                raise BadRequest(f'"{op or ""}" is not a valid label selector operator')
            reqs.append(Requirement.new(expr.get("key") or "", _STRUCT_OPS[op],
                                        list(expr.get("values") or [])))
    except _Aggregate as exc:
        raise BadRequest(str(exc)) from None
    return LabelSelector(reqs)


# ------------------------------------------------------------------ field selectors

def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out, in_slash = [], False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise BadRequest(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # upstream prints the rune with %v, i.e. as its code point number
            raise BadRequest(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise BadRequest("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


class FieldSelector:
    """AND of ``(field, op, value)`` terms, op one of ``=``, ``==``, ``!=``; a missing
    field compares as the empty string, as upstream's ``fields.Set.Get``."""

    def __init__(self, requirements=()):
        self.requirements = list(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: dict) -> bool:
        for name, op, value in self.requirements:
            equal = fields.get(name, "") == value
            if equal != (op != NOT_EQUALS):
                return False
        return True

    def validate(self, allowed, resource: str = "") -> None:
        """Raise BadRequest for the first term whose field is not in ``allowed``.

        ``resource`` is for callers' context only; upstream's message does not include it."""
        for name, _, _ in self.requirements:
            if name not in allowed:
                raise BadRequest(f"field label not supported: {name}")

    def requires_exact_match(self, name: str) -> str | None:
        """The value an ``=``/``==`` term pins ``name`` to (for index lookups), else None."""
        for field, op, value in self.requirements:
            if field == name and op != NOT_EQUALS:
                return value
        return None

    def to_string(self) -> str:
        return ",".join(f"{f}{'!=' if op == NOT_EQUALS else '='}{_escape(v)}"
                        for f, op, v in self.requirements)

    __str__ = to_string


def parse_field_selector(text: str | None) -> FieldSelector:
    """Parse the ``fieldSelector`` query string (terms are sorted as upstream does)."""
    text = text or ""
    reqs = []
    for part in sorted(_split_terms(text)) if text else []:
        if not part:
            continue
        for i in range(len(part)):
            op = next((o for o in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS) if part.startswith(o, i)),
                      None)
            if op:
                reqs.append((part[:i], op, _unescape(part[i + len(op):])))
                break
        else:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
    return FieldSelector(reqs)


# ------------------------------------------------------------------ booleans

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str) -> bool:
    """Go ``strconv.ParseBool``; anything else raises BadRequest with Go's message."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def query_bool(values) -> bool:
    """How upstream decodes a boolean *query parameter* (``watch``, ``allowWatchBookmarks``):
    absent → False; the first value "0" or any-case "false" → False; anything else → True."""
    if isinstance(values, str):
        values = [values]
    if not values:
        return False
    return not (values[0] == "0" or values[0].lower() == "false")
