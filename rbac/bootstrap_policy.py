"""The bootstrap RBAC policy: the ClusterRoles, ClusterRoleBindings, Roles and RoleBindings a
kube-apiserver 1.32 reconciles at every start (``rbac.reconcile`` writes them).

Upstream: kubernetes/kubernetes:plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go
(``ClusterRoles``, ``ClusterRoleBindings``) and namespace_policy.go; their expanded forms are
that directory's testdata/*.yaml.  Every object carries the label
``kubernetes.io/bootstrapping: rbac-defaults`` and roles the annotation
``rbac.authorization.kubernetes.io/autoupdate: "true"``.  admin, edit and view are empty
aggregated roles filled from the ``system:aggregate-to-*`` roles by the aggregation
controller (``rbac.aggregation``).

The ``system:controller:*`` roles of the controllers this project runs are in
``bootstrap_controllers`` (merged in below).  Not here: the other controllers' roles, and
``leasecandidates`` (coordination.k8s.io/v1alpha2, not served).
"""
from __future__ import annotations

from .bootstrap_controllers import CLUSTER_ROLE_BINDINGS as _CONTROLLER_BINDINGS
from .bootstrap_controllers import CLUSTER_ROLES as _CONTROLLER_ROLES
from .bootstrap_rules import (EVENTS_WRITE, GROUP, READ, READ_WRITE, WRITE,  # noqa: F401
                              events_rule, group, rule, service_account, urls, user)

BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"

def _aggregate_to(name: str) -> dict:
    return {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}


def _aggregated(name: str) -> dict:
    return {"clusterRoleSelectors": [{"matchLabels": _aggregate_to(name)}]}


