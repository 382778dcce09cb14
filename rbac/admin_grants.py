"""Who can do what, from the live RBAC rows, with the bindings that grant it: the admin's
"who can" page and its JSON API.

* "Who can VERB RESOURCE in NAMESPACE?" is upstream's ``SubjectAccessEvaluator.
  AllowedSubjects`` (kubernetes/kubernetes:plugin/pkg/auth/authorizer/rbac/
  subject_locator.go): the subjects of every ClusterRoleBinding, and of every RoleBinding in
  the namespace, whose role has a rule allowing the request — plus the system:masters group,
  which is always allowed.
* "What can SUBJECT do?" walks the bindings that apply to the subject as upstream's rule
  resolution does (``VisitRulesFor`` and ``appliesTo`` in pkg/registry/rbac/validation/rule.go:
  a ServiceAccount subject without a namespace means the binding's own).
* Rules and subjects are matched by the authorizer's own code (``rbac.rules.rule_allows``,
  ``rbac.index.applies_to``), over the rows.

This reads the database: it serves an admin page.  The authorizer itself never does.
"""
from __future__ import annotations

from dataclasses import dataclass

from apiserver.authentication.user import UserInfo
from apiserver.authorization.base import AuthorizationAttributes

from . import models
from .index import SA_PREFIX, applies_to
from .rules import Rule, rule_allows

MASTERS = "system:masters"


def rule_of(row) -> Rule:
    """A PolicyRule row as the authorizer's :class:`~rbac.rules.Rule`."""
    return Rule.from_dict({"verbs": row.verbs, "apiGroups": row.api_groups,
                           "resources": row.resources, "resourceNames": row.resource_names,
                           "nonResourceURLs": row.non_resource_urls})


def identity_of(kind: str, name: str, namespace: str = "", groups=()) -> UserInfo:
    """The user a subject stands for: a User (in ``groups`` and system:authenticated), a
    ServiceAccount (in its upstream groups), or a Group (anyone in it)."""
    if kind == "ServiceAccount":
        return UserInfo(f"{SA_PREFIX}{namespace}:{name}", groups=(
            "system:serviceaccounts", f"system:serviceaccounts:{namespace}",
            "system:authenticated"))
    if kind == "Group":
        return UserInfo("", groups=(name,))
    return UserInfo(name, groups=tuple(groups) + ("system:authenticated",))


@dataclass(frozen=True)
class Grant:
    """One answer: ``binding`` grants ``role``'s ``rule`` (to ``subject``)."""

    binding: object
    role: object | None
    rule: object
    subject: object | None = None

    @property
    def namespace(self) -> str:
        """Where the grant holds: the RoleBinding's namespace, "" for everywhere."""
        return getattr(self.binding, "namespace", "")


class Snapshot:
    """Every binding and role with their rows, read once per page or API call."""

    def __init__(self):
        self.roles = {(r.namespace, r.name): r
                      for r in models.Role.objects.prefetch_related("rules")}
        self.cluster_roles = {r.name: r for r in
                              models.ClusterRole.objects.prefetch_related("rules")}
        self.cluster_role_bindings = list(
            models.ClusterRoleBinding.objects.prefetch_related("subjects"))
        self.role_bindings = list(models.RoleBinding.objects.prefetch_related("subjects"))

    def role_of(self, binding):
        """The role a binding refers to, or None when it does not exist (upstream's
        ``GetRoleReferenceRules``: a Role in the binding's namespace, or a ClusterRole)."""
        namespace = getattr(binding, "namespace", "")
        if binding.role_ref_kind == "Role" and namespace:
            return self.roles.get((namespace, binding.role_ref_name))
        if binding.role_ref_kind == "ClusterRole":
            return self.cluster_roles.get(binding.role_ref_name)
        return None

    def _bindings(self, namespace: str | None):
        """ClusterRoleBindings, then RoleBindings (of ``namespace``; None: of every one)."""
        yield from self.cluster_role_bindings
        for binding in self.role_bindings:
            if namespace is None or binding.namespace == namespace:
                yield binding

    def who_can(self, attrs: AuthorizationAttributes) -> list[Grant]:
        """Each (subject, binding, rule) that allows ``attrs``, subjects in binding order."""
        out = []
        for binding in self._bindings(attrs.namespace if attrs.namespace else ""):
            role = self.role_of(binding)
            rules = [r for r in (role.rules.all() if role else ())
                     if rule_allows(attrs, rule_of(r))]
            if rules:
                out += [Grant(binding, role, rules[0], s) for s in binding.subjects.all()]
        return out

    def what_can(self, user: UserInfo, namespace: str | None = None) -> list[Grant]:
        """Each rule ``user`` holds, with the binding granting it; ``namespace`` limits the
        RoleBindings to that namespace (None: all of them)."""
        out = []
        for binding in self._bindings(namespace):
            ns = getattr(binding, "namespace", "")
            if not any(applies_to(user, s, ns) for s in binding.subjects.all()):
                continue
            role = self.role_of(binding)
            out += [Grant(binding, role, rule) for rule in (role.rules.all() if role else ())]
        return out


def attributes(verb: str, resource: str = "", api_group: str = "", namespace: str = "",
               name: str = "", path: str = "") -> AuthorizationAttributes:
    """A request to ask about: ``resource`` may name a subresource (``pods/log``); a
    ``path`` makes it a non-resource request."""
    if path:
        return AuthorizationAttributes(user=None, verb=verb, is_resource_request=False,
                                       path=path)
    resource, _, subresource = resource.partition("/")
    return AuthorizationAttributes(user=None, verb=verb, is_resource_request=True,
                                   namespace=namespace, api_group=api_group, resource=resource,
                                   subresource=subresource, name=name)
