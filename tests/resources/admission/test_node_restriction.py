"""NodeRestriction: a node may change only its own Node, mirror pods and pods bound to it,
its own lease and CSINode, PVC status, and tokens bound to its pods; refusals carry
upstream's messages."""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.admission.base import Attributes
from apiserver.authentication.user import UserInfo
from apiserver.runtime import errors
from resources.admission.node_restriction import (NodeRestriction, forbidden_labels,
                                                  is_kubelet_label)
from tests.apiserver.storage.support import ensure_revision_row

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
KINDS = {"pods": ("", "Pod"), "nodes": ("", "Node"), "persistentvolumeclaims": ("", "PVC"),
         "serviceaccounts": ("", "ServiceAccount"), "leases": ("coordination.k8s.io", "Lease"),
         "csinodes": ("storage.k8s.io", "CSINode"), "configmaps": ("", "ConfigMap")}


def attrs(operation, resource, name, obj=None, old=None, namespace="ns1", subresource="",
          user=N1):
    group, kind = KINDS[resource]
    return Attributes(operation=operation, group=group, version="v1", kind=kind,
                      resource=resource, subresource=subresource, namespace=namespace,
                      name=name, obj=obj, old=old, user=user)


def run(plugin, a):
    """The phase the Store runs the operation in: admit for writes, validate for deletes."""
    if a.operation == "DELETE":
        plugin.validate(a)
    else:
        plugin.admit(a)


def refused(plugin, a) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        run(plugin, a)
    return exc.value.message


@pytest.fixture
def plugin():
    p = NodeRestriction()
    p.set_stores(None)
    return p


@pytest.fixture
def live(stores, ctx):
    """A plugin over real stores holding Node n1 and pods p1 (on n1) and p2 (on n2)."""
    ensure_revision_row()
    node = orjson.loads(stores.store("", "v1", "nodes").create(
        None, {"metadata": {"name": "n1"}}, ctx))
    pods = stores.store("", "v1", "pods")
    made = {}
    for name, host in (("p1", "n1"), ("p2", "n2")):
        made[name] = orjson.loads(pods.create("ns1", {
            "metadata": {"name": name}, "spec": {"nodeName": host, "containers": [
                {"name": "c", "image": "busybox"}]}}, ctx))
    p = NodeRestriction()
    p.set_stores(stores)
    return p, node, made


def mirror(uid, node="n1", **spec):
    return {"metadata": {"name": "m", "namespace": "ns1",
                         "annotations": {"kubernetes.io/config.mirror": "hash"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node,
                                              "uid": uid, "controller": True}]},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}], **spec}}


# ---------------------------------------------------------------- who is judged

def test_only_nodes_are_restricted(plugin):
    other = UserInfo("bob", groups=("system:authenticated",))
    run(plugin, attrs("UPDATE", "nodes", "n2", {}, {}, user=other))
    run(plugin, attrs("UPDATE", "nodes", "n2", {}, {}, user=UserInfo("system:node:n1")))
    nameless = UserInfo("system:node:", groups=("system:nodes",))
    assert refused(plugin, attrs("UPDATE", "nodes", "n2", {}, {}, user=nameless)) == \
        'nodes "n2" is forbidden: could not determine node from user "system:node:"'
    assert plugin.handles("DELETE") and not plugin.handles("CONNECT")
    run(plugin, attrs("CREATE", "configmaps", "c", {"metadata": {"name": "c"}}))


# ---------------------------------------------------------------- nodes

def test_a_node_modifies_only_its_own_node(plugin):
    assert refused(plugin, attrs("UPDATE", "nodes", "n2", {}, {}, namespace="")) == \
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    assert refused(plugin, attrs("UPDATE", "nodes", "n2", {}, {}, namespace="",
                                 subresource="status")) == \
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    assert refused(plugin, attrs("DELETE", "nodes", "n2", None, {}, namespace="")) == \
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    run(plugin, attrs("UPDATE", "nodes", "n1", {"status": {"phase": "x"}}, {}, namespace="",
                      subresource="status"))


