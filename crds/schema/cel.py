"""``x-kubernetes-validations``: CEL rules of a CRD schema, compiled once per schema node.

Semantics follow apiextensions-apiserver ``pkg/apiserver/schema/cel/validation.go``:

* a rule is evaluated on every non-null value of its node, ``self`` bound to that value
  (numbers of a ``number`` node as doubles; at a resource root or an embedded resource,
  ``metadata`` shows only ``name`` and ``generateName``, ``model.WithTypeAndObjectMeta``);
* a transition rule (one that refers to ``oldSelf``) runs only when the node has a
  correlated old value: object fields by name (not under ``x-kubernetes-map-type: atomic``),
  items of ``x-kubernetes-list-type: map`` lists by their keys, nothing else — so it is
  skipped on create;
* a false result is ``Invalid value: "<node type>": <detail>`` at the node (``<nil>`` at the
  root) plus the rule's ``fieldPath``; the detail is the trimmed ``messageExpression``
  result, else ``message``, else ``failed rule: <rule>``; ``reason`` picks
  ``FieldValueForbidden``/``Required``/``Duplicate`` instead (``fieldErrorForReason``);
* an evaluation error is ``<error> evaluating rule: <message or rule>``;
* on update, errors of rules without ``oldSelf`` on a node whose value did not change are
  dropped (ratcheting; upstream makes them warnings).

The library is cel-python (see ``apiserver/authentication/oidc_cel.py``, whose Kubernetes
string, regex and ``sets`` functions are reused from there, read-only, not duplicated);
this module adds the Kubernetes list functions ``isSorted``, ``sum``, ``min``, ``max``.
``optionalOldSelf: true`` rules also run without an old value, ``oldSelf`` then being an
optional with the methods ``hasValue()``, ``value()`` and ``orValue()`` (the ``.?`` syntax and
the ``optional`` namespace are not available).  Not available in cel-python 0.5: the cost
budget and the format library (an undeclared reference is a ``rule compile error``); the
quantity, url, ip and cidr libraries come from ``apiserver.cel.library``.

May import: celpy, ``apiserver.authentication.oidc_cel``, ``apiserver.cel`` and this package.
"""
from __future__ import annotations

import celpy
from celpy import celtypes

from apiserver.authentication.oidc_cel import (
    COMPREHENSIONS, FUNCTIONS, KNOWN_FUNCTIONS, TYPE_NAMES, _Sets, as_bool)
from apiserver.cel import error_text, library, string_of

from . import fielderrors as fe
from .compiled import Node
from .openapi import MISSING, correlate_items, deep_equal

MAX_MESSAGE_BYTES = 5 * 1024     # celconfig.MaxEvaluatedMessageExpressionSizeBytes
REASONS = {"FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate",
           "FieldValueInvalid"}


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


class Optional(celtypes.MapType):
    """``oldSelf`` of an ``optionalOldSelf`` rule: cel-go's ``optional_type`` reduced to the
    methods such rules call, ``hasValue()``, ``value()`` and ``orValue(default)``."""

    def __init__(self, inner=None, present: bool = False):
        super().__init__({})
        self.inner, self.present = inner, present


def _has_value(opt):
    return celtypes.BoolType(isinstance(opt, Optional) and opt.present)


def _value(opt):
    if not (isinstance(opt, Optional) and opt.present):
        raise ValueError("optional.none() dereference")
    return opt.inner


def _or_value(opt, default):
    return opt.inner if isinstance(opt, Optional) and opt.present else default


CRD_FUNCTIONS = {**FUNCTIONS, "isSorted": _is_sorted, "sum": _sum,
                 "min": _extreme(min), "max": _extreme(max),
                 "hasValue": _has_value, "value": _value, "orValue": _or_value,
                 **library.FUNCTIONS, "string": string_of}
CRD_KNOWN = KNOWN_FUNCTIONS | frozenset(("isSorted", "sum", "min", "max", "hasValue", "value",
                                         "orValue")) | frozenset(library.FUNCTIONS)
_environment = celpy.Environment()


class RuleError(Exception):
    """A rule that does not compile; the message is upstream-shaped."""


def _bare_ident(node):
    while hasattr(node, "data") and node.data != "ident" and len(node.children) == 1:
        node = node.children[0]
    return str(node.children[0]) if getattr(node, "data", "") == "ident" else None


