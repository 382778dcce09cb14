"""rbac.authorization.k8s.io/v1 ClusterRole: cluster-wide rules, which may name
nonResourceURLs, optionally aggregated from other ClusterRoles by label
(``aggregationRule``; the aggregation controller comes with the RBAC issue).

Upstream: ``pkg/registry/rbac/clusterrole/strategy.go`` and ``ValidateClusterRole``;
``pkg/registry/rbac/clusterrole/policybased/storage.go``: writes granting more than the
requester holds cluster-wide need ``escalate``, and an aggregationRule full authority
(``rbac.escalation``).
"""
from __future__ import annotations

from apiserver.registry.strategy import Strategy

from . import policy
from .escalation import EscalationChecks


class ClusterRoleStrategy(EscalationChecks, Strategy):
    group = policy.GROUP
    kind = "ClusterRole"
    plural = "clusterroles"
    namespaced = False
    name_rule = "path"
    schema_name = "io.k8s.api.rbac.v1.ClusterRole"
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
        """Rules as for a Role but nonResourceURLs allowed; a valid aggregationRule."""
        return (policy.validate_rules(obj.get("rules"), namespaced=False)
                + policy.validate_aggregation_rule(obj.get("aggregationRule")))

    def table_row(self, obj):
        return policy.role_row(obj)
