"""RBAC escalation prevention: a user may write a role or binding only if that grants
nothing they do not hold already, unless they have the ``escalate`` (roles) or ``bind``
(bindings) verb, or are in ``system:masters``.

Upstream:
* kubernetes/kubernetes:pkg/registry/rbac/escalation_check.go — ``EscalationAllowed``
  (system:masters), ``RoleEscalationAuthorized`` (``escalate`` on the request's role resource
  and name, API version ``*``), ``BindingAuthorized`` (``bind`` on the referenced role, by
  name, in the binding's namespace);
* kubernetes/kubernetes:pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/
  policybased/storage.go — the order of those checks on create and update, the GC-only
  update exemption (pkg/registry/rbac/helpers.go ``IsOnlyMutatingGCFields``) and, for a
  ClusterRole with an ``aggregationRule`` (new or old), full authority;
* kubernetes/kubernetes:pkg/registry/rbac/validation/rule.go — ``ConfirmNoEscalation`` and
  its message; the resolver reads roles as the registry does (missing ones are
  ``roles.rbac.authorization.k8s.io "x" not found``).

The checks run whatever the authorization modes are, as upstream's policy-based storage is
always installed: ``escalate``/``bind`` are asked of the server's authorizer (so AlwaysAllow
allows them), and "already holds" is judged from the requester's RBAC rules only — from the
RBAC authorizer's index when RBAC is a mode (brought up to the current revision first), else
from a one-shot read of the four kinds.
"""
from __future__ import annotations

import copy

from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.registry.initializer import WantsAuthorizer
from apiserver.runtime import errors

from .authorizer import aggregate, rbac_index_of
from .index import GROUP, RBACIndex
from .rules import Rule, compact, compact_string, covers, go_quote, go_quote_list, parse_rules

MASTERS = "system:masters"
FULL_AUTHORITY = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))
AGGREGATION_MESSAGE = "must have cluster-admin privileges to use the aggregationRule"
# metadata the garbage collector edits, and what no write sets itself
GC_FIELDS = ("ownerReferences", "finalizers", "selfLink", "managedFields", "resourceVersion")


def escalation_allowed(user) -> bool:
    return user is not None and MASTERS in (getattr(user, "groups", ()) or ())


def _allowed(authorizer, attrs) -> bool:
    if authorizer is None:
        return False
    try:
        decision, _ = authorizer.authorize(attrs)
    except Exception:       # an authorizer failing grants nothing
        return False
    return decision is Decision.ALLOW


def role_escalation_authorized(authorizer, user, resource: str, namespace: str,
                               name: str) -> bool:
    """``escalate`` on the role resource the request writes (``name`` is the URL's: empty
    for a create)."""
    if user is None:
        return False
    return _allowed(authorizer, AuthorizationAttributes(
        user=user, verb="escalate", is_resource_request=True, namespace=namespace,
        api_group=GROUP, api_version="*", resource=resource, name=name))


def binding_authorized(authorizer, user, role_ref: dict, namespace: str) -> bool:
    """``bind`` on the referenced Role or ClusterRole, in the binding's namespace."""
    resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(role_ref.get("kind"))
    if user is None or resource is None:
        return False
    return _allowed(authorizer, AuthorizationAttributes(
        user=user, verb="bind", is_resource_request=True, namespace=namespace,
        api_group=role_ref.get("apiGroup") or "", resource=resource,
        name=role_ref.get("name") or ""))


class RuleResolver:
    """Upstream ``AuthorizationRuleResolver`` over an index, with the registry's errors."""

    def __init__(self, index: RBACIndex):
        self.index = index

    def rules_for(self, user, namespace: str) -> tuple[list, list]:
        """(every rule bound to ``user`` cluster-wide and in ``namespace``, resolution
        errors)."""
        rules, problems = [], []
        for grant in self.index.grants(user, namespace):
            if grant.missing is not None:
                problems.append(_missing_error(grant.missing).message)
            rules += grant.rules
        return rules, problems

    def role_reference_rules(self, role_ref: dict, namespace: str) -> tuple:
        """The rules of the referenced role; NotFound when it does not exist."""
        kind, name = role_ref.get("kind") or "", role_ref.get("name") or ""
        rules = self.index.role_rules(kind, namespace, name)
        if rules is None:
            raise _missing_error((kind, namespace, name))
        return rules


def _missing_error(missing: tuple) -> errors.APIError:
    kind, _, name = missing
    if kind in ("Role", "ClusterRole"):
        return errors.NotFound.for_object(kind.lower() + "s", GROUP, name)
    # upstream returns a plain error here, which the handler reports as an internal error
    return errors.InternalError("Internal error occurred: unsupported role reference kind: "
                                + go_quote(kind))


