"""Validation pieces every admissionregistration.k8s.io/v1 kind shares: rules with
operations, match resources, match conditions, label selectors, and Go renderings of the
values upstream prints in its messages.

Upstream: kubernetes/kubernetes:pkg/apis/admissionregistration/validation/validation.go
(``validateRule``, ``validateResources``, ``validateRuleWithOperations``,
``validateMatchResources``, ``validateNamedRuleWithOperations``, ``validateMatchConditions``)
and kubernetes/kubernetes:pkg/apis/admissionregistration/v1/defaults.go (``SetDefaults_Rule``,
``SetDefaults_MatchResources``).  CEL expressions (match conditions, validations, audit
annotations, variables) are checked for presence only: compiling them belongs to the
admission issue, which brings the CEL environment.
"""
from __future__ import annotations

import json

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.selectors import validate_label_selector
from apiserver.runtime.validation import GoText, go_strings, is_path_segment_name, is_qualified_name

FAILURE_POLICIES = ("Fail", "Ignore")            # sets.List() order, as upstream prints them
MATCH_POLICIES = ("Equivalent", "Exact")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
MAX_MATCH_CONDITIONS = 64


def go_typed(type_name: str, values) -> GoText:
    """Go ``%#v`` of a slice of a named string type: ``[]pkg.Type{"a", "b"}``."""
    return GoText(f"[]{type_name}{{" + ", ".join(json.dumps(v, ensure_ascii=False)
                                                 for v in values) + "}")


def strings_of(value) -> list:
    """A list field as given (non-lists read as empty, the schema reports their type)."""
    return list(value) if isinstance(value, list) else []


def obj_of(value) -> dict:
    return value if isinstance(value, dict) else {}


def too_many(path: str, actual: int, limit: int) -> FieldError:
    """``field.TooMany``: upstream prints the actual count before the detail."""
    unit = "item" if limit == 1 else "items"
    return FieldError("FieldValueTooMany", path, None, f"{actual}: must have at most {limit} {unit}",
                      has_value=False)


# ---------------------------------------------------------------- defaults

def default_rule(rule: dict) -> None:
    """``SetDefaults_Rule``: scope ``*``."""
    if isinstance(rule, dict) and rule.get("scope") is None:
        rule["scope"] = "*"


def default_match_resources(mr: dict) -> None:
    """``SetDefaults_MatchResources`` (+ ``SetDefaults_Rule`` for every rule inside)."""
    if not isinstance(mr, dict):
        return
    if mr.get("matchPolicy") is None:
        mr["matchPolicy"] = "Equivalent"
    for key in ("namespaceSelector", "objectSelector"):
        if mr.get(key) is None:
            mr[key] = {}
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in strings_of(mr.get(key)):
            default_rule(rule)


# ---------------------------------------------------------------- rules

def validate_resources(resources: list, path: str) -> list[FieldError]:
    """``validateResources``: resources with optional subresources and their wildcards."""
    errs: list[FieldError] = []
    if not resources:
        errs.append(errors.required(path))
    with_wildcard_sub: set = set()       # x/*
    sub_with_wildcard_res: set = set()   # */x
    double = single = plain = False
    for i, res_sub in enumerate(resources):
        if res_sub == "":
            errs.append(errors.required(f"{path}[{i}]"))
            continue
        double = double or res_sub == "*/*"
        single = single or res_sub == "*"
        if "/" not in res_sub:
            plain = res_sub != "*"        # upstream overwrites: the last plain entry decides
            continue
        res, sub = res_sub.split("/", 1)
        if res in with_wildcard_sub:
            errs.append(errors.invalid(f"{path}[{i}]", res_sub,
                                       f"if '{res}/*' is present, must not specify {res_sub}"))
        if sub in sub_with_wildcard_res:
            errs.append(errors.invalid(f"{path}[{i}]", res_sub,
                                       f"if '*/{sub}' is present, must not specify {res_sub}"))
        if sub == "*":
            with_wildcard_sub.add(res)
        if res == "*":
            sub_with_wildcard_res.add(sub)
    if len(resources) > 1 and double:
        errs.append(errors.invalid(path, go_strings(resources),
                                   "if '*/*' is present, must not specify other resources"))
    if single and plain:
        errs.append(errors.invalid(path, go_strings(resources), "if '*' is present, must not "
                                   "specify other resources without subresources"))
    return errs


def validate_rule(rule: dict, path: str) -> list[FieldError]:
    """``validateRule`` (subresources allowed, as every v1 caller passes)."""
    errs: list[FieldError] = []
    groups, versions = strings_of(rule.get("apiGroups")), strings_of(rule.get("apiVersions"))
    if not groups:
        errs.append(errors.required(path + ".apiGroups"))
    if len(groups) > 1 and "*" in groups:
        errs.append(errors.invalid(path + ".apiGroups", go_strings(groups),
                                   "if '*' is present, must not specify other API groups"))
    if not versions:
        errs.append(errors.required(path + ".apiVersions"))
    if len(versions) > 1 and "*" in versions:
        errs.append(errors.invalid(path + ".apiVersions", go_strings(versions),
                                   "if '*' is present, must not specify other API versions"))
    errs += [errors.required(f"{path}.apiVersions[{i}]") for i, v in enumerate(versions) if v == ""]
    errs += validate_resources(strings_of(rule.get("resources")), path + ".resources")
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(errors.not_supported(path + ".scope", scope, SCOPES))
    return errs


