"""admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (cluster-scoped, /status).

Upstream: kubernetes/kubernetes:pkg/apis/admissionregistration/v1/defaults.go
(``SetDefaults_ValidatingAdmissionPolicySpec``: failurePolicy Fail; ``SetDefaults_MatchResources``),
kubernetes/kubernetes:pkg/apis/admissionregistration/validation/validation.go
(``validateValidatingAdmissionPolicySpec``, ``validateParamKind``, ``validateValidation``,
``validateAuditAnnotation``, ``validateVariable``, ``validateValidatingAdmissionPolicyStatus``),
kubernetes/kubernetes:pkg/registry/admissionregistration/validatingadmissionpolicy/strategy.go
(status reset and generation 1 on create, bumped on spec changes, status written through
/status only) and ``printValidatingAdmissionPolicy``.

CEL expressions are required to be present but are not compiled or type-checked here:
that needs the CEL environment the admission issue brings (upstream compiles them in
validation and fills ``status.typeChecking``).  Upstream's check that the creator may read
the ``paramKind`` resource (``authorizeCreate``) is not done either.
"""
from __future__ import annotations

import json
import re

from apiserver.registry.printers import age
from apiserver.registry.strategy import STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import (GoText, is_dns1035_label, is_dns1123_subdomain,
                                          is_qualified_name, regex_error)
from resources.core.columns import column

from .rules import (FAILURE_POLICIES, default_match_resources, obj_of, strings_of,
                    validate_match_conditions, validate_match_resources)

MAX_AUDIT_ANNOTATIONS = 20
MAX_VALUE_EXPRESSION = 5 * 1024
REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge")
CONDITION_STATUSES = ("False", "True", "Unknown")
_CEL_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_CEL_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue",
                           "else", "for", "function", "if", "import", "let", "loop", "package",
                           "namespace", "return", "var", "void", "while"})