# ---- ClusterRoles: name → (rules, extra labels, aggregationRule) ------------------------------
_CLUSTER_ROLES = {
    "cluster-admin": ([rule("*", "*", "*"), urls("*", "*")], {}, None),
    "admin": ([], {}, _aggregated("admin")),
    "edit": ([], _aggregate_to("admin"), _aggregated("edit")),
    "view": ([], _aggregate_to("edit"), _aggregated("view")),
    "system:aggregate-to-admin": ([
        rule(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",)),
        rule(READ_WRITE, (GROUP,), ("rolebindings", "roles")),
    ], _aggregate_to("admin"), None),
    "system:aggregate-to-edit": ([
        rule(READ, ("",), ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
                           "secrets", "services/proxy")),
        rule(("impersonate",), ("",), ("serviceaccounts",)),
        rule(WRITE, ("",), ("pods", "pods/attach", "pods/exec", "pods/portforward",
                            "pods/proxy")),
        rule(("create",), ("",), ("pods/eviction",)),
        rule(WRITE, ("",), ("configmaps", "events", "persistentvolumeclaims",
                            "replicationcontrollers", "replicationcontrollers/scale", "secrets",
                            "serviceaccounts", "services", "services/proxy")),
        rule(("create",), ("",), ("serviceaccounts/token",)),
        rule(WRITE, ("apps",), ("daemonsets", "deployments", "deployments/rollback",
                                "deployments/scale", "replicasets", "replicasets/scale",
                                "statefulsets", "statefulsets/scale")),
        rule(WRITE, ("autoscaling",), ("horizontalpodautoscalers",)),
        rule(WRITE, ("batch",), ("cronjobs", "jobs")),
        rule(WRITE, ("extensions",), ("daemonsets", "deployments", "deployments/rollback",
                                      "deployments/scale", "ingresses", "networkpolicies",
                                      "replicasets", "replicasets/scale",
                                      "replicationcontrollers/scale")),
        rule(WRITE, ("policy",), ("poddisruptionbudgets",)),
        rule(WRITE, ("networking.k8s.io",), ("ingresses", "networkpolicies")),
        rule(READ_WRITE, ("coordination.k8s.io",), ("leases",)),
    ], _aggregate_to("edit"), None),
    "system:aggregate-to-view": ([
        rule(READ, ("",), ("configmaps", "endpoints", "persistentvolumeclaims",
                           "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                           "replicationcontrollers/scale", "serviceaccounts", "services",
                           "services/status")),
        rule(READ, ("",), ("bindings", "events", "limitranges", "namespaces/status",
                           "pods/log", "pods/status", "replicationcontrollers/status",
                           "resourcequotas", "resourcequotas/status")),
        rule(READ, ("",), ("namespaces",)),
        rule(READ, ("discovery.k8s.io",), ("endpointslices",)),
        rule(READ, ("apps",), ("controllerrevisions", "daemonsets", "daemonsets/status",
                               "deployments", "deployments/scale", "deployments/status",
                               "replicasets", "replicasets/scale", "replicasets/status",
                               "statefulsets", "statefulsets/scale", "statefulsets/status")),
        rule(READ, ("autoscaling",), ("horizontalpodautoscalers",
                                      "horizontalpodautoscalers/status")),
        rule(READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
        rule(READ, ("extensions",), ("daemonsets", "daemonsets/status", "deployments",
                                     "deployments/scale", "deployments/status", "ingresses",
                                     "ingresses/status", "networkpolicies", "replicasets",
                                     "replicasets/scale", "replicasets/status",
                                     "replicationcontrollers/scale")),
        rule(READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
        rule(READ, ("networking.k8s.io",), ("ingresses", "ingresses/status",
                                            "networkpolicies")),
    ], _aggregate_to("view"), None),
    "system:auth-delegator": ([
        rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
        rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",)),
    ], {}, None),
    "system:basic-user": ([
        rule(("create",), ("authorization.k8s.io",), ("selfsubjectaccessreviews",
                                                      "selfsubjectrulesreviews")),
        rule(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",)),
    ], {}, None),
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": ([
        rule(("create",), ("certificates.k8s.io",), ("certificatesigningrequests/nodeclient",)),
    ], {}, None),
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": ([
        rule(("create",), ("certificates.k8s.io",),
             ("certificatesigningrequests/selfnodeclient",)),
    ], {}, None),
    **{f"system:certificates.k8s.io:{signer}-approver": ([
        rule(("approve",), ("certificates.k8s.io",), ("signers",), (f"kubernetes.io/{signer}",)),
    ], {}, None) for signer in ("kube-apiserver-client", "kube-apiserver-client-kubelet",
                                "kubelet-serving", "legacy-unknown")},
    "system:discovery": ([
        urls(("get",), ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                        "/openapi", "/openapi/*", "/readyz", "/version", "/version/")),
    ], {}, None),
    "system:heapster": ([
        rule(READ, ("",), ("events", "namespaces", "nodes", "pods")),
        rule(READ, ("extensions",), ("deployments",)),
    ], {}, None),
    "system:kube-aggregator": ([rule(READ, ("",), ("endpoints", "services"))], {}, None),
    "system:kube-controller-manager": ([
        events_rule(),
        rule(("create",), ("coordination.k8s.io",), ("leases",)),
        rule(("get", "update"), ("coordination.k8s.io",), ("leases",),
             ("kube-controller-manager",)),
        rule(("create",), ("",), ("secrets", "serviceaccounts")),
        rule(("delete",), ("",), ("secrets",)),
        rule(("get",), ("",), ("configmaps", "namespaces", "secrets", "serviceaccounts")),
        rule(("update",), ("",), ("secrets", "serviceaccounts")),
        rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
        rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",)),
        rule(("list", "watch"), ("*",), ("*",)),
        rule(("create",), ("",), ("serviceaccounts/token",)),
    ], {}, None),
    "system:kube-dns": ([rule(("list", "watch"), ("",), ("endpoints", "services"))], {}, None),
    "system:kube-scheduler": ([
        events_rule(),
        rule(("create",), ("coordination.k8s.io",), ("leases",)),
        rule(("get", "update"), ("coordination.k8s.io",), ("leases",), ("kube-scheduler",)),
        rule(READ, ("",), ("nodes",)),
        rule(("delete", "get", "list", "watch"), ("",), ("pods",)),
        rule(("create",), ("",), ("bindings", "pods/binding")),
        rule(("patch", "update"), ("",), ("pods/status",)),
        rule(READ, ("",), ("replicationcontrollers", "services")),
        rule(READ, ("apps", "extensions"), ("replicasets",)),
        rule(READ, ("apps",), ("statefulsets",)),
        rule(READ, ("policy",), ("poddisruptionbudgets",)),
        rule(READ, ("",), ("persistentvolumeclaims", "persistentvolumes")),
        rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
        rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",)),
        rule(READ, ("storage.k8s.io",), ("csinodes",)),
        rule(READ, ("",), ("namespaces",)),
        rule(READ, ("storage.k8s.io",), ("csidrivers",)),
        rule(READ, ("storage.k8s.io",), ("csistoragecapacities",)),
    ], {}, None),
    "system:kubelet-api-admin": ([
        rule(READ, ("",), ("nodes",)),
        rule(("proxy",), ("",), ("nodes",)),
        rule(("*",), ("",), ("nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats")),
    ], {}, None),
    "system:monitoring": ([
        urls(("get",), ("/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                        "/metrics/slis", "/readyz", "/readyz/*")),
    ], {}, None),
    "system:node": ([
        rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
        rule(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",
                                                      "subjectaccessreviews")),
        rule(READ, ("",), ("services",)),
        rule(("create", "get", "list", "watch"), ("",), ("nodes",)),
        rule(("patch", "update"), ("",), ("nodes/status",)),
        rule(("patch", "update"), ("",), ("nodes",)),
        rule(EVENTS_WRITE, ("",), ("events",)),
        rule(READ, ("",), ("pods",)),
        rule(("create", "delete"), ("",), ("pods",)),
        rule(("patch", "update"), ("",), ("pods/status",)),
        rule(("create",), ("",), ("pods/eviction",)),
        rule(READ, ("",), ("configmaps", "secrets")),
        rule(("get",), ("",), ("persistentvolumeclaims", "persistentvolumes")),
        rule(("get",), ("",), ("endpoints",)),
        rule(("create", "get", "list", "watch"), ("certificates.k8s.io",),
             ("certificatesigningrequests",)),
        rule(("create", "delete", "get", "patch", "update"), ("coordination.k8s.io",),
             ("leases",)),
        rule(("get",), ("storage.k8s.io",), ("volumeattachments",)),
        rule(("create",), ("",), ("serviceaccounts/token",)),
        rule(("get", "patch", "update"), ("",), ("persistentvolumeclaims/status",)),
        rule(READ, ("storage.k8s.io",), ("csidrivers",)),
        rule(("create", "delete", "get", "patch", "update"), ("storage.k8s.io",),
             ("csinodes",)),
        rule(READ, ("node.k8s.io",), ("runtimeclasses",)),
    ], {}, None),
    "system:node-bootstrapper": ([
        rule(("create", "get", "list", "watch"), ("certificates.k8s.io",),
             ("certificatesigningrequests",)),
    ], {}, None),
    "system:node-problem-detector": ([
        rule(("get",), ("",), ("nodes",)),
        rule(("patch",), ("",), ("nodes/status",)),
        events_rule(),
    ], {}, None),
    "system:node-proxier": ([
        rule(("list", "watch"), ("",), ("endpoints", "services")),
        rule(READ, ("",), ("nodes",)),
        events_rule(),
        rule(("list", "watch"), ("discovery.k8s.io",), ("endpointslices",)),
    ], {}, None),
    "system:persistent-volume-provisioner": ([
        rule(("create", "delete", "get", "list", "watch"), ("",), ("persistentvolumes",)),
        rule(("get", "list", "update", "watch"), ("",), ("persistentvolumeclaims",)),
        rule(READ, ("storage.k8s.io",), ("storageclasses",)),
        rule(("watch",), ("",), ("events",)),
        events_rule(),
    ], {}, None),
    "system:public-info-viewer": ([
        urls(("get",), ("/healthz", "/livez", "/readyz", "/version", "/version/")),
    ], {}, None),
    "system:service-account-issuer-discovery": ([
        urls(("get",), ("/.well-known/openid-configuration", "/openid/v1/jwks")),
    ], {}, None),
    "system:volume-scheduler": ([
        rule(("get", "list", "patch", "update", "watch"), ("",), ("persistentvolumes",)),
        rule(READ, ("storage.k8s.io",), ("storageclasses",)),
        rule(("get", "list", "patch", "update", "watch"), ("",), ("persistentvolumeclaims",)),
    ], {}, None),
}


# ---- ClusterRoleBindings: name (= the ClusterRole's) → subjects ------------------------------
_CLUSTER_ROLE_BINDINGS = {
    "cluster-admin": [group("system:masters")],
    "system:basic-user": [group("system:authenticated")],
    "system:discovery": [group("system:authenticated")],
    "system:kube-controller-manager": [user("system:kube-controller-manager")],
    "system:kube-dns": [service_account("kube-system", "kube-dns")],
    "system:kube-scheduler": [user("system:kube-scheduler")],
    "system:monitoring": [group("system:monitoring")],
    # kept without subjects, as upstream: nodes are authorized by the Node mode
    "system:node": [],
    "system:node-proxier": [user("system:kube-proxy")],
    "system:public-info-viewer": [group("system:authenticated"),
                                  group("system:unauthenticated")],
    "system:service-account-issuer-discovery": [group("system:serviceaccounts")],
    "system:volume-scheduler": [user("system:kube-scheduler")],
}

_LEADER_LOCKING = [rule(("create", "get", "list", "update", "watch"), ("coordination.k8s.io",),
                        ("leases",))]

# ---- Roles: (namespace, name) → rules --------------------------------------------------------
_ROLES = {
    ("kube-public", "system:controller:bootstrap-signer"): [
        rule(READ, ("",), ("configmaps",)),
        rule(("update",), ("",), ("configmaps",), ("cluster-info",)),
        events_rule(),
    ],
    ("kube-system", "extension-apiserver-authentication-reader"): [
        rule(READ, ("",), ("configmaps",), ("extension-apiserver-authentication",)),
    ],
    ("kube-system", "system::leader-locking-kube-controller-manager"): _LEADER_LOCKING,
    ("kube-system", "system::leader-locking-kube-scheduler"): _LEADER_LOCKING,
    ("kube-system", "system:controller:bootstrap-signer"): [rule(READ, ("",), ("secrets",))],
    ("kube-system", "system:controller:cloud-provider"): [
        rule(("create", "get", "list", "watch"), ("",), ("configmaps",)),
    ],
    ("kube-system", "system:controller:token-cleaner"): [
        rule(("delete", "get", "list", "watch"), ("",), ("secrets",)),
        events_rule(),
    ],
}

# ---- RoleBindings: (namespace, name) → (Role name, subjects) ---------------------------------
_ROLE_BINDINGS = {
    ("kube-public", "system:controller:bootstrap-signer"): (
        "system:controller:bootstrap-signer",
        [service_account("kube-system", "bootstrap-signer")]),
    ("kube-system", "system::extension-apiserver-authentication-reader"): (
        "extension-apiserver-authentication-reader",
        [user("system:kube-controller-manager"), user("system:kube-scheduler")]),
    ("kube-system", "system::leader-locking-kube-controller-manager"): (
        "system::leader-locking-kube-controller-manager",
        [user("system:kube-controller-manager"),
         service_account("kube-system", "kube-controller-manager")]),
    ("kube-system", "system::leader-locking-kube-scheduler"): (
        "system::leader-locking-kube-scheduler",
        [user("system:kube-scheduler"), service_account("kube-system", "kube-scheduler")]),
    ("kube-system", "system:controller:bootstrap-signer"): (
        "system:controller:bootstrap-signer",
        [service_account("kube-system", "bootstrap-signer")]),
    ("kube-system", "system:controller:cloud-provider"): (
        "system:controller:cloud-provider",
        [service_account("kube-system", "cloud-provider")]),
    ("kube-system", "system:controller:token-cleaner"): (
        "system:controller:token-cleaner",
        [service_account("kube-system", "token-cleaner")]),
}


def _meta(name: str, namespace: str = "", labels=None) -> dict:
    meta = {"name": name, "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
            "annotations": {AUTOUPDATE: "true"}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def cluster_roles() -> list[dict]:
    out = []
    for name, (rules, labels, aggregation) in {**_CLUSTER_ROLES, **_CONTROLLER_ROLES}.items():
        obj = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole",
               "metadata": _meta(name, labels=labels), "rules": [dict(r) for r in rules]}
        if aggregation is not None:
            obj["aggregationRule"] = aggregation
        out.append(obj)
    return out


def cluster_role_bindings() -> list[dict]:
    """Bindings carry the autoupdate annotation too (upstream's ``ensureRBACPolicy`` sets it
    on every reconciled binding)."""
    return [{"apiVersion": f"{GROUP}/v1", "kind": "ClusterRoleBinding",
             "metadata": _meta(name),
             "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name},
             "subjects": [dict(s) for s in subjects]}
            for name, subjects in {**_CLUSTER_ROLE_BINDINGS, **_CONTROLLER_BINDINGS}.items()]


def roles() -> list[dict]:
    return [{"apiVersion": f"{GROUP}/v1", "kind": "Role", "metadata": _meta(name, namespace),
             "rules": [dict(r) for r in rules]}
            for (namespace, name), rules in _ROLES.items()]


def role_bindings() -> list[dict]:
    return [{"apiVersion": f"{GROUP}/v1", "kind": "RoleBinding",
             "metadata": _meta(name, namespace),
             "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": role},
             "subjects": [dict(s) for s in subjects]}
            for (namespace, name), (role, subjects) in _ROLE_BINDINGS.items()]
