"""What the four RBAC kinds share: defaults, validation and table columns.

Upstream: ``pkg/apis/rbac/validation/validation.go`` (messages and field paths),
``pkg/apis/rbac/v1/defaults.go`` (roleRef and subject ``apiGroup`` defaults) and
``pkg/printers/internalversion/printers.go`` (``printRole``, ``printRoleBinding``).
Role and binding names follow upstream's "minimal" rule: any path-segment-safe name
(``system:controller:foo`` is valid).
"""
from __future__ import annotations

from apiserver.openapi import definitions
from apiserver.registry.printers import age
from apiserver.registry.strategy import Column
from apiserver.runtime import errors
from apiserver.runtime.selectors import validate_label_selector
from apiserver.runtime.validation import GoText, go_strings, is_dns1123_subdomain, \
    is_path_segment_name

GROUP = "rbac.authorization.k8s.io"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


# ---- columns -------------------------------------------------------------------------------
def _doc(definition: str, field: str) -> str:
    node = (definitions.get(definition) or {}).get("properties", {}).get(field) or {}
    return node.get("description", "")


NAME = Column("Name", "string", "name", _doc(_META, "name"))
CREATED_AT = Column("Created At", "date", "", _doc(_META, "creationTimestamp"))
ROLE_COLUMNS = (NAME, CREATED_AT)
BINDING_COLUMNS = (
    NAME,
    Column("Role", "string", "", _doc("io.k8s.api.rbac.v1.RoleBinding", "roleRef")),
    Column("Age", "string", "", _doc(_META, "creationTimestamp")),
    Column("Users", "string", "", "Users in the roleBinding", priority=1),
    Column("Groups", "string", "", "Groups in the roleBinding", priority=1),
    Column("ServiceAccounts", "string", "", "ServiceAccounts in the roleBinding", priority=1),
)


def role_row(obj: dict) -> list:
    """NAME, CREATED AT (an RFC 3339 time, not an age)."""
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), meta.get("creationTimestamp") or ""]


def binding_row(obj: dict) -> list:
    """NAME, ROLE (``Kind/name``), AGE and the wide USERS, GROUPS, SERVICEACCOUNTS
    (``namespace/name``), each comma-joined."""
    ref = _mapping(obj.get("roleRef"))
    users, groups, sas = [], [], []
    for s in _list(obj.get("subjects")):
        s = _mapping(s)
        kind, name = s.get("kind"), s.get("name", "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{name}")
    return [(obj.get("metadata") or {}).get("name", ""),
            f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


# ---- defaults ------------------------------------------------------------------------------
def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def default_binding(obj: dict) -> None:
    """``SetDefaults_RoleBinding``/``ClusterRoleBinding`` and ``SetDefaults_Subject``."""
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in _list(obj.get("subjects")):
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP
            else:       # a ServiceAccount's group is "" (omitempty: not serialised)
                subject.pop("apiGroup", None)


# ---- validation ----------------------------------------------------------------------------
def validate_rules(rules, *, namespaced: bool) -> list:
    """``validatePolicyRule`` for each of ``rules``."""
    errs = []
    for i, rule in enumerate(_list(rules)):
        rule, path = _mapping(rule), f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(errors.required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errs.append(errors.invalid(f"{path}.nonResourceURLs", go_strings(urls),
                                           "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(errors.invalid(f"{path}.nonResourceURLs", go_strings(urls),
                                           "rules cannot apply to both regular resources and "
                                           "non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(errors.required(f"{path}.apiGroups",
                                        "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(errors.required(f"{path}.resources",
                                        "resource rules must supply at least one resource"))
        if rule.get("resourceNames") and len(rule.get("resources") or []) > 1:
            errs.append(errors.required(f"{path}.resourceNames",
                                        "resource names cannot apply to multiple resources"))
    return errs


def validate_aggregation_rule(rule) -> list:
    """A ClusterRole's ``aggregationRule`` needs at least one valid selector."""
    if rule is None:
        return []
    selectors = _list(_mapping(rule).get("clusterRoleSelectors"))
    if not selectors:
        return [errors.required("aggregationRule.clusterRoleSelectors",
                                "at least one clusterRoleSelector required if aggregationRule "
                                "is non-nil")]
    errs = []
    for i, selector in enumerate(selectors):
        errs += validate_label_selector(_mapping(selector),
                                        f"aggregationRule.clusterRoleSelectors[{i}]")
    return errs


def validate_binding(obj: dict, *, namespaced: bool) -> list:
    """``ValidateRoleBinding`` (``namespaced``) or ``ValidateClusterRoleBinding``."""
    errs = []
    ref = _mapping(obj.get("roleRef"))
    if ref.get("apiGroup", "") != GROUP:
        errs.append(errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind", "") not in kinds:
        errs.append(errors.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        errs.append(errors.required("roleRef.name"))
    else:
        errs += [errors.invalid("roleRef.name", ref["name"], msg)
                 for msg in is_path_segment_name(ref["name"])]
    for i, subject in enumerate(_list(obj.get("subjects"))):
        errs += _validate_subject(_mapping(subject), namespaced, f"subjects[{i}]")
    return errs


def _validate_subject(subject: dict, namespaced: bool, path: str) -> list:
    errs = []
    name, kind, group = subject.get("name", ""), subject.get("kind", ""), subject.get("apiGroup", "")
    if not name:
        errs.append(errors.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            errs += [errors.invalid(f"{path}.name", name, msg) for msg in is_dns1123_subdomain(name)]
        if group:
            errs.append(errors.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(errors.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if not name:
            errs.append(errors.invalid(f"{path}.name", name,
                                       f"{kind.lower()} name cannot be empty"))
        if group != GROUP:
            errs.append(errors.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(errors.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def validate_role_ref_unchanged(new: dict, old: dict) -> list:
    """``roleRef`` is immutable: changing it means delete and re-create."""
    new_ref, old_ref = _mapping(new.get("roleRef")), _mapping(old.get("roleRef"))
    keys = ("apiGroup", "kind", "name")
    if all(new_ref.get(k, "") == old_ref.get(k, "") for k in keys):
        return []
    shown = GoText("rbac.RoleRef{" + ", ".join(
        f'{k[0].upper() + k[1:]}:"{new_ref.get(k, "")}"'.replace("ApiGroup", "APIGroup")
        for k in keys) + "}")
    return [errors.invalid("roleRef", shown, "cannot change roleRef")]
