"""flowcontrol.apiserver.k8s.io/v1 FlowSchema (cluster-scoped, /status).

Upstream: kubernetes/kubernetes:pkg/apis/flowcontrol/v1/defaults.go
(``SetDefaults_FlowSchemaSpec``: matchingPrecedence 1000), kubernetes/kubernetes:pkg/apis/
flowcontrol/validation/validation.go (``ValidateFlowSchema``, ``ValidateFlowSchemaSpec``,
the subject and policy-rule checks, the fixed specs of the mandatory ``exempt`` and
``catch-all`` schemas, ``ValidateFlowSchemaStatus``), kubernetes/kubernetes:pkg/registry/
flowcontrol/flowschema/strategy.go (status reset and generation 1 on create, bumped on spec
changes, status written through /status only) and ``printFlowSchema``.  Nothing here
classifies requests: the schemas are stored and validated.
"""
from __future__ import annotations

import copy
import json

from apiserver.registry.printers import age
from apiserver.registry.strategy import STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import GoText, go_strings, is_dns1123_label, is_dns1123_subdomain
from resources.core.columns import column

from .bootstrap import mandatory_spec
from .common import obj_of, semantic, strings_of, validate_status_conditions

MAX_PRECEDENCE = 10000
DEFAULT_PRECEDENCE = 1000
DISTINGUISHER_METHODS = ("ByNamespace", "ByUser")
SUBJECT_KINDS = ("Group", "ServiceAccount", "User")
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch")
NS_INTRO = "each member of this list must be '*' or a DNS-1123 label; "
_V1 = "io.k8s.api.flowcontrol.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class FlowSchemaStrategy(Strategy):
    group = "flowcontrol.apiserver.k8s.io"
    kind = "FlowSchema"
    plural = "flowschemas"
    namespaced = False
    subresources = (STATUS,)
    schema_name = _V1 + "FlowSchema"
    tracks_generation = True
    columns = (
        column("Name", _META, "name", format="name"),
        column("PriorityLevel", _V1 + "PriorityLevelConfigurationReference", "name"),
        column("MatchingPrecedence", _V1 + "FlowSchemaSpec", "matchingPrecedence"),
        column("DistinguisherMethod", _V1 + "FlowSchemaSpec", "distinguisherMethod"),
        column("Age", _META, "creationTimestamp"),
        column("MissingPL", description="references a broken or non-existent "
               "PriorityLevelConfiguration"),
    )

    def default(self, obj):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            default_flow_schema_spec(spec)

    def validate(self, ctx, obj):
        return validate_flow_schema(obj)

    def validate_update(self, ctx, new, old):
        return validate_flow_schema(new)          # upstream: the same checks as create

    def validate_status_update(self, ctx, new, old):
        return validate_status_conditions(obj_of(new.get("status")), "status")

    def table_row(self, obj):
        spec = obj_of(obj.get("spec"))
        method = spec.get("distinguisherMethod")
        missing = next((str(c.get("status", "")) for c in strings_of(obj_of(obj.get("status")).get(
            "conditions")) if isinstance(c, dict) and c.get("type") == "Dangling"), "?")
        return [obj["metadata"].get("name", ""),
                obj_of(spec.get("priorityLevelConfiguration")).get("name", ""),
                spec.get("matchingPrecedence", 0),
                obj_of(method).get("type", "") if method is not None else "<none>",
                age(obj), missing]


def default_flow_schema_spec(spec: dict) -> None:
    """``SetDefaults_FlowSchemaSpec``: an unset (zero) precedence becomes 1000."""
    if not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = DEFAULT_PRECEDENCE


def validate_flow_schema(obj: dict) -> list[FieldError]:
    """``ValidateFlowSchema`` after ObjectMeta: spec, the mandatory fixed specs, status."""
    name = obj_of(obj.get("metadata")).get("name") or ""
    spec = obj_of(obj.get("spec"))
    errs = validate_flow_schema_spec(name, spec, "spec")
    fixed = mandatory_spec("flowschemas", name)
    if fixed is not None:
        want = copy.deepcopy(fixed)
        default_flow_schema_spec(want)
        if not semantic(spec, want):
            errs.append(errors.invalid("spec", GoText(json.dumps(spec, sort_keys=True)),
                                       f"spec of '{name}' must equal the fixed value"))
    return errs + validate_status_conditions(obj_of(obj.get("status")), "status")


def validate_flow_schema_spec(name: str, spec: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    precedence = spec.get("matchingPrecedence", 0)
    if isinstance(precedence, int):
        if precedence <= 0:
            errs.append(errors.invalid(path + ".matchingPrecedence", precedence, "must be a positive value"))
        if precedence > MAX_PRECEDENCE:
            errs.append(errors.invalid(path + ".matchingPrecedence", precedence,
                                       f"must not be greater than {MAX_PRECEDENCE}"))
        if precedence == 1 and name != "exempt":
            errs.append(errors.invalid(path + ".matchingPrecedence", precedence,
                                       "only the schema named 'exempt' may have matchingPrecedence 1"))
    method = spec.get("distinguisherMethod")
    if method is not None:
        mtype = obj_of(method).get("type") or ""
        if mtype not in DISTINGUISHER_METHODS:
            # upstream prints the whole struct: flowcontrol.FlowDistinguisherMethod{Type:"…"}
            errs.append(errors.not_supported(
                path + ".distinguisherMethod.type",
                GoText(f"flowcontrol.FlowDistinguisherMethod{{Type:{json.dumps(mtype)}}}"),
                DISTINGUISHER_METHODS))
    level = obj_of(spec.get("priorityLevelConfiguration")).get("name") or ""
    level_path = path + ".priorityLevelConfiguration.name"
    if level:
        errs += [errors.invalid(level_path, level, m) for m in is_dns1123_subdomain(level)]
    else:
        errs.append(errors.required(level_path, "must reference a priority level"))
    for i, rule in enumerate(strings_of(spec.get("rules"))):
        errs += validate_rule(obj_of(rule), f"{path}.rules[{i}]")
    return errs


def validate_rule(rule: dict, path: str) -> list[FieldError]:
    """``ValidateFlowSchemaPolicyRulesWithSubjects``."""
    errs: list[FieldError] = []
    subjects = strings_of(rule.get("subjects"))
    if not subjects:
        errs.append(errors.required(path + ".subjects", "subjects must contain at least one value"))
    for i, subject in enumerate(subjects):
        errs += validate_subject(obj_of(subject), f"{path}.subjects[{i}]")
    resource_rules = strings_of(rule.get("resourceRules"))
    non_resource_rules = strings_of(rule.get("nonResourceRules"))
    if not resource_rules and not non_resource_rules:
        errs.append(errors.required(path, "at least one of resourceRules and nonResourceRules has "
                                          "to be non-empty"))
    for i, r in enumerate(resource_rules):
        errs += validate_resource_rule(obj_of(r), f"{path}.resourceRules[{i}]")
    for i, r in enumerate(non_resource_rules):
        errs += validate_non_resource_rule(obj_of(r), f"{path}.nonResourceRules[{i}]")
    return errs


_FORBIDDEN_EXTRA = {"user": "user is forbidden when subject kind is not 'User'",
                    "group": "group is forbidden when subject kind is not 'Group'",
                    "serviceAccount": "serviceAccount is forbidden when subject kind is not "
                                      "'ServiceAccount'"}
_OWN_FIELD = {"ServiceAccount": "serviceAccount", "User": "user", "Group": "group"}


def validate_subject(subject: dict, path: str) -> list[FieldError]:
    """``ValidateFlowSchemaSubject``: the member the kind names, and no other."""
    kind = subject.get("kind") or ""
    own = _OWN_FIELD.get(kind)
    if own is None:
        return [errors.not_supported(path + ".kind", kind, SUBJECT_KINDS)]
    member, p = subject.get(own), f"{path}.{own}"
    errs: list[FieldError] = []
    if member is None:
        errs.append(errors.required(p, f"{own} is required when subject kind is '{kind}'"))
    else:
        member = obj_of(member)
        name = member.get("name") or ""
        if not name:
            errs.append(errors.required(p + ".name"))
        elif kind == "ServiceAccount" and name != "*":
            errs += [errors.invalid(p + ".name", name, m) for m in is_dns1123_subdomain(name)]
        if kind == "ServiceAccount":
            namespace = member.get("namespace") or ""
            if namespace:
                errs += [errors.invalid(p + ".namespace", namespace, m) for m in is_dns1123_label(namespace)]
            else:
                errs.append(errors.required(p + ".namespace", "must specify namespace for service account"))
    for other in ("serviceAccount", "user", "group"):
        if other != own and subject.get(other) is not None:
            errs.append(errors.forbidden(f"{path}.{other}", _FORBIDDEN_EXTRA[other]))
    return errs


def _validate_verbs(verbs: list, path: str) -> list[FieldError]:
    if not verbs:
        return [errors.required(path, "verbs must contain at least one value")]
    if "*" in verbs:
        return ([errors.invalid(path, go_strings(verbs), "if '*' is present, must not specify other verbs")]
                if len(verbs) > 1 else [])
    if not set(verbs) <= set(VERBS):
        return [errors.not_supported(path, go_strings(verbs), VERBS)]
    return []


def validate_resource_rule(rule: dict, path: str) -> list[FieldError]:
    """``ValidateFlowSchemaResourcePolicyRule``."""
    errs = _validate_verbs(strings_of(rule.get("verbs")), path + ".verbs")
    for key, what in (("apiGroups", "api group"), ("resources", "resource")):
        values = strings_of(rule.get(key))
        if not values:
            errs.append(errors.required(f"{path}.{key}", f"resource rules must supply at least one {what}"))
        elif len(values) > 1 and "*" in values:
            errs.append(errors.invalid(f"{path}.{key}", go_strings(values),
                                       f"if '*' is present, must not specify other {what}s"))
    namespaces = strings_of(rule.get("namespaces"))
    if not namespaces and not rule.get("clusterScope"):
        errs.append(errors.required(path + ".namespaces", "resource rules that are not cluster "
                                    "scoped must supply at least one namespace"))
    elif "*" in namespaces:
        if len(namespaces) > 1:
            errs.append(errors.invalid(path + ".namespaces", go_strings(namespaces),
                                       "if '*' is present, must not specify other namespaces"))
    else:
        for i, ns in enumerate(namespaces):
            errs += [errors.invalid(f"{path}.namespaces[{i}]", ns, NS_INTRO + m)
                     for m in is_dns1123_label(str(ns))]
    return errs


def validate_non_resource_rule(rule: dict, path: str) -> list[FieldError]:
    """``ValidateFlowSchemaNonResourcePolicyRule``."""
    errs = _validate_verbs(strings_of(rule.get("verbs")), path + ".verbs")
    urls = strings_of(rule.get("nonResourceURLs"))
    if not urls:
        errs.append(errors.required(path + ".nonResourceURLs",
                                    "nonResourceURLs must contain at least one value"))
    elif "*" in urls:
        if len(urls) > 1:
            errs.append(errors.invalid(path + ".nonResourceURLs", go_strings(urls),
                                       "if '*' is present, must not specify other non-resource URLs"))
    else:
        for i, url in enumerate(urls):
            problem = non_resource_url_problem(str(url))
            if problem:
                errs.append(errors.invalid(f"{path}.nonResourceURLs[{i}]", url, problem))
    return errs


def non_resource_url_problem(url: str) -> str:
    """``ValidateNonResourceURLPath``: "" when fine, else the reason."""
    if not url:
        return "must not be empty"
    if url == "/":
        return ""
    if not url.startswith("/"):
        return "must start with slash"
    if " " in url:
        return "must not contain white-space"
    if "//" in url:
        return "must not contain double slash"
    stars = url.count("*")
    if stars > 1 or (stars == 1 and not url.endswith("/*")):
        return "wildcard can only do suffix matching"
    return ""
