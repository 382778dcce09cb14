"""The ``system:controller:*`` ClusterRoles of the controllers this project's controller
manager runs (upstream plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go),
and their bindings.

Upstream binds each to the controller's service account in kube-system, which
kube-controller-manager uses with ``--use-service-account-credentials``.  This controller
manager speaks with one identity (``system:kube-controller-manager``, its client
certificate from ``up``), so each binding names that user too; the rules themselves are
upstream's, so no controller can do more than upstream's would.
"""
from __future__ import annotations

from .bootstrap_rules import events_rule, rule, service_account, user

_CONTROLLER_ROLES = {
    "deployment-controller": [
        rule(("get", "list", "watch", "update"), ("apps",), ("deployments",)),
        rule(("update",), ("apps",), ("deployments/status",)),
        rule(("update",), ("apps",), ("deployments/finalizers",)),
        rule(("get", "list", "watch", "create", "update", "patch", "delete"), ("apps",),
             ("replicasets",)),
        rule(("get", "list", "update"), ("",), ("pods",)),
        events_rule()],
    "replicaset-controller": [
        rule(("get", "list", "watch", "update"), ("apps",), ("replicasets",)),
        rule(("update",), ("apps",), ("replicasets/status",)),
        rule(("update",), ("apps",), ("replicasets/finalizers",)),
        rule(("list", "watch", "patch", "create", "delete"), ("",), ("pods",)),
        events_rule()],
    "replication-controller": [
        rule(("get", "list", "watch", "update"), ("",), ("replicationcontrollers",)),
        rule(("update",), ("",), ("replicationcontrollers/status",)),
        rule(("update",), ("",), ("replicationcontrollers/finalizers",)),
        rule(("list", "watch", "patch", "create", "delete"), ("",), ("pods",)),
        events_rule()],
    "node-controller": [
        rule(("get", "list", "update", "delete", "patch"), ("",), ("nodes",)),
        rule(("patch", "update"), ("",), ("nodes/status",)),
        rule(("update",), ("",), ("pods/status",)),
        rule(("list", "delete"), ("",), ("pods",)),
        events_rule()],
    # the garbage collector lists, watches, reads, patches and deletes every resource
    "generic-garbage-collector": [
        rule(("get", "list", "watch", "patch", "update", "delete"), ("*",), ("*",)),
        events_rule()],
}

CLUSTER_ROLES = {f"system:controller:{name}": (rules, {}, None)
                 for name, rules in _CONTROLLER_ROLES.items()}
CLUSTER_ROLE_BINDINGS = {
    f"system:controller:{name}": [service_account("kube-system", name),
                                  user("system:kube-controller-manager")]
    for name in _CONTROLLER_ROLES}
