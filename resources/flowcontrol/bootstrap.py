"""API Priority and Fairness bootstrap configuration: upstream's mandatory and suggested
FlowSchemas and PriorityLevelConfigurations, created at every start when missing.

Upstream: kubernetes/apiserver:pkg/apis/flowcontrol/bootstrap/default.go (the objects, in
wire form here) and kubernetes/kubernetes:pkg/registry/flowcontrol/rest/storage_flowcontrol.go
(the ``priority-and-fairness-config-producer`` post-start hook).  Objects that exist are left
as they are: upstream's ensurer would also re-apply the spec of ones annotated
``apf.kubernetes.io/autoupdate-spec: "true"`` and delete retired ones, which is not done here.
The mandatory specs are also what validation holds the objects named ``exempt`` and
``catch-all`` to.
"""
from __future__ import annotations

from apiserver.registry.context import system_context
from apiserver.runtime import errors

GROUP, VERSION = "flowcontrol.apiserver.k8s.io", "v1"
AUTO_UPDATE = "apf.kubernetes.io/autoupdate-spec"
FIELD_MANAGER = "api-priority-and-fairness-config-producer"

# well-known users and groups (kubernetes/apiserver:pkg/authentication/user, serviceaccount)
MASTERS, AUTHENTICATED, UNAUTHENTICATED = "system:masters", "system:authenticated", "system:unauthenticated"
NODES, SERVICE_ACCOUNTS = "system:nodes", "system:serviceaccounts"
CONTROLLER_MANAGER, SCHEDULER = "system:kube-controller-manager", "system:kube-scheduler"


# ---------------------------------------------------------------- building blocks

def groups(*names: str) -> list:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def users(*names: str) -> list:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def kube_system_service_accounts(*names: str) -> list:
    return [{"kind": "ServiceAccount", "serviceAccount": {"name": n, "namespace": "kube-system"}}
            for n in names]


def resource_rule(verbs, api_groups, resources, cluster_scope: bool) -> dict:
    rule = {"verbs": list(verbs), "apiGroups": list(api_groups), "resources": list(resources),
            "namespaces": ["*"]}
    if cluster_scope:                     # clusterScope is omitempty upstream
        rule["clusterScope"] = True
    return rule


def non_resource_rule(verbs, urls) -> dict:
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


EVERYTHING = {"resourceRules": [resource_rule(["*"], ["*"], ["*"], True)],
              "nonResourceRules": [non_resource_rule(["*"], ["*"])]}


def everything_for(subjects: list) -> dict:
    return {"subjects": subjects, **EVERYTHING}


def flow_schema(name: str, level: str, precedence: int, method: str, *rules: dict) -> dict:
    spec = {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": precedence}
    if method:
        spec["distinguisherMethod"] = {"type": method}
    spec["rules"] = list(rules)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "FlowSchema",
            "metadata": {"name": name, "annotations": {AUTO_UPDATE: "true"}}, "spec": spec}


def priority_level(name: str, spec: dict) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PriorityLevelConfiguration",
            "metadata": {"name": name, "annotations": {AUTO_UPDATE: "true"}}, "spec": spec}


def limited(shares: int, lendable: int, queues: int = 0, hand: int = 0, length: int = 0) -> dict:
    """A Limited spec; without queues its limit response is Reject."""
    response = ({"type": "Queue", "queuing": {"queues": queues, "handSize": hand,
                                              "queueLengthLimit": length}}
                if queues else {"type": "Reject"})
    return {"type": "Limited", "limited": {"nominalConcurrencyShares": shares,
                                           "lendablePercent": lendable, "limitResponse": response}}


# ---------------------------------------------------------------- the objects