def test_node_labels_a_node_may_not_set():
    assert forbidden_labels({"node-restriction.kubernetes.io/x": "1"}, {}) == \
        ["node-restriction.kubernetes.io/x"]
    assert forbidden_labels({"a.node-restriction.kubernetes.io/x": "1"}, {}) == \
        ["a.node-restriction.kubernetes.io/x"]
    assert forbidden_labels({"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux",
                             "topology.kubernetes.io/zone": "z", "node.kubernetes.io/x": "",
                             "a.kubelet.kubernetes.io/y": "", "example.com/z": ""}, {}) == []
    assert forbidden_labels({"node-role.kubernetes.io/master": ""}, {}) == \
        ["node-role.kubernetes.io/master"]
    assert forbidden_labels({}, {"k8s.io/x": "1"}) == ["k8s.io/x"]            # removal counts
    assert forbidden_labels({"k8s.io/x": "1"}, {"k8s.io/x": "1"}) == []       # unchanged
    assert is_kubelet_label("beta.kubernetes.io/arch") and not is_kubelet_label("kubernetes.io/x")


def test_node_create_and_update_rules(plugin):
    new = {"metadata": {"name": "n1", "labels": {"node-restriction.kubernetes.io/a": "1",
                                                 "foo.k8s.io/b": "2", "ok": "3"}}}
    assert refused(plugin, attrs("CREATE", "nodes", "n1", new, namespace="")) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: '
        "foo.k8s.io/b, node-restriction.kubernetes.io/a")
    assert refused(plugin, attrs("CREATE", "nodes", "n1", {"metadata": {"name": "n1"},
                                 "spec": {"configSource": {}}}, namespace="")) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to create pods with a non-nil '
        "configSource")
    old = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
           "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}
    relabel = copy.deepcopy(old)
    relabel["metadata"]["labels"]["node-restriction.kubernetes.io/x"] = "y"
    assert refused(plugin, attrs("UPDATE", "nodes", "n1", relabel, old, namespace="")) == \
        'nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/x'
    untaint = copy.deepcopy(old)
    untaint["spec"]["taints"] = []
    assert refused(plugin, attrs("UPDATE", "nodes", "n1", untaint, old, namespace="")) == \
        'nodes "n1" is forbidden: node "n1" is not allowed to modify taints'
    source = copy.deepcopy(old)
    source["spec"]["configSource"] = {"configMap": {"name": "c"}}
    assert refused(plugin, attrs("UPDATE", "nodes", "n1", source, old, namespace="")) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to update configSource to a new '
        "non-nil configSource")
    fine = copy.deepcopy(old)
    fine["metadata"]["labels"]["example.com/role"] = "web"
    fine["metadata"]["labels"]["kubernetes.io/hostname"] = "renamed"
    run(plugin, attrs("UPDATE", "nodes", "n1", fine, old, namespace=""))
    # no taints and an empty list are the same
    run(plugin, attrs("UPDATE", "nodes", "n1", {"spec": {"taints": []}}, {"spec": {}},
                      namespace=""))


# ---------------------------------------------------------------- pods

def test_mirror_pod_creation(live):
    plugin, node, _ = live
    uid = node["metadata"]["uid"]
    run(plugin, attrs("CREATE", "pods", "m", mirror(uid)))
    plain = mirror(uid)
    del plain["metadata"]["annotations"]
    other = mirror(uid)
    other["spec"]["nodeName"] = "n2"
    two = mirror(uid)
    two["metadata"]["ownerReferences"].append(dict(two["metadata"]["ownerReferences"][0]))
    none = mirror(uid)
    none["metadata"]["ownerReferences"] = []
    wrong_owner = mirror(uid)
    wrong_owner["metadata"]["ownerReferences"][0]["kind"] = "ReplicaSet"
    not_controller = mirror(uid)
    not_controller["metadata"]["ownerReferences"][0]["controller"] = False
    blocking = mirror(uid)
    blocking["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    stale = mirror("0000")
    sa = mirror(uid, serviceAccountName="default")
    secret = mirror(uid, volumes=[{"name": "v", "secret": {"secretName": "s"}}])
    configmap = mirror(uid, volumes=[{"name": "v", "configMap": {"name": "c"}}])
    bundle = mirror(uid, volumes=[{"name": "v", "projected": {"sources": [
        {"clusterTrustBundle": {"name": "b", "path": "p"}}]}}])
    claim = mirror(uid, volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}])
    expected = [
        (plain, 'pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only '
                "create mirror pods"),
        (other, 'node "n1" can only create pods with spec.nodeName set to itself'),
        (two, 'node "n1" can only create pods with a single owner reference set to itself'),
        (none, 'node "n1" can only create pods with an owner reference set to itself'),
        (wrong_owner, 'node "n1" can only create pods with an owner reference set to itself'),
        (not_controller, 'node "n1" can only create pods with a controller owner reference set '
                         "to itself"),
        (blocking, 'node "n1" must not set blockOwnerDeletion on an owner reference'),
        (stale, f"node n1 UID mismatch: expected 0000 got {uid}"),
        (sa, 'node "n1" can not create pods that reference a service account'),
        (secret, 'node "n1" can not create pods that reference secrets'),
        (configmap, 'node "n1" can not create pods that reference configmaps'),
        (bundle, 'node "n1" can not create pods that reference clustertrustbundles'),
        (claim, 'node "n1" can not create pods that reference persistentvolumeclaims'),
    ]
    for pod, message in expected:
        assert refused(plugin, attrs("CREATE", "pods", "m", pod)) == \
            f'pods "m" is forbidden: {message}'


