"""rbac.authorization.k8s.io/v1 ClusterRole: cluster-wide rules, which may name
nonResourceURLs, optionally aggregated from other ClusterRoles by label
(``aggregationRule``; the aggregation controller comes with the RBAC issue).

Upstream: ``pkg/registry/rbac/clusterrole/strategy.go`` and ``ValidateClusterRole``.
"""
from __future__ import annotations

from apiserver.registry.strategy import Strategy

from . import policy


class ClusterRoleStrategy(Strategy):
    group = policy.GROUP
    kind = "ClusterRole"
    plural = "clusterroles"
    namespaced = False
    name_rule = "path"
    schema_name = "io.k8s.api.rbac.v1.ClusterRole"
    columns = policy.ROLE_COLUMNS

    def validate(self, ctx, obj):
        """Rules as for a Role but nonResourceURLs allowed; a valid aggregationRule."""
        return (policy.validate_rules(obj.get("rules"), namespaced=False)
                + policy.validate_aggregation_rule(obj.get("aggregationRule")))

    def table_row(self, obj):
        return policy.role_row(obj)