MANDATORY_PRIORITY_LEVELS = (
    priority_level("catch-all", limited(5, 0)),
    priority_level("exempt", {"type": "Exempt",
                              "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
)

MANDATORY_FLOW_SCHEMAS = (
    flow_schema("exempt", "exempt", 1, "", everything_for(groups(MASTERS))),
    flow_schema("catch-all", "catch-all", 10000, "ByUser",
                everything_for(groups(UNAUTHENTICATED, AUTHENTICATED))),
)

SUGGESTED_PRIORITY_LEVELS = (
    priority_level("system", limited(30, 33, 64, 6, 50)),
    priority_level("node-high", limited(40, 25, 64, 6, 50)),
    priority_level("leader-election", limited(10, 0, 16, 4, 50)),
    priority_level("workload-high", limited(40, 50, 128, 6, 50)),
    priority_level("workload-low", limited(100, 90, 128, 6, 50)),
    priority_level("global-default", limited(20, 50, 128, 6, 50)),
)

_LEASES = resource_rule(["get", "create", "update"], ["coordination.k8s.io"], ["leases"], False)

SUGGESTED_FLOW_SCHEMAS = (
    flow_schema("system-nodes", "system", 500, "ByUser", everything_for(groups(NODES))),
    flow_schema("system-node-high", "node-high", 400, "ByUser", {
        "subjects": groups(NODES),
        "resourceRules": [resource_rule(["*"], [""], ["nodes", "nodes/status"], True),
                          resource_rule(["*"], ["coordination.k8s.io"], ["leases"], False)]}),
    flow_schema("probes", "exempt", 2, "", {
        "subjects": groups(UNAUTHENTICATED, AUTHENTICATED),
        "nonResourceRules": [non_resource_rule(["get"], ["/healthz", "/readyz", "/livez"])]}),
    flow_schema("system-leader-election", "leader-election", 100, "ByUser", {
        "subjects": users(CONTROLLER_MANAGER, SCHEDULER) + kube_system_service_accounts("*"),
        "resourceRules": [_LEASES]}),
    flow_schema("workload-leader-election", "leader-election", 200, "ByUser", {
        "subjects": kube_system_service_accounts("*"),
        "resourceRules": [resource_rule(["get", "create", "update"], [""],
                                        ["endpoints", "configmaps"], False), _LEASES]}),
    flow_schema("endpoint-controller", "workload-high", 150, "ByUser", {
        "subjects": users(CONTROLLER_MANAGER) + kube_system_service_accounts(
            "endpoint-controller", "endpointslicemirroring-controller"),
        "resourceRules": [resource_rule(["get", "create", "update"], [""], ["endpoints"], False)]}),
    flow_schema("kube-controller-manager", "workload-high", 800, "ByNamespace",
                everything_for(users(CONTROLLER_MANAGER))),
    flow_schema("kube-scheduler", "workload-high", 800, "ByNamespace",
                everything_for(users(SCHEDULER))),
    flow_schema("kube-system-service-accounts", "workload-high", 900, "ByNamespace",
                everything_for(kube_system_service_accounts("*"))),
    flow_schema("service-accounts", "workload-low", 9000, "ByUser",
                everything_for(groups(SERVICE_ACCOUNTS))),
    flow_schema("global-default", "global-default", 9900, "ByUser",
                everything_for(groups(UNAUTHENTICATED, AUTHENTICATED))),
)


def mandatory_spec(plural: str, name: str) -> dict | None:
    """The fixed spec of a mandatory object (wire form, not defaulted), or None."""
    objects = MANDATORY_FLOW_SCHEMAS if plural == "flowschemas" else MANDATORY_PRIORITY_LEVELS
    for obj in objects:
        if obj["metadata"]["name"] == name:
            return obj["spec"]
    return None


# ---------------------------------------------------------------- the post-start hook

def ensure_flowcontrol_objects(hook) -> None:
    """Create every missing bootstrap object, priority levels before the flow schemas that
    reference them.  ``hook`` is the post-start HookContext; running it again changes
    nothing."""
    ctx = system_context(FIELD_MANAGER)
    for plural, objects in (
            ("prioritylevelconfigurations", MANDATORY_PRIORITY_LEVELS + SUGGESTED_PRIORITY_LEVELS),
            ("flowschemas", MANDATORY_FLOW_SCHEMAS + SUGGESTED_FLOW_SCHEMAS)):
        store = hook.stores.store(GROUP, VERSION, plural)
        if store is None:
            continue
        for obj in objects:
            try:
                store.create(None, _copy(obj), ctx)
            except errors.AlreadyExists:
                pass


def _copy(obj):
    """A deep copy of the JSON-shaped constant (the Store writes into what it is given)."""
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj
