"""rbac.authorization.k8s.io/v1 Role: namespaced rules (``kubectl create role``).

Upstream: ``pkg/registry/rbac/role/strategy.go`` (no status, no generation) and
``ValidateRole`` (rules need verbs and apiGroups/resources; no nonResourceURLs).
Escalation checks (``escalate`` verb) come with the RBAC authorizer.
"""
from __future__ import annotations

from apiserver.registry.strategy import Strategy

from . import policy


class RoleStrategy(Strategy):
    group = policy.GROUP
    kind = "Role"
    plural = "roles"
    namespaced = True
    name_rule = "path"
    schema_name = "io.k8s.api.rbac.v1.Role"
    columns = policy.ROLE_COLUMNS

    def validate(self, ctx, obj):
        """Each rule: verbs, and apiGroups + resources; nonResourceURLs are refused."""
        return policy.validate_rules(obj.get("rules"), namespaced=True)

    def table_row(self, obj):
        return policy.role_row(obj)
