"""rbac.authorization.k8s.io/v1 Role: namespaced rules (``kubectl create role``).

Upstream: ``pkg/registry/rbac/role/strategy.go`` (no status, no generation) and
``ValidateRole`` (rules need verbs and apiGroups/resources; no nonResourceURLs).
Writes are refused when they grant more than the requester holds in the namespace,
unless they may ``escalate`` roles (``rbac.escalation``; upstream
``pkg/registry/rbac/role/policybased/storage.go``).
"""
from __future__ import annotations

from apiserver.registry.strategy import Strategy

from . import policy
from .escalation import EscalationChecks


class RoleStrategy(EscalationChecks, Strategy):
    group = policy.GROUP
    kind = "Role"
    plural = "roles"
    namespaced = True
    name_rule = "path"
    schema_name = "io.k8s.api.rbac.v1.Role"
    columns = policy.ROLE_COLUMNS

    def prepare_for_create(self, ctx, obj):
        """Refuses (403) a create that would escalate the requester's privileges."""
        super().prepare_for_create(ctx, obj)
        self.check_role(ctx, obj, None)

    def prepare_for_update(self, ctx, new, old):
        """Refuses (403) an update that would escalate the requester's privileges."""
        super().prepare_for_update(ctx, new, old)
        self.check_role(ctx, new, old)

    def validate(self, ctx, obj):
        """Each rule: verbs, and apiGroups + resources; nonResourceURLs are refused."""
        return policy.validate_rules(obj.get("rules"), namespaced=True)

    def table_row(self, obj):
        return policy.role_row(obj)
