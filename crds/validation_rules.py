"""``x-kubernetes-validations``: the shape of each rule, compiling it (with the custom
resources' CEL environment, ``crds.schema.cel``) and ``oldSelf`` where it cannot be
correlated; and field paths into a schema (``fieldPath`` of a rule, ``selectableFields``).

Upstream: kubernetes/apiextensions-apiserver:pkg/apis/apiextensions/validation/
validation.go (the x-kubernetes-validations part of
``ValidateCustomResourceDefinitionOpenAPISchema``) and pkg/apiserver/schema/cel/
validation.go (``ValidFieldPath``).
"""
from __future__ import annotations

import json
import re

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import GoText

from .validation_structural import convertible

VALIDATION_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid",
                      "FieldValueRequired")


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _s(value) -> str:
    return value if isinstance(value, str) else ""


_NEWLINES = re.compile(r"[\n\r]+")


def rule_shapes(s: dict, path: str) -> list[FieldError]:
    """The shape of each ``x-kubernetes-validations`` rule (CEL itself is not compiled)."""
    errs: list[FieldError] = []
    for i, rule in enumerate(_l(s.get("x-kubernetes-validations"))):
        rule = _d(rule)
        rpath = f"{path}.x-kubernetes-validations[{i}]"
        text, message = _s(rule.get("rule")), _s(rule.get("message"))
        trimmed, trimmed_msg = text.strip(), message.strip()
        if not trimmed:
            errs.append(errors.required(rpath + ".rule", "rule is not specified"))
        elif message and not trimmed_msg:
            errs.append(errors.invalid(rpath + ".message", message, "message must be non-empty if specified"))
        elif _NEWLINES.search(trimmed_msg):
            errs.append(errors.invalid(rpath + ".message", message, "message must not contain line breaks"))
        elif _NEWLINES.search(trimmed) and not trimmed_msg:
            errs.append(errors.required(rpath + ".message",
                                        "message must be specified if rule contains line breaks"))
        expr = _s(rule.get("messageExpression"))
        if expr and not expr.strip():
            errs.append(errors.required(rpath + ".messageExpression",
                                        "messageExpression must be non-empty if specified"))
        reason = rule.get("reason")
        if reason is not None and reason not in VALIDATION_REASONS:
            errs.append(errors.not_supported(rpath + ".reason", reason, VALIDATION_REASONS))
        field_path = _s(rule.get("fieldPath"))
        if field_path and not field_path.strip():
            errs.append(errors.invalid(rpath + ".fieldPath", field_path,
                                       "fieldPath must be non-empty if specified"))
        if _NEWLINES.search(field_path):
            errs.append(errors.invalid(rpath + ".fieldPath", field_path,
                                       "fieldPath must not contain line breaks"))
        if field_path and not convertible(s) and field_path_schema(s, field_path, arrays=True)[1]:
            errs.append(errors.invalid(rpath + ".fieldPath", field_path, "fieldPath must be a valid path"))
    return errs


def _go_rule(rule: dict) -> GoText:
    """``%#v`` of an internal ``ValidationRule``."""
    def q(key):
        return json.dumps(_s(rule.get(key)), ensure_ascii=False)
    reason = "(*apiextensions.FieldValueErrorReason)(nil)" if rule.get("reason") is None \
        else "(*apiextensions.FieldValueErrorReason)(0xc000000000)"
    old_self = "(*bool)(nil)" if rule.get("optionalOldSelf") is None else "(*bool)(0xc000000000)"
    return GoText(f"apiextensions.ValidationRule{{Rule:{q('rule')}, Message:{q('message')}, "
                  f"MessageExpression:{q('messageExpression')}, Reason:{reason}, "
                  f"FieldPath:{q('fieldPath')}, OptionalOldSelf:{old_self}}}")


def compile_rules(s: dict, path: str, uncorrelatable: str | None) -> list[FieldError]:
    """Compile each rule with the custom-resource CEL environment (``crds.schema.cel``);
    the messages are that module's (cel-go's wording where it can tell).  Cost estimates
    are not computed."""
    try:
        from crds.schema import cel
    except ImportError:                  # the CEL runtime is not there: nothing to check
        return []
    compile_ = getattr(cel, "_compile", None)
    rule_error = getattr(cel, "RuleError", None)
    if compile_ is None or rule_error is None:
        return []
    errs: list[FieldError] = []
    for i, rule in enumerate(_l(s.get("x-kubernetes-validations"))):
        rule = _d(rule)
        rpath = f"{path}.x-kubernetes-validations[{i}]"
        uses_old = False
        try:
            _, uses_old = compile_(_s(rule.get("rule")))
        except rule_error as exc:
            errs.append(errors.invalid(rpath + ".rule", _go_rule(rule), str(exc)))
        if _s(rule.get("messageExpression")):
            try:
                compile_(rule["messageExpression"])
            except rule_error as exc:
                errs.append(errors.invalid(rpath + ".messageExpression", _go_rule(rule),
                                           str(exc)))
        if uses_old and uncorrelatable is not None:
            errs.append(errors.invalid(rpath + ".rule", _s(rule.get("rule")),
                                       "oldSelf cannot be used on the uncorrelatable portion of "
                                       f"the schema within {uncorrelatable}"))
        elif not uses_old and rule.get("optionalOldSelf") is not None:
            errs.append(errors.invalid(rpath + ".optionalOldSelf", rule["optionalOldSelf"],
                                       "may not be set if oldSelf is not used in rule"))
    return errs


# ---------------------------------------------------------------- field paths into a schema

def _tokens(text: str) -> list[str]:
    """The JSON path split into '.', '[', ']' and what lies between them; a single-quoted
    string is one token."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "'":
            j = i + 1
            while j < len(text) and not (text[j] == "'" and text[j - 1] != "\\"):
                j += 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text[i] in ".[]":
            out.append(text[i])
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in ".[]":
                j += 1
            out.append(text[i:j])
            i = j
    return out


def field_path_schema(schema, text: str, *, arrays: bool = False) -> tuple[dict | None, str, str]:
    """(schema found, problem, normalised path) for ``.spec.size`` or, with ``arrays``,
    ``.spec['a.b']`` (upstream ``cel.ValidFieldPath``); the path's first step comes first."""
    node = schema if isinstance(schema, dict) else {}
    steps: list[str] = []
    tokens = _tokens(text)
    pos = 0

    def step(name: str) -> str:
        nonlocal node
        props = node.get("properties")
        if isinstance(props, dict) and props:
            if name not in props:
                return "does not refer to a valid field"
            node = _d(props[name])
        elif node.get("additionalProperties") is not None:
            node = _d(node.get("additionalProperties"))
        else:
            return "does not refer to a valid field"
        steps.append(name)
        return ""

    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if tok == "[":
            if not arrays:
                return None, "array notation is not allowed", text
            if pos >= len(tokens):
                return None, "unexpected end of JSON path", text
            tok = tokens[pos]
            pos += 1
            if len(tok) < 2 or tok[0] != "'" or tok[-1] != "'":
                return None, f"expected single quoted string but got {tok}", text
            if problem := step(tok[1:-1].replace("\\'", "'")):
                return None, problem, text
            if pos >= len(tokens):
                return None, "unexpected end of JSON path", text
            if tokens[pos] != "]":
                return None, f"expected ] but got {tokens[pos]}", text
            pos += 1
        elif tok == ".":
            if pos >= len(tokens):
                return None, "unexpected end of JSON path", text
            if problem := step(tokens[pos]):
                return None, problem, text
            pos += 1
        else:
            return None, f"expected [ or . but got: {tok}", text
    return node, "", ".".join(steps)
