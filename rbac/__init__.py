"""rbac.authorization.k8s.io: Role, ClusterRole, RoleBinding and ClusterRoleBinding.

One Strategy module per kind (``policy`` holds what they share), stored as relational rows
(``models``, ``storage``) behind the Storage protocol; the RBAC authorizer (``authorizer``
over the in-memory ``index``), escalation checks, the bootstrap policy and its
reconciliation, the aggregation controller and the Django admin.  Registered from
``RbacConfig.ready()``.
May import: apiserver (and resources' controller base)."""
