"""rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a ClusterRole to subjects across
the cluster (``kubectl create clusterrolebinding``).

Upstream: ``pkg/registry/rbac/clusterrolebinding/strategy.go`` and
``ValidateClusterRoleBinding(Update)``: roleRef must be a ClusterRole and is immutable;
ServiceAccount subjects need a namespace; ``pkg/registry/rbac/clusterrolebinding/policybased/
storage.go``: binding a ClusterRole whose permissions the requester does not hold
cluster-wide needs ``bind`` on it (``rbac.escalation``).
"""
from __future__ import annotations

from apiserver.registry.strategy import Strategy

from . import policy
from .escalation import EscalationChecks


class ClusterRoleBindingStrategy(EscalationChecks, Strategy):
    group = policy.GROUP
    kind = "ClusterRoleBinding"
    plural = "clusterrolebindings"
    namespaced = False
    name_rule = "path"
    schema_name = "io.k8s.api.rbac.v1.ClusterRoleBinding"
    columns = policy.BINDING_COLUMNS

    def default(self, obj):
        """roleRef.apiGroup and User/Group subjects' apiGroup default to the RBAC group."""
        policy.default_binding(obj)

    def prepare_for_create(self, ctx, obj):
        """Refuses (403) a create that would escalate the requester's privileges."""
        super().prepare_for_create(ctx, obj)
        self.check_binding(ctx, obj, None)

    def prepare_for_update(self, ctx, new, old):
        """Refuses (403) an update that would escalate the requester's privileges."""
        super().prepare_for_update(ctx, new, old)
        self.check_binding(ctx, new, old)

    def validate(self, ctx, obj):
        """roleRef {apiGroup, kind ClusterRole, name}; subjects User|Group|ServiceAccount
        (a ServiceAccount subject names its namespace)."""
        return policy.validate_binding(obj, namespaced=False)

    def validate_update(self, ctx, new, old):
        """As create, and ``roleRef`` may not change."""
        return self.validate(ctx, new) + policy.validate_role_ref_unchanged(new, old)

    def table_row(self, obj):
        return policy.binding_row(obj)