def _compile(text: str):
    """(program, uses_old_self) for an expression over ``self``/``oldSelf``."""
    try:
        tree = _environment.compile(text)
    except celpy.CELParseError as exc:
        line, column = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
        raise RuleError(f"compilation failed: ERROR: <input>:{line}:{column}: Syntax error: "
                        f"unexpected input\n | {text}\n | {'.' * (column - 1)}^") from None
    bound = set()
    for sub in tree.iter_subtrees():
        if sub.data == "member_dot_arg" and str(sub.children[1]) in COMPREHENSIONS \
                and len(sub.children) > 2 and sub.children[2].children:
            bound.add(_bare_ident(sub.children[2].children[0]))
    allowed = {"self", "oldSelf", "sets"} | bound | TYPE_NAMES
    uses_old = False
    for sub in tree.iter_subtrees():
        if sub.data == "ident":
            name = sub.children[0]
            uses_old = uses_old or str(name) == "oldSelf"
            if str(name) not in allowed:
                raise RuleError(f"compilation failed: ERROR: <input>:{name.line}:{name.column}: "
                                f"undeclared reference to '{name}' (in container '')")
        if sub.data in ("ident_arg", "member_dot_arg"):
            name = sub.children[0 if sub.data == "ident_arg" else 1]
            if str(name) not in CRD_KNOWN:
                raise RuleError(f"compilation failed: ERROR: <input>:{name.line}:{name.column}: "
                                f"undeclared reference to '{name}' (in container '')")
    return _environment.program(tree, functions=CRD_FUNCTIONS), uses_old


class Rule:
    """One compiled ``x-kubernetes-validations`` entry."""

    def __init__(self, node: Node, raw: dict):
        self.rule = str(raw.get("rule") or "")
        self.message = str(raw.get("message") or "").strip()
        self.message_expression = str(raw.get("messageExpression") or "")
        self.reason = raw.get("reason") or ""
        self.field_path = normalize_field_path(node, str(raw.get("fieldPath") or ""))
        self.optional_old_self = bool(raw.get("optionalOldSelf"))
        self.error = ""
        self.program, self.uses_old_self, self.message_program = None, False, None
        try:
            if self.rule.strip():
                self.program, self.uses_old_self = _compile(self.rule)
            if self.message_expression:
                self.message_program, _ = _compile(self.message_expression)
        except RuleError as exc:
            self.error = str(exc)

    def error_string(self) -> str:
        """``ruleErrorString``: the message if any, else the rule, trimmed."""
        return self.message or self.rule.strip()


def normalize_field_path(node: Node, path: str) -> str:
    """``ValidFieldPath(...).String()``: ``.spec['a.b']`` → ``spec.a.b`` for properties,
    ``[key]`` below ``additionalProperties``; an unusable path is ignored."""
    if not path:
        return ""
    out, i, current = "", 0, node
    while i < len(path):
        if path[i] == ".":
            j = i + 1
            while j < len(path) and path[j] not in ".[]":
                j += 1
            name, i = path[i + 1:j], j
        elif path[i] == "[" and path[i + 1:i + 2] == "'":
            j = path.find("']", i + 2)
            if j < 0:
                return ""
            name, i = path[i + 2:j].replace("\\'", "'").replace("\\\\", "\\"), j + 2
        else:
            return ""
        if current is not None and current.properties:
            out = fe.child(out, name)
            current = current.properties.get(name)
            if current is None:
                return ""
        elif current is not None and current.additional_schema() is not None:
            out = fe.key(out, name)
            current = current.additional_schema()
        else:
            return ""
    return out


def rules_of(node: Node) -> list[Rule]:
    """The node's compiled rules (compiled on first use, then kept on the node)."""
    if node.cel is None:
        node.cel = [Rule(node, r) for r in node.rules]
    return node.cel


# ---------------------------------------------------------------- values

def to_cel(value, node: Node | None, resource_root: bool = False):
    """JSON → CEL, typed by the schema where it matters (``number`` → double)."""
    if isinstance(value, dict):
        items = {}
        for k, v in value.items():
            sub = node.for_field(k) if node is not None else None
            if resource_root and k == "metadata" and isinstance(v, dict):
                v = {m: v[m] for m in ("name", "generateName") if m in v}
                sub = None
            items[celtypes.StringType(k)] = to_cel(v, sub, sub is not None and sub.embedded)
        return celtypes.MapType(items)
    if isinstance(value, list):
        sub = node.items if node is not None else None
        return celtypes.ListType([to_cel(v, sub, sub is not None and sub.embedded)
                                  for v in value])
    if node is not None and node.type == "number" and isinstance(value, int) \
            and not isinstance(value, bool):
        return celtypes.DoubleType(value)
    return celpy.json_to_cel(value)


def _evaluate(program, activation):
    try:
        result = program.evaluate(activation)
    except Exception as exc:        # CELEvalError, or a library function's ValueError …
        return None, error_text(exc)
    if isinstance(result, Exception):
        return None, error_text(result)
    return result, ""


