"""rbac.authorization.k8s.io: Roles, ClusterRoles and their bindings as relational Django
models managed in the admin, the RBAC authorizer, escalation checks and the bootstrap policy.
Filled in by the authorization issue; today the app only reserves its place.
May import: apiserver."""