def confirm_no_escalation(resolver: RuleResolver, user, namespace: str, rules) -> str | None:
    """None when ``user``'s rules (cluster-wide plus ``namespace``'s) cover ``rules``, else
    upstream's message naming the missing permissions."""
    if user is None:
        return "no user on context"
    owned, problems = resolver.rules_for(user, namespace)
    ok, missing = covers(owned, rules)
    if ok:
        return None
    described = sorted({compact_string(rule) for rule in compact(missing)})
    message = (f"user {go_quote(getattr(user, 'name', '') or '')} "
               f"(groups={go_quote_list(getattr(user, 'groups', ()) or ())}) is attempting to "
               "grant RBAC permissions not currently held:\n" + "\n".join(described))
    if problems:
        message += f"; resolution errors: [{aggregate(problems)}]"
    return message


def forbidden(plural: str, name: str, message: str) -> errors.Forbidden:
    """apimachinery ``NewForbidden(rbac.Resource(plural), name, err)``."""
    subject = f"{plural}.{GROUP}" + (f' "{name}"' if name else "")
    details = {"group": GROUP, "kind": plural}
    if name:
        details["name"] = name
    return errors.Forbidden(f"{subject} is forbidden: {message}", details=details)


def only_gc_fields_change(new: dict, old: dict) -> bool:
    """Upstream ``IsOnlyMutatingGCFields``: the update differs from ``old`` in owner
    references and finalizers only (empty and absent count as equal)."""
    copied = copy.deepcopy(new)
    meta = copied.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    for key in GC_FIELDS:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    return _pruned(copied) == _pruned(old)


def _pruned(value):
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {}, False, 0)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _has_aggregation_rule(obj: dict | None) -> bool:
    rule = (obj or {}).get("aggregationRule")
    return isinstance(rule, dict) and bool(rule.get("clusterRoleSelectors"))


class EscalationChecks(WantsAuthorizer):
    """Mixed into the four RBAC strategies: their ``prepare_for_create``/``prepare_for_update``
    call :meth:`check_role` or :meth:`check_binding` (after mutating admission, before
    validation: where upstream's policy-based storage wraps the generic one)."""

    authorizer = None

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer

    def _caught_up(self) -> None:
        """Bring the RBAC authorizer's index (if RBAC is a mode) up to every commit so far,
        so ``escalate``/``bind`` and "already holds" see a role or binding written just
        before (upstream's informers may lag here; a client's next request should not)."""
        index = rbac_index_of(self.authorizer)
        if index is not None:
            index.catch_up()

    def rule_resolver(self, ctx) -> RuleResolver:
        index = rbac_index_of(self.authorizer)
        if index is None:
            # RBAC is not an authorization mode: read the roles now, as upstream's registry
            index = RBACIndex(ctx.stores, follow=False)
            index.sync()
        return RuleResolver(index)

    @staticmethod
    def _scope(obj: dict) -> str:
        return (obj.get("metadata") or {}).get("namespace") or ""

    def check_role(self, ctx, obj: dict, old: dict | None) -> None:
        """A Role or ClusterRole write (``old`` None: a create): allowed for system:masters
        and holders of ``escalate``; otherwise every rule must already be held at the
        role's scope, and an aggregationRule (in the new or old object) needs full
        authority.  Raises Forbidden."""
        s = self.plural
        user, namespace, name = ctx.user, self._scope(obj), (obj.get("metadata") or {}).get(
            "name") or ""
        url_name = name if old is not None or ctx.verb in ("update", "patch") else ""
        if escalation_allowed(user):
            return
        self._caught_up()
        if role_escalation_authorized(self.authorizer, user, s, namespace, url_name):
            return
        if old is not None and only_gc_fields_change(obj, old):
            return
        resolver = self.rule_resolver(ctx)
        problem = confirm_no_escalation(resolver, user, namespace, parse_rules(obj.get("rules")))
        if problem:
            raise forbidden(s, name, problem)
        if s == "clusterroles" and (_has_aggregation_rule(obj) or _has_aggregation_rule(old)):
            if confirm_no_escalation(resolver, user, namespace, FULL_AUTHORITY):
                raise forbidden(s, name, AGGREGATION_MESSAGE)

    def check_binding(self, ctx, obj: dict, old: dict | None) -> None:
        """A RoleBinding or ClusterRoleBinding write: allowed for system:masters, for GC-only
        updates and for holders of ``bind`` on the role; otherwise the referenced role must
        exist (404) and its rules be held at the binding's scope.  Raises Forbidden."""
        s = self.plural
        user, namespace = ctx.user, self._scope(obj)
        name = (obj.get("metadata") or {}).get("name") or ""
        ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
        if escalation_allowed(user):
            return
        if old is not None and only_gc_fields_change(obj, old):
            return
        self._caught_up()
        if binding_authorized(self.authorizer, user, ref, namespace):
            return
        resolver = self.rule_resolver(ctx)
        rules = resolver.role_reference_rules(ref, namespace)
        problem = confirm_no_escalation(resolver, user, namespace, rules)
        if problem:
            raise forbidden(s, name, problem)