_REASON_FMT = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class ValidatingAdmissionPolicyStrategy(Strategy):
    group = "admissionregistration.k8s.io"
    kind = "ValidatingAdmissionPolicy"
    plural = "validatingadmissionpolicies"
    namespaced = False
    categories = ("api-extensions",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy"
    tracks_generation = True
    allow_unconditional_update = False
    columns = (
        column("Name", _META, "name", format="name"),
        column("Validations", type="integer", description="Validations indicates the number of "
               "validation rules defined in this configuration"),
        column("ParamKind", description="ParamKind specifies the kind of resources used to "
               "parameterize this policy"),
        column("Age", _META, "creationTimestamp"),
    )

    def default(self, obj):
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if spec.get("failurePolicy") is None:
            spec["failurePolicy"] = "Fail"
        default_match_resources(spec.get("matchConstraints"))

    def validate(self, ctx, obj):
        return validate_policy_spec(obj, ignore_match_conditions=False)

    def validate_update(self, ctx, new, old):
        # upstream skips match conditions that (with the paramKind) did not change
        spec, old_spec = obj_of(new.get("spec")), obj_of(old.get("spec"))
        same = all(spec.get(k) == old_spec.get(k) for k in ("paramKind", "matchConditions"))
        return validate_policy_spec(new, ignore_match_conditions=same)

    def validate_status_update(self, ctx, new, old):
        return validate_policy_status(obj_of(new.get("status")), "status")

    def table_row(self, obj):
        spec = obj_of(obj.get("spec"))
        param = spec.get("paramKind")
        kind = (f"{obj_of(param).get('apiVersion', '')}/{obj_of(param).get('kind', '')}"
                if param is not None else "<unset>")
        return [obj["metadata"].get("name", ""), len(strings_of(spec.get("validations"))), kind,
                age(obj)]


# ---------------------------------------------------------------- spec

def validate_policy_spec(obj: dict, *, ignore_match_conditions: bool) -> list[FieldError]:
    """``validateValidatingAdmissionPolicySpec``."""
    spec, path = obj_of(obj.get("spec")), "spec"
    name = obj_of(obj.get("metadata")).get("name") or ""
    errs: list[FieldError] = []
    policy = spec.get("failurePolicy")
    if policy is None:
        errs.append(errors.required(path + ".failurePolicy"))
    elif policy not in FAILURE_POLICIES:
        errs.append(errors.not_supported(path + ".failurePolicy", policy, FAILURE_POLICIES))
    if spec.get("paramKind") is not None:
        errs += validate_param_kind(obj_of(spec["paramKind"]), path + ".paramKind")
    constraints = spec.get("matchConstraints")
    if constraints is None:
        errs.append(errors.required(path + ".matchConstraints"))
    else:
        errs += validate_match_resources(constraints, path + ".matchConstraints")
        # at least one resourceRule must be defined to provide type information
        if not strings_of(obj_of(constraints).get("resourceRules")):
            errs.append(errors.required(path + ".matchConstraints.resourceRules"))
    if not ignore_match_conditions:
        errs += validate_match_conditions(spec.get("matchConditions"), path + ".matchConditions")
    for i, variable in enumerate(strings_of(spec.get("variables"))):
        errs += validate_variable(obj_of(variable), f"{path}.variables[{i}]")
    validations, audits = strings_of(spec.get("validations")), strings_of(spec.get("auditAnnotations"))
    if not validations and not audits:
        msg = "validations or auditAnnotations must contain at least one item"
        return errs + [errors.required(path + ".validations", msg),
                       errors.required(path + ".auditAnnotations", msg)]
    for i, validation in enumerate(validations):
        errs += validate_validation(obj_of(validation), f"{path}.validations[{i}]")
    if len(audits) > MAX_AUDIT_ANNOTATIONS:
        errs.append(errors.invalid(path + ".auditAnnotations", _go_audit_annotations(audits),
                                   f"must not have more than {MAX_AUDIT_ANNOTATIONS} auditAnnotations"))
    keys: set = set()
    for i, audit in enumerate(audits):
        audit, p = obj_of(audit), f"{path}.auditAnnotations[{i}]"
        errs += validate_audit_annotation(name, audit, p)
        key = audit.get("key") or ""
        if key in keys:
            errs.append(errors.duplicate(p + ".key", key))
        keys.add(key)
    return errs


def validate_param_kind(gvk: dict, path: str) -> list[FieldError]:
    """``validateParamKind``: apiVersion ``[group/]version`` and a kind, DNS-style."""
    errs: list[FieldError] = []
    api_version, kind = str(gvk.get("apiVersion") or ""), str(gvk.get("kind") or "")
    if not api_version:
        errs.append(errors.required(path + ".apiVersion"))
    elif api_version.count("/") > 1:
        errs.append(errors.invalid(path + ".apiVersion", api_version,
                                   f"unexpected GroupVersion string: {api_version}"))
    else:
        group, _, version = api_version.rpartition("/")
        if group:
            msgs = is_dns1123_subdomain(group)
            if msgs:
                errs.append(errors.invalid(path + ".apiVersion", group, ",".join(msgs)))
        if not version:
            errs.append(errors.invalid(path + ".apiVersion", api_version, "version must be specified"))
        else:
            msgs = is_dns1035_label(version)
            if msgs:
                errs.append(errors.invalid(path + ".apiVersion", version, ",".join(msgs)))
    if not kind:
        errs.append(errors.required(path + ".kind"))
    else:
        msgs = is_dns1035_label(kind.lower())
        if msgs:
            errs.append(errors.invalid(path + ".kind", kind, "may have mixed case, but should "
                                       "otherwise match: " + ",".join(msgs)))
    return errs


def validate_variable(v: dict, path: str) -> list[FieldError]:
    """``validateVariable`` without compiling the expression."""
    errs: list[FieldError] = []
    name = str(v.get("name") or "")
    if not name.strip():
        errs.append(errors.required(path + ".name", "name is not specified"))
    elif not _CEL_IDENT.fullmatch(name) or name in _CEL_RESERVED:
        errs.append(errors.invalid(path + ".name", name, "name is not a valid CEL identifier"))
    if not str(v.get("expression") or "").strip():
        errs.append(errors.required(path + ".expression", "expression is not specified"))
    return errs


def validate_validation(v: dict, path: str) -> list[FieldError]:
    """``validateValidation`` without compiling expression / messageExpression."""
    errs: list[FieldError] = []
    if not str(v.get("expression") or "").strip():
        errs.append(errors.required(path + ".expression", "expression is not specified"))
    message_expr = str(v.get("messageExpression") or "")
    if message_expr and not message_expr.strip():
        errs.append(errors.invalid(path + ".messageExpression", message_expr,
                                   "must be non-empty if specified"))
    message = str(v.get("message") or "")
    if message and not message.strip():
        errs.append(errors.invalid(path + ".message", message, "message must be non-empty if specified"))
    elif re.search(r"[\n\r]", message.strip()):
        errs.append(errors.invalid(path + ".message", message, "message must not contain line breaks"))
    reason = v.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(errors.not_supported(path + ".reason", reason, REASONS))
    return errs


def validate_audit_annotation(policy_name: str, a: dict, path: str) -> list[FieldError]:
    """``validateAuditAnnotation``: ``<policy name>/<key>`` is a qualified name; the value
    expression is present and at most 5 KiB (not compiled)."""
    errs: list[FieldError] = []
    key = str(a.get("key") or "")
    if policy_name:
        full = f"{policy_name}/{key}"
        errs += [errors.invalid(path + ".key", full, m) for m in is_qualified_name(full)]
    else:
        errs.append(errors.invalid(path + ".key", key, "requires metadata.name be non-empty"))
    value = str(a.get("valueExpression") or "").strip()
    if not value:
        errs.append(errors.required(path + ".valueExpression", "valueExpression is not specified"))
    elif len(value.encode()) > MAX_VALUE_EXPRESSION:
        errs.append(errors.required(path + ".valueExpression",
                                    f"must not exceed {MAX_VALUE_EXPRESSION} bytes in length"))
    return errs


def _go_audit_annotations(audits: list) -> GoText:
    items = ", ".join(
        "admissionregistration.AuditAnnotation{Key:%s, ValueExpression:%s}" % (
            json.dumps(str(obj_of(a).get("key") or "")),
            json.dumps(str(obj_of(a).get("valueExpression") or "")))
        for a in audits)
    return GoText("[]admissionregistration.AuditAnnotation{" + items + "}")


# ---------------------------------------------------------------- status

def validate_policy_status(status: dict, path: str) -> list[FieldError]:
    """``validateValidatingAdmissionPolicyStatus``: expression warnings and conditions."""
    errs: list[FieldError] = []
    checking = status.get("typeChecking")
    if checking is not None:
        for i, warning in enumerate(strings_of(obj_of(checking).get("expressionWarnings"))):
            warning, p = obj_of(warning), f"{path}.typeChecking.expressionWarnings[{i}]"
            if not warning.get("warning"):
                errs.append(errors.required(p + ".warning"))
            if not str(warning.get("fieldRef") or "").strip():
                errs.append(errors.required(p + ".fieldRef"))
    return errs + validate_conditions(strings_of(status.get("conditions")), path + ".conditions")


def validate_conditions(conditions: list, path: str) -> list[FieldError]:
    """kubernetes/apimachinery:pkg/apis/meta/v1/validation ``ValidateConditions`` for
    ``metav1.Condition`` lists: unique qualified types, status enum, reason, time set."""
    errs: list[FieldError] = []
    seen: set = set()
    for i, cond in enumerate(conditions):
        cond, p = obj_of(cond), f"{path}[{i}]"
        ctype = str(cond.get("type") or "")
        if ctype in seen:
            errs.append(errors.duplicate(p + ".type", ctype))
        seen.add(ctype)
        errs += [errors.invalid(p + ".type", ctype, m) for m in is_qualified_name(ctype)]
        status = cond.get("status") or ""
        if status not in CONDITION_STATUSES:
            errs.append(errors.not_supported(p + ".status", status, CONDITION_STATUSES))
        generation = cond.get("observedGeneration")
        if isinstance(generation, int) and generation < 0:
            errs.append(errors.invalid(p + ".observedGeneration", generation,
                                       "must be greater than or equal to zero"))
        if not cond.get("lastTransitionTime"):
            errs.append(errors.required(p + ".lastTransitionTime", "must be set"))
        reason = str(cond.get("reason") or "")
        if not reason:
            errs.append(errors.required(p + ".reason", "must be set"))
        else:
            if not re.fullmatch(_REASON_FMT, reason):
                errs.append(errors.invalid(p + ".reason", reason, regex_error(
                    "a condition reason must start with alphabetic character, optionally followed "
                    "by a string of alphanumeric characters or '_,:', and must end with an "
                    "alphanumeric character or '_'", _REASON_FMT, "my_name", "MY_NAME", "MyName",
                    "ReasonA,ReasonB", "ReasonA:ReasonB")))
            if len(reason) > 1024:
                errs.append(errors.too_long(p + ".reason", reason, 1024))
        if len(str(cond.get("message") or "")) > 32 * 1024:
            errs.append(errors.too_long(p + ".message", "", 32 * 1024))
    return errs
