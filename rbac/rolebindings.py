"""rbac.authorization.k8s.io/v1 RoleBinding: grants a Role or ClusterRole to subjects within
one namespace (``kubectl create rolebinding``).

Upstream: ``pkg/registry/rbac/rolebinding/strategy.go``, ``ValidateRoleBinding(Update)``
(``roleRef`` is immutable) and ``SetDefaults_RoleBinding``/``SetDefaults_Subject``.
A binding to a role whose permissions the requester does not hold in the namespace needs
``bind`` on that role (``rbac.escalation``; upstream
``pkg/registry/rbac/rolebinding/policybased/storage.go``).
"""
from __future__ import annotations

from apiserver.registry.strategy import Strategy

from . import policy
from .escalation import EscalationChecks


class RoleBindingStrategy(EscalationChecks, Strategy):
    group = policy.GROUP
    kind = "RoleBinding"
    plural = "rolebindings"
    namespaced = True
    name_rule = "path"
    schema_name = "io.k8s.api.rbac.v1.RoleBinding"
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
        """roleRef {apiGroup, kind Role|ClusterRole, name}; subjects User|Group|ServiceAccount."""
        return policy.validate_binding(obj, namespaced=True)

    def validate_update(self, ctx, new, old):
        """As create, and ``roleRef`` may not change."""
        return self.validate(ctx, new) + policy.validate_role_ref_unchanged(new, old)

    def table_row(self, obj):
        return policy.binding_row(obj)
