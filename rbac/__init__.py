"""rbac.authorization.k8s.io: Role, ClusterRole, RoleBinding and ClusterRoleBinding.

Interim version: the four kinds are served through the generic document store like every
other kind (one Strategy module each; ``policy`` holds what they share), registered from
``RbacConfig.ready()``.  The planned design keeps RBAC relational (ARCHITECTURE.md: relational
models behind the same Storage protocol): the relational models, the Django
admin, the RBAC authorizer, escalation checks (``escalate``/``bind``), aggregation and the
bootstrap policy come with the RBAC issue, which replaces this storage.
May import: apiserver."""
