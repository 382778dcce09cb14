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
    "daemon-set-controller": [
        rule(("get", "list", "watch"), ("extensions", "apps"), ("daemonsets",)),
        rule(("update",), ("extensions", "apps"), ("daemonsets/status",)),
        rule(("update",), ("extensions", "apps"), ("daemonsets/finalizers",)),
        rule(("list", "watch"), ("",), ("nodes",)),
        rule(("list", "watch", "create", "delete", "patch"), ("",), ("pods",)),
        rule(("create",), ("",), ("pods/binding",)),
        rule(("get", "list", "watch", "create", "delete", "update", "patch"), ("apps",),
             ("controllerrevisions",)),
        events_rule()],
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
    "endpoint-controller": [
        rule(("get", "list", "watch"), ("",), ("services", "pods")),
        rule(("get", "list", "create", "update", "delete"), ("",), ("endpoints",)),
        rule(("create",), ("",), ("endpoints/restricted",)),
        events_rule()],
    "endpointslice-controller": [
        rule(("get", "list", "watch"), ("",), ("services", "pods", "nodes")),
        # blockOwnerDeletion on the slices' ownerReference to their Service needs this
        rule(("update",), ("",), ("services/finalizers",)),
        rule(("get", "list", "create", "update", "delete"), ("discovery.k8s.io",),
             ("endpointslices",)),
        events_rule()],
    "endpointslicemirroring-controller": [
        rule(("get", "list", "watch"), ("",), ("services", "endpoints")),
        rule(("update",), ("",), ("services/finalizers",)),
        # the mirrored slices' ownerReference (blockOwnerDeletion) names the Endpoints
        rule(("update",), ("",), ("endpoints/finalizers",)),
        rule(("get", "list", "create", "update", "delete"), ("discovery.k8s.io",),
             ("endpointslices",)),
        events_rule()],
    "node-controller": [
        rule(("get", "list", "update", "delete", "patch"), ("",), ("nodes",)),
        rule(("patch", "update"), ("",), ("nodes/status",)),
        rule(("update",), ("",), ("pods/status",)),
        rule(("list", "delete"), ("",), ("pods",)),
        events_rule()],
    "disruption-controller": [
        rule(("get", "list", "watch"), ("extensions", "apps"), ("deployments",)),
        rule(("get", "list", "watch"), ("apps", "extensions"), ("replicasets",)),
        rule(("get", "list", "watch"), ("",), ("replicationcontrollers",)),
        rule(("get", "list", "watch"), ("policy",), ("poddisruptionbudgets",)),
        rule(("get", "list", "watch"), ("apps",), ("statefulsets",)),
        rule(("update",), ("policy",), ("poddisruptionbudgets/status",)),
        rule(("patch", "update"), ("",), ("pods/status",)),
        rule(("get",), ("*",), ("*/scale",)),
        events_rule()],
    # reads the targets' scale and the metrics APIs, writes the scale and its own status
    "horizontal-pod-autoscaler": [
        rule(("get", "list", "watch"), ("autoscaling",), ("horizontalpodautoscalers",)),
        rule(("update",), ("autoscaling",), ("horizontalpodautoscalers/status",)),
        rule(("get", "update"), ("*",), ("*/scale",)),
        rule(("list",), ("",), ("pods",)),
        rule(("list",), ("metrics.k8s.io",), ("pods",)),
        rule(("get", "list"), ("custom.metrics.k8s.io",), ("*",)),
        rule(("get", "list"), ("external.metrics.k8s.io",), ("*",)),
        events_rule()],
    "persistent-volume-binder": [
        rule(("get", "list", "watch", "update", "create", "delete"), ("",),
             ("persistentvolumes",)),
        rule(("update",), ("",), ("persistentvolumes/status",)),
        rule(("get", "list", "watch", "update"), ("",), ("persistentvolumeclaims",)),
        rule(("update",), ("",), ("persistentvolumeclaims/status",)),
        rule(("list", "watch", "get", "create", "delete"), ("",), ("pods",)),
        rule(("get", "list", "watch"), ("storage.k8s.io",), ("storageclasses",)),
        rule(("list", "watch"), ("",), ("nodes",)),
        events_rule(),
        rule(("watch",), ("",), ("events",)),          # the recycler watches its pod's events
        rule(("get",), ("",), ("services",))],         # the portworx volume plugin
    "root-ca-cert-publisher": [
        rule(("create", "update"), ("",), ("configmaps",)),
        events_rule()],
    "statefulset-controller": [
        rule(("list", "watch"), ("",), ("pods",)),
        rule(("get", "list", "watch"), ("apps",), ("statefulsets",)),
        rule(("update",), ("apps",), ("statefulsets/status",)),
        rule(("update",), ("apps",), ("statefulsets/finalizers",)),
        rule(("get", "create", "delete", "update", "patch"), ("",), ("pods",)),
        rule(("get", "create", "delete", "update", "patch", "list", "watch"), ("apps",),
             ("controllerrevisions",)),
        rule(("get", "create", "list", "watch"), ("",), ("persistentvolumeclaims",)),
        rule(("update", "delete"), ("",), ("persistentvolumeclaims",)),
        # claims owned by a scaled-away pod carry blockOwnerDeletion (kubernetes#126920)
        rule(("update",), ("",), ("pods/finalizers",)),
        events_rule()],
    "job-controller": [
        rule(("get", "list", "watch", "update", "patch"), ("batch",), ("jobs",)),
        rule(("update",), ("batch",), ("jobs/status",)),
        rule(("update",), ("batch",), ("jobs/finalizers",)),
        rule(("list", "watch", "create", "delete", "patch"), ("",), ("pods",)),
        events_rule()],
    "cronjob-controller": [
        rule(("get", "list", "watch", "update"), ("batch",), ("cronjobs",)),
        rule(("get", "list", "watch", "create", "update", "delete", "patch"), ("batch",),
             ("jobs",)),
        rule(("update",), ("batch",), ("cronjobs/status",)),
        rule(("update",), ("batch",), ("cronjobs/finalizers",)),
        rule(("list", "watch", "delete"), ("",), ("pods",)),
        events_rule()],
    # deletes the content of every kind in a Terminating namespace, then its finalizer
    "namespace-controller": [
        rule(("get", "list", "watch", "delete"), ("",), ("namespaces",)),
        rule(("update",), ("",), ("namespaces/finalize", "namespaces/status")),
        rule(("get", "list", "delete", "deletecollection"), ("*",), ("*",))],
    "ttl-after-finished-controller": [
        rule(("get", "list", "watch", "delete"), ("batch",), ("jobs",)),
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