def validate_rule_with_operations(rule: dict, path: str) -> list[FieldError]:
    """``validateRuleWithOperations``."""
    errs: list[FieldError] = []
    ops = strings_of(rule.get("operations"))
    if not ops:
        errs.append(errors.required(path + ".operations"))
    if len(ops) > 1 and "*" in ops:
        errs.append(errors.invalid(path + ".operations",
                                   go_typed("admissionregistration.OperationType", ops),
                                   "if '*' is present, must not specify other operations"))
    errs += [errors.not_supported(f"{path}.operations[{i}]", op, OPERATIONS)
             for i, op in enumerate(ops) if op not in OPERATIONS]
    return errs + validate_rule(rule, path)


def validate_named_rule(rule: dict, path: str) -> list[FieldError]:
    """``validateNamedRuleWithOperations``: resourceNames are path segments, no duplicates."""
    errs: list[FieldError] = []
    seen: set = set()
    for i, name in enumerate(strings_of(rule.get("resourceNames"))):
        errs += [errors.invalid(f"{path}.resourceNames[{i}]", name, m)
                 for m in is_path_segment_name(name)]
        if name in seen:
            errs.append(errors.duplicate(f"{path}.resourceNames[{i}]", name))
        seen.add(name)
    return errs + validate_rule_with_operations(rule, path)


# ---------------------------------------------------------------- selectors, match resources

def validate_selector(selector, path: str, *, allow_invalid_values: bool = False) -> list[FieldError]:
    """``metav1validation.ValidateLabelSelector``; ``allow_invalid_values`` is upstream's
    ``AllowInvalidLabelValueInSelector`` ratchet (values of stored objects stay accepted)."""
    errs = validate_label_selector(obj_of(selector), path)
    if allow_invalid_values:
        errs = [e for e in errs if ".values[" not in e.field]
    return errs


def validate_match_resources(mr: dict | None, path: str) -> list[FieldError]:
    """``validateMatchResources`` (nil is valid: callers decide whether it is required)."""
    if mr is None:
        return []
    mr = obj_of(mr)
    errs: list[FieldError] = []
    policy = mr.get("matchPolicy")
    if policy is None:
        errs.append(errors.required(path + ".matchPolicy"))
    elif policy not in MATCH_POLICIES:
        errs.append(errors.not_supported(path + ".matchPolicy", policy, MATCH_POLICIES))
    for key in ("namespaceSelector", "objectSelector"):
        if mr.get(key) is None:
            errs.append(errors.required(f"{path}.{key}"))
        else:
            errs += validate_selector(mr[key], f"{path}.{key}")
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(strings_of(mr.get(key))):
            errs += validate_named_rule(obj_of(rule), f"{path}.{key}[{i}]")
    return errs


# ---------------------------------------------------------------- match conditions

def validate_match_conditions(conditions, path: str) -> list[FieldError]:
    """``validateMatchConditions``: at most 64, unique qualified names, an expression each
    (its CEL is not compiled here)."""
    conditions = strings_of(conditions)
    errs: list[FieldError] = []
    if len(conditions) > MAX_MATCH_CONDITIONS:
        errs.append(too_many(path, len(conditions), MAX_MATCH_CONDITIONS))
    names: set = set()
    for i, cond in enumerate(conditions):
        cond = obj_of(cond)
        p = f"{path}[{i}]"
        if not str(cond.get("expression") or "").strip():
            errs.append(errors.required(p + ".expression"))
        name = cond.get("name") or ""
        if not name:
            errs.append(errors.required(p + ".name"))
        else:
            errs += [errors.invalid(p + ".name", name, m) for m in is_qualified_name(name)]
            if name in names:
                errs.append(errors.duplicate(p + ".name", name))
            names.add(name)
    return errs


# ---------------------------------------------------------------- printing

def go_label_selector(selector: dict) -> str:
    """The Go ``String()`` of a ``metav1.LabelSelector`` (what upstream's printers show for
    a selector): ``&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]…}``."""
    labels = obj_of(selector.get("matchLabels"))
    exprs = "".join(
        "LabelSelectorRequirement{Key:%s,Operator:%s,Values:[%s],}," % (
            obj_of(e).get("key", ""), obj_of(e).get("operator", ""),
            " ".join(str(v) for v in strings_of(obj_of(e).get("values"))))
        for e in strings_of(selector.get("matchExpressions")))
    pairs = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")