def _message(rule: Rule, activation) -> str:
    if rule.message_program is not None:
        result, err = _evaluate(rule.message_program, activation)
        if not err and isinstance(result, str):
            text = str(result).strip()
            if text and "\n" not in text and len(text.encode()) <= MAX_MESSAGE_BYTES:
                return text
    return rule.message or f"failed rule: {rule.rule.strip()}"


def _rule_error(rule: Rule, path: str, schema_type: str, detail: str):
    path = fe.child(path, rule.field_path) if rule.field_path else path
    if rule.reason == "FieldValueForbidden":
        return fe.forbidden(path, detail)
    if rule.reason == "FieldValueRequired":
        return fe.required(path, detail)
    if rule.reason == "FieldValueDuplicate":
        return fe.duplicate(path, schema_type)
    return fe.invalid(path, schema_type, detail)


def _node_rules(node: Node, value, old, path: str, root: bool, unchanged: bool) -> list:
    errs = []
    activation = None
    for rule in rules_of(node):
        if rule.error:
            errs.append(fe.invalid(path, node.type, f"rule compile error: {rule.error}"))
            continue
        if rule.program is None or (rule.uses_old_self and old is MISSING
                                    and not rule.optional_old_self):
            continue
        if activation is None:
            activation = {"self": to_cel(value, node, root), "sets": _Sets(),
                          "ip": library.IPNamespace()}
            if old is not MISSING:
                activation["oldSelf"] = to_cel(old, node, root)
        rule_activation = activation
        if rule.optional_old_self:
            rule_activation = {**activation, "oldSelf": Optional(activation.get("oldSelf"),
                                                                 old is not MISSING)}
        result, err = _evaluate(rule.program, rule_activation)
        if err:
            if err == "no such overload":
                errs.append(fe.invalid(path, node.type, f"'{err}': call arguments did not match "
                                       "a supported operator, function or macro signature for "
                                       f"rule: {rule.error_string()}"))
            else:
                errs.append(fe.invalid(path, node.type,
                                       f"{err} evaluating rule: {rule.error_string()}"))
            continue
        if as_bool(result) is True:
            continue
        if not rule.uses_old_self and unchanged:
            continue                 # ratcheted
        errs.append(_rule_error(rule, path, node.type, _message(rule, activation)))
    return errs


def unchanged_value(node: Node | None, new, old) -> bool:
    """``common.CorrelatedObject.CachedDeepEqual``: map-type list items compared by key,
    other lists as a whole, object fields only through their schema (a field the schema
    does not describe makes the object count as changed)."""
    if new is None or old is None:
        return new is None and old is None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return False
        if node is not None and node.items is not None and node.list_type == "map":
            olds = correlate_items(node, new, old)
            return all(o is not MISSING and unchanged_value(node.items, n, o)
                       for n, o in zip(new, olds))
        return deep_equal(new, old)
    if isinstance(old, dict) and isinstance(new, dict):
        if len(old) != len(new):
            return False
        for k, v in new.items():
            sub = None if node is None else node.for_field(k)
            if k not in old or sub is None or not unchanged_value(sub, v, old[k]):
                return False
        return True
    return deep_equal(new, old)


def validate(node: Node | None, value, old=MISSING, path: str = "", root: bool = True,
             parent_unchanged: bool = False) -> list:
    """CEL errors of ``value`` against ``node`` and below.  ``old`` is the correlated old
    value (MISSING: none): object fields by name (not in atomic maps, for ``oldSelf``),
    items of list-type maps by key.  Without one, the nearest correlated ancestor's
    equality (``parent_unchanged``) decides whether errors ratchet."""
    if node is None or value is None or not node.has_rules_below:
        return []
    unchanged = unchanged_value(node, value, old) if old is not MISSING else parent_unchanged
    errs = _node_rules(node, value, old, path, root, unchanged)
    for sub in node.all_of:
        errs += validate(sub, value, old, path, root, unchanged)
    if isinstance(value, dict):
        old_map = old if isinstance(old, dict) and node.map_type != "atomic" else {}
        additional = node.additional_schema()
        for k, v in value.items():
            prop = node.properties.get(k)
            if prop is not None:
                errs += validate(prop, v, old_map.get(k, MISSING), fe.child(path, k),
                                 prop.embedded, unchanged)
            elif additional is not None:
                errs += validate(additional, v, old_map.get(k, MISSING), fe.key(path, k),
                                 additional.embedded, unchanged)
    elif isinstance(value, list) and node.items is not None:
        # upstream's makeMapList: only list-type map items have an old value
        olds = correlate_items(node, value, old) if node.list_type == "map" \
            else [MISSING] * len(value)
        for i, v in enumerate(value):
            errs += validate(node.items, v, olds[i], fe.index(path, i), node.items.embedded,
                             unchanged)
    return errs