def test_mirror_pod_of_a_node_that_does_not_exist(stores):
    ensure_revision_row()
    plugin = NodeRestriction()
    plugin.set_stores(stores)
    with pytest.raises(errors.NotFound, match='nodes "n1" not found'):
        run(plugin, attrs("CREATE", "pods", "m", mirror("u")))


def test_pods_delete_update_status_and_eviction(live):
    plugin, _, pods = live
    mine, theirs = pods["p1"], pods["p2"]
    run(plugin, attrs("DELETE", "pods", "p1", None, mine))
    assert refused(plugin, attrs("DELETE", "pods", "p2", None, theirs)) == \
        'pods "p2" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself'
    assert refused(plugin, attrs("UPDATE", "pods", "p1", mine, mine)) == \
        'pods "p1" is forbidden: unexpected operation "UPDATE", node "n1" can only create and ' \
        "delete mirror pods"
    # status
    status = copy.deepcopy(mine)
    status["status"] = {"phase": "Running"}
    run(plugin, attrs("UPDATE", "pods", "p1", status, mine, subresource="status"))
    assert refused(plugin, attrs("UPDATE", "pods", "p2", theirs, theirs, subresource="status")) \
        == 'pods "p2" is forbidden: node "n1" can only update pod status for pods with ' \
           "spec.nodeName set to itself"
    relabel = copy.deepcopy(mine)
    relabel["metadata"]["labels"] = {"app": "x"}
    assert refused(plugin, attrs("UPDATE", "pods", "p1", relabel, mine, subresource="status")) \
        == 'pods "p1" is forbidden: node "n1" cannot update labels through pod status'
    claims = copy.deepcopy(mine)
    claims["status"] = {"resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "c"}]}
    assert refused(plugin, attrs("UPDATE", "pods", "p1", claims, mine, subresource="status")) \
        == 'pods "p1" is forbidden: node "n1" cannot update resource claim statues'
    # eviction: the pod's DELETE the eviction makes, and an Eviction CREATE
    run(plugin, attrs("DELETE", "pods", "p1", None, mine, subresource="eviction"))
    assert refused(plugin, attrs("DELETE", "pods", "p2", None, theirs, subresource="eviction")) \
        == 'pods "p2" is forbidden: node n1 can only evict pods with spec.nodeName set to itself'
    eviction = {"metadata": {"name": "p2", "namespace": "ns1"}}
    assert refused(plugin, attrs("CREATE", "pods", "p2", eviction, subresource="eviction")) == \
        'pods "p2" is forbidden: node n1 can only evict pods with spec.nodeName set to itself'
    run(plugin, attrs("CREATE", "pods", "p1", {"metadata": {"name": "p1"}},
                      subresource="eviction"))
    assert refused(plugin, attrs("UPDATE", "pods", "p1", mine, mine, subresource="binding")) == \
        "pods \"p1\" is forbidden: unexpected pod subresource \"binding\", only 'status' and " \
        "'eviction' are allowed"


# ---------------------------------------------------------------- other kinds

def test_pvc_status_only_capacity_and_conditions(plugin):
    old = {"metadata": {"name": "c", "resourceVersion": "5", "labels": {"a": "1"}},
           "spec": {"resources": {"requests": {"storage": "1Gi"}}},
           "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = ""
    new["status"]["capacity"] = {"storage": "2Gi"}
    new["status"]["conditions"] = [{"type": "Resizing", "status": "True"}]
    new["status"]["allocatedResources"] = {"storage": "2Gi"}
    run(plugin, attrs("UPDATE", "persistentvolumeclaims", "c", new, old, subresource="status"))
    new["metadata"]["labels"] = {"a": "2"}
    message = refused(plugin, attrs("UPDATE", "persistentvolumeclaims", "c", new, old,
                                    subresource="status"))
    assert message.startswith('persistentvolumeclaims "c" is forbidden: node "n1" is not '
                              "allowed to update fields other than status.capacity and "
                              "status.conditions: ")
    assert "metadata.labels.a" in message
    assert refused(plugin, attrs("UPDATE", "persistentvolumeclaims", "c", old, old)) == \
        'persistentvolumeclaims "c" is forbidden: may only update PVC status'


def test_tokens_only_bound_to_its_own_pods(live):
    plugin, _, pods = live

    def token(ref):
        return attrs("CREATE", "serviceaccounts", "default",
                     {"spec": {"audiences": ["a"], "boundObjectRef": ref}},
                     subresource="token")
    mine, theirs = pods["p1"]["metadata"], pods["p2"]["metadata"]
    run(plugin, token({"apiVersion": "v1", "kind": "Pod", "name": "p1", "uid": mine["uid"]}))
    prefix = 'serviceaccounts "default" is forbidden: '
    assert refused(plugin, token(None)) == prefix + "node requested token not bound to a pod"
    assert refused(plugin, token({"apiVersion": "v1", "kind": "Secret", "name": "p1"})) == \
        prefix + "node requested token not bound to a pod"
    assert refused(plugin, token({"apiVersion": "v1", "kind": "Pod", "name": "p1"})) == \
        prefix + "node requested token with a pod binding without a uid"
    assert refused(plugin, token({"apiVersion": "v1", "kind": "Pod", "name": "p1",
                                  "uid": "other"})) == prefix + (
        "the UID in the bound object reference (other) does not match the UID in record. The "
        "object might have been deleted and then recreated")
    assert refused(plugin, token({"apiVersion": "v1", "kind": "Pod", "name": "p2",
                                  "uid": theirs["uid"]})) == \
        prefix + "node requested token bound to a pod scheduled on a different node"
    with pytest.raises(errors.NotFound):
        run(plugin, token({"apiVersion": "v1", "kind": "Pod", "name": "gone", "uid": "u"}))
    # other writes to service accounts are not this plugin's business
    run(plugin, attrs("UPDATE", "serviceaccounts", "default", {}, {}))


def test_leases_and_csinodes_named_after_the_node(plugin):
    lease = attrs("CREATE", "leases", "n2", {"metadata": {"name": "n2"}},
                  namespace="kube-node-lease")
    assert refused(plugin, lease) == ('leases.coordination.k8s.io "n2" is forbidden: can only '
                                      "access node lease with the same name as the requesting "
                                      "node")
    assert refused(plugin, attrs("UPDATE", "leases", "n1", {}, {}, namespace="default")) == (
        'leases.coordination.k8s.io "n1" is forbidden: can only access leases in the '
        '"kube-node-lease" system namespace')
    run(plugin, attrs("CREATE", "leases", "n1", {"metadata": {"name": "n1"}},
                      namespace="kube-node-lease"))
    run(plugin, attrs("DELETE", "leases", "n1", None, {}, namespace="kube-node-lease"))
    assert refused(plugin, attrs("UPDATE", "csinodes", "n2", {}, {}, namespace="")) == (
        'csinodes.storage.k8s.io "n2" is forbidden: can only access CSINode with the same name '
        "as the requesting node")
    run(plugin, attrs("CREATE", "csinodes", "n1", {"metadata": {"name": "n1"}}, namespace=""))
