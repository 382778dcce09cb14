"""The RBAC authorization mode: Allow when a rule of a role bound to the user matches the
request, else no opinion (RBAC only ever adds permissions; it never denies).

Upstream: kubernetes/kubernetes:plugin/pkg/auth/authorizer/rbac/rbac.go (``Authorize``: the
first matching rule wins, with the reason ``RBAC: allowed by <binding description>``; with no
match the reason is empty unless some binding's role could not be found, then ``RBAC: ``
and those errors; ``RulesFor`` for SelfSubjectRulesReview), and
kubernetes/kubernetes:pkg/registry/rbac/validation/rule.go (the binding descriptions).
The roles and bindings come from :class:`~rbac.index.RBACIndex`, in memory.
"""
from __future__ import annotations

from apiserver.authorization.base import Authorizer, Decision

from .index import Grant, RBACIndex
from .rules import go_quote, rule_allows


def describe(grant: Grant) -> str:
    """Upstream's ``clusterRoleBindingDescriber``/``roleBindingDescriber``:
    ``ClusterRoleBinding "b" of ClusterRole "r" to User "bob"``, ``RoleBinding "b/ns" of Role
    "r" to ServiceAccount "sa/ns"``."""
    b, s = grant.binding, grant.subject
    if s.kind == "ServiceAccount":
        who = f"{s.kind} {go_quote(s.name + '/' + (s.namespace or b.namespace))}"
    else:
        who = f"{s.kind} {go_quote(s.name)}"
    name = b.name if b.kind == "ClusterRoleBinding" else f"{b.name}/{b.namespace}"
    return f"{b.kind} {go_quote(name)} of {b.role_kind} {go_quote(b.role_name)} to {who}"


def lister_error(missing: tuple) -> str:
    """What the authorizer's listers say of a role they cannot find (upstream's informer
    listers name the singular resource) or a roleRef kind the resolver does not know."""
    kind, _, name = missing
    if kind == "ClusterRole":
        return f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
    if kind == "Role":
        return f'role.rbac.authorization.k8s.io "{name}" not found'
    return f"unsupported role reference kind: {go_quote(kind)}"


def aggregate(messages: list[str]) -> str:
    """apimachinery ``utilerrors.NewAggregate(...).Error()``: one message as itself, several
    de-duplicated in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class RBACAuthorizer(Authorizer):
    name = "RBAC"

    def __init__(self, index: RBACIndex):
        self.index = index

    def needs_io(self, attrs) -> bool:
        """Only until the first load: the first questions wait for it on a request thread."""
        return not self.index.ready()

    def authorize(self, attrs):
        """ALLOW with the matching binding's description, else NO_OPINION (reason empty, or
        the roles that could not be found)."""
        self.index.ensure_running()
        errors = []
        for grant in self.index.grants(attrs.user, attrs.namespace):
            if grant.missing is not None:
                errors.append(lister_error(grant.missing))
                continue
            if any(rule_allows(attrs, rule) for rule in grant.rules):
                return Decision.ALLOW, f"RBAC: allowed by {describe(grant)}"
        return Decision.NO_OPINION, (f"RBAC: {aggregate(errors)}" if errors else "")

    def rules_for(self, user, namespace):
        """The rules of every role bound to ``user`` cluster-wide and in ``namespace``:
        resource rules and non-resource rules, complete (upstream reports roles it could not
        find as an evaluation error, which this interface does not carry)."""
        self.index.ensure_running()
        resource, non_resource = [], []
        for grant in self.index.grants(user, namespace):
            for rule in grant.rules:
                if rule.resources:
                    resource.append(rule.resource_rule())
                if rule.non_resource_urls:
                    non_resource.append(rule.non_resource_rule())
        return resource, non_resource, False


def rbac_index_of(authorizer) -> RBACIndex | None:
    """The index of the RBAC authorizer inside ``authorizer`` (a union, or the authorizer
    itself), or None when RBAC is not an authorization mode."""
    if isinstance(authorizer, RBACAuthorizer):
        return authorizer.index
    for member in getattr(authorizer, "authorizers", ()) or ():
        found = rbac_index_of(member)
        if found is not None:
            return found
    return None


def rbac_mode(deps) -> RBACAuthorizer:
    """The ``--authorization-mode RBAC`` factory: one index per server process, over the
    serving stores (installed after the modes are built: the index reads them on first use)."""
    return RBACAuthorizer(RBACIndex(deps.stores))
