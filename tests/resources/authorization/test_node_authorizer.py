"""The Node authorizer over real Stores: what a pod bound to n1 references, n1 may read and
n2 may not; deleting or unbinding the pod revokes; mirror pods grant nothing; the static
rules and upstream's reasons; the graph thread (lazy start, kept current by local commits,
no query on the asking thread); and the whole chain in-process."""
from __future__ import annotations

import time

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apiserver.authentication.user import UserInfo
from apiserver.authorization import base
from apiserver.authorization.base import AuthorizationAttributes, Decision, Dependencies
from apiserver.authorization.node import NodeAuthorizer, node_identity
from resources.authorization import modes
from resources.authorization.node_graph import (NodeGraph, pod_claim_names,
                                                pod_configmap_names, pod_secret_names,
                                                pv_secret_refs)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
N2 = UserInfo("system:node:n2", groups=("system:nodes", "system:authenticated"))
NO_REL = "no relationship found between node '{}' and this object"


def pod(name="p1", node="n1", namespace="ns1", **extra):
    spec = {
        "serviceAccountName": "sa1",
        "imagePullSecrets": [{"name": "pull"}],
        "containers": [{
            "name": "c", "image": "busybox",
            "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}},
                    {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "c-env",
                                                                    "key": "k"}}}],
            "envFrom": [{"secretRef": {"name": "s-from"}}, {"configMapRef": {"name": "c-from"}}],
        }],
        "volumes": [
            {"name": "v1", "secret": {"secretName": "s1"}},
            {"name": "v2", "configMap": {"name": "c1"}},
            {"name": "v3", "persistentVolumeClaim": {"claimName": "pvc1"}},
            {"name": "v4", "projected": {"sources": [{"secret": {"name": "s-proj"}},
                                                     {"configMap": {"name": "c-proj"}}]}},
        ],
    }
    if node:
        spec["nodeName"] = node
    spec.update(extra.pop("spec", {}))
    return {"metadata": {"name": name, "namespace": namespace, **extra}, "spec": spec}


def pv(name="pv1", claim=("ns1", "pvc1")):
    return {"metadata": {"name": name},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "claimRef": {"namespace": claim[0], "name": claim[1]},
                     "csi": {"driver": "d.example.com", "volumeHandle": "h",
                             "nodePublishSecretRef": {"name": "pv-secret", "namespace": "ns1"},
                             "controllerPublishSecretRef": {"name": "ctl", "namespace": "ns1"}}}}


def attrs(user, verb, resource, name="", namespace="ns1", group="", subresource="", **more):
    a = AuthorizationAttributes(user=user, verb=verb, is_resource_request=True,
                                namespace=namespace, resource=resource, api_group=group,
                                name=name, subresource=subresource)
    for key, value in more.items():
        setattr(a, key, value)
    return a


def decide(authorizer, *args, **kw):
    return authorizer.authorize(attrs(*args, **kw))


# ---------------------------------------------------------------- pure parts

def test_node_identity():
    assert node_identity(N1) == ("n1", True)
    assert node_identity(UserInfo("system:node:n1")) == ("", False)
    assert node_identity(UserInfo("n1", groups=("system:nodes",))) == ("", False)
    assert node_identity(UserInfo("system:node:", groups=("system:nodes",))) == ("", True)
    assert node_identity(None) == ("", False)


def test_pod_and_pv_references():
    p = pod(spec={"initContainers": [{"name": "i", "image": "x",
                                      "envFrom": [{"secretRef": {"name": "s-init"}}]}],
                  "ephemeralContainers": [{"name": "e", "image": "x",
                                           "env": [{"name": "Z", "valueFrom": {
                                               "secretKeyRef": {"name": "s-eph"}}}]}]})
    p["spec"]["volumes"] += [{"name": "eph", "ephemeral": {"volumeClaimTemplate": {}}},
                             {"name": "csi", "csi": {"driver": "d",
                                                     "nodePublishSecretRef": {"name": "s-csi"}}},
                             {"name": "empty", "secret": {"secretName": ""}}]
    assert pod_secret_names(p) == ["pull", "s-init", "s-from", "s-env", "s-eph", "s1", "s-proj",
                                   "s-csi"]
    assert pod_configmap_names(p) == ["c-from", "c-env", "c1", "c-proj"]
    assert pod_claim_names(p) == ["pvc1", "p1-eph"]
    # only the secrets the kubelet sees; a reference without a namespace is the claim's
    assert pv_secret_refs(pv()) == [("ns1", "pv-secret")]
    other = pv()
    other["spec"]["csi"]["nodeStageSecretRef"] = {"name": "stage"}
    assert pv_secret_refs(other) == [("ns1", "pv-secret"), ("ns1", "stage")]


def test_rules_for_nodes_is_incomplete():
    a = NodeAuthorizer(graph=None)
    assert a.rules_for(N1, "ns1") == ([], [], True)
    assert a.rules_for(UserInfo("bob"), "ns1") == ([], [], False)


# ---------------------------------------------------------------- over real stores

@pytest.fixture
def world(stores, ctx):
    """A pod on n1 and one on n2 (each with its own secret), a PV bound to pvc1, a
    VolumeAttachment on n1; the graph loaded once (no thread: the test's transaction)."""
    ensure_revision_row()
    create = {"pods": stores.store("", "v1", "pods"),
              "pvs": stores.store("", "v1", "persistentvolumes"),
              "vas": stores.store("storage.k8s.io", "v1", "volumeattachments")}
    create["pods"].create("ns1", pod(), ctx)
    other = pod("p2", node="n2")
    other["spec"]["volumes"] = [{"name": "v", "secret": {"secretName": "s2"}}]
    other["spec"]["imagePullSecrets"] = []
    other["spec"]["containers"][0].pop("env")
    other["spec"]["containers"][0].pop("envFrom")
    other["spec"]["serviceAccountName"] = "sa2"
    create["pods"].create("ns1", other, ctx)
    create["pvs"].create(None, pv(), ctx)
    create["vas"].create(None, {"metadata": {"name": "va1"}, "spec": {
        "attacher": "d.example.com", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}}},
        ctx)
    graph = NodeGraph(stores, follow=False)
    graph.sync()
    return graph, NodeAuthorizer(graph), create


def allow(a, *args, **kw) -> bool:
    decision, _ = decide(a, *args, **kw)
    return decision is Decision.ALLOW


def test_a_node_reads_what_its_pods_reference_and_nothing_else(world):
    _, a, _ = world
    for resource, name in (("secrets", "s1"), ("secrets", "pull"), ("secrets", "s-env"),
                           ("secrets", "s-from"), ("secrets", "s-proj"), ("configmaps", "c1"),
                           ("configmaps", "c-env"), ("configmaps", "c-from"),
                           ("configmaps", "c-proj")):
        for verb in ("get", "list", "watch"):
            assert allow(a, N1, verb, resource, name), (resource, name, verb)
        assert decide(a, N2, "get", resource, name) == (Decision.NO_OPINION, NO_REL.format("n2"))
    assert allow(a, N1, "get", "persistentvolumeclaims", "pvc1")
    assert not allow(a, N2, "get", "persistentvolumeclaims", "pvc1")
    assert allow(a, N1, "get", "pods", "p1") and not allow(a, N1, "get", "pods", "p2")
    assert allow(a, N2, "get", "secrets", "s2") and not allow(a, N1, "get", "secrets", "s2")
    # the same name in another namespace is another object
    assert not allow(a, N1, "get", "secrets", "s1", namespace="ns2")


def test_pvs_their_secrets_and_volume_attachments(world):
    _, a, _ = world
    assert allow(a, N1, "get", "persistentvolumes", "pv1", namespace="")
    assert not allow(a, N2, "get", "persistentvolumes", "pv1", namespace="")
    assert allow(a, N1, "get", "secrets", "pv-secret")          # pod <- pvc <- pv <- secret
    assert not allow(a, N1, "get", "secrets", "ctl")            # not kubelet-visible
    assert not allow(a, N2, "get", "secrets", "pv-secret")
    assert allow(a, N1, "get", "volumeattachments", "va1", namespace="", group="storage.k8s.io")
    assert not allow(a, N2, "get", "volumeattachments", "va1", namespace="",
                     group="storage.k8s.io")


def test_service_account_tokens_only_for_its_pods_accounts(world):
    _, a, _ = world
    assert allow(a, N1, "create", "serviceaccounts", "sa1", subresource="token")
    assert decide(a, N1, "create", "serviceaccounts", "sa2", subresource="token") == \
        (Decision.NO_OPINION, NO_REL.format("n1"))
    assert decide(a, N1, "get", "serviceaccounts", "sa1") == \
        (Decision.NO_OPINION, "can only create tokens for individual service accounts")
    assert decide(a, N1, "create", "serviceaccounts", "sa1") == \
        (Decision.NO_OPINION, "can only create token subresource of serviceaccount")


def test_verbs_and_shapes_upstream_refuses(world):
    _, a, _ = world
    cases = [
        (("update", "secrets", "s1"), "can only read resources of this type"),
        (("get", "secrets", "s1", "ns1", "", "status"), "cannot read subresource"),
        (("get", "secrets", "s1", ""), "can only read namespaced object of this type"),
        (("list", "secrets", ""), "No Object name found"),
        (("list", "persistentvolumeclaims", "pvc1"),
         "can only get individual resources of this type"),
        (("get", "persistentvolumeclaims", "pvc1", "ns1", "", "x"), "cannot get subresource"),
        (("get", "persistentvolumeclaims", "pvc1", "ns1", "", "status"),
         "can only get/update/patch this type"),
        (("list", "pods", ""), "can only list/watch pods with spec.nodeName field selector"),
        (("get", "nodes", "n2", ""), "node 'n1' cannot read 'n2', only its own Node object"),
        (("list", "nodes", "", ""), "node 'n1' cannot read all nodes, only its own Node object"),
        (("list", "leases", "n1", "kube-node-lease", "coordination.k8s.io"),
         "can only get, create, update, patch, or delete a node lease"),
        (("get", "leases", "n1", "default", "coordination.k8s.io"),
         'can only access leases in the "kube-node-lease" system namespace'),
        (("update", "leases", "n2", "kube-node-lease", "coordination.k8s.io"),
         "can only access node lease with the same name as the requesting node"),
        (("get", "csinodes", "n2", "", "storage.k8s.io"),
         "can only access CSINode with the same name as the requesting node"),
        (("get", "csinodes", "n1", "", "storage.k8s.io", "x"),
         "cannot authorize CSINode subresources"),
        (("delete", "nodes", "n1", ""), ""),
        (("update", "pods", "p1"), ""),
        (("delete", "services", "s"), ""),
    ]
    for args, reason in cases:
        assert decide(a, N1, *args) == (Decision.NO_OPINION, reason), args
    weird = UserInfo("system:node:", groups=("system:nodes",))
    assert decide(a, weird, "get", "secrets", "s1") == \
        (Decision.NO_OPINION, 'unknown node for user "system:node:"')
    assert decide(a, UserInfo("bob", groups=("system:authenticated",)), "get", "secrets",
                  "s1") == (Decision.NO_OPINION, "")


def test_what_nodes_may_do_by_rule_and_by_name(world):
    _, a, _ = world
    ok = [("get", "nodes", "n1", ""), ("watch", "nodes", "n1", ""), ("create", "nodes", "n9", ""),
          ("patch", "nodes", "n1", ""), ("patch", "nodes", "n1", "", "", "status"),
          ("create", "pods", "", "ns1"), ("delete", "pods", "p2", "ns1"),
          ("update", "pods", "p2", "ns1", "", "status"),
          ("create", "pods", "p2", "ns1", "", "eviction"),
          ("patch", "persistentvolumeclaims", "pvc1", "ns1", "", "status"),
          ("create", "leases", "", "kube-node-lease", "coordination.k8s.io"),
          ("update", "leases", "n1", "kube-node-lease", "coordination.k8s.io"),
          ("create", "csinodes", "", "", "storage.k8s.io"),
          ("create", "events", "", "ns1"), ("get", "endpoints", "e", "ns1"),
          ("list", "services", "", "ns1"),
          ("create", "certificatesigningrequests", "", "", "certificates.k8s.io"),
          ("create", "tokenreviews", "", "", "authentication.k8s.io"),
          ("create", "subjectaccessreviews", "", "", "authorization.k8s.io"),
          ("list", "runtimeclasses", "", "", "node.k8s.io"),
          ("watch", "csidrivers", "", "", "storage.k8s.io")]
    for args in ok:
        assert allow(a, N1, *args), args
    assert not allow(a, N2, "patch", "persistentvolumeclaims", "pvc1", "ns1", "", "status")
    non_resource = AuthorizationAttributes(user=N1, verb="get", is_resource_request=False,
                                           path="/healthz")
    assert a.authorize(non_resource) == (Decision.NO_OPINION, "")


def test_pods_list_watch_with_its_own_node_selector(world):
    _, a, _ = world
    for verb in ("list", "watch"):
        assert allow(a, N1, verb, "pods", "", "", field_selector="spec.nodeName=n1")
        assert allow(a, N1, verb, "pods", "", "", field_selector="status.phase=Running,"
                                                                  "spec.nodeName==n1")
        assert not allow(a, N1, verb, "pods", "", "", field_selector="spec.nodeName=n2")
        assert not allow(a, N1, verb, "pods", "", "", field_selector="spec.nodeName!=n1")
        assert not allow(a, N1, verb, "pods", "", "", field_selector="spec.nodeName=(")
        # a list of one named pod (metadata.name selector): the graph decides
        assert allow(a, N1, verb, "pods", "p1", "ns1")
        assert not allow(a, N1, verb, "pods", "p2", "ns1")


def test_deleting_or_unbinding_the_pod_revokes(world, ctx):
    graph, a, create = world
    pods = create["pods"]
    assert allow(a, N1, "get", "secrets", "s1")
    # unbinding (another writer storing the pod without spec.nodeName): gone from the graph
    doc, rv = pods.storage.get("pods", "ns1", "p1")
    unbound = orjson.loads(doc)
    unbound["spec"].pop("nodeName")
    pods.storage.update("pods", "ns1", "p1", unbound, rv)
    assert graph.sync() == 1
    assert not allow(a, N1, "get", "secrets", "s1")
    assert not allow(a, N1, "get", "pods", "p1")
    # bound again, then deleted
    doc, rv = pods.storage.get("pods", "ns1", "p1")
    pods.storage.update("pods", "ns1", "p1", pod(), rv)
    graph.sync()
    assert allow(a, N1, "get", "secrets", "s1") and allow(a, N1, "get", "secrets", "pv-secret")
    pods.delete("ns1", "p1", {"gracePeriodSeconds": 0}, ctx)
    graph.sync()
    for resource, name in (("secrets", "s1"), ("configmaps", "c1"),
                           ("persistentvolumeclaims", "pvc1"), ("pods", "p1"),
                           ("secrets", "pv-secret")):
        assert decide(a, N1, "get", resource, name) == (Decision.NO_OPINION, NO_REL.format("n1"))
    assert not allow(a, N1, "get", "persistentvolumes", "pv1", namespace="")
    assert allow(a, N2, "get", "secrets", "s2")        # the other node keeps its pod's


def test_two_pods_sharing_a_secret_keep_it_until_the_last_goes(world, ctx):
    graph, a, create = world
    create["pods"].create("ns1", pod("p3"), ctx)
    graph.sync()
    create["pods"].delete("ns1", "p1", {"gracePeriodSeconds": 0}, ctx)
    graph.sync()
    assert allow(a, N1, "get", "secrets", "s1")
    create["pods"].delete("ns1", "p3", {"gracePeriodSeconds": 0}, ctx)
    graph.sync()
    assert not allow(a, N1, "get", "secrets", "s1")


def test_a_pv_rebound_or_deleted_moves_its_secret(world, ctx):
    graph, a, create = world
    pvs = create["pvs"]
    doc, rv = pvs.storage.get("persistentvolumes", "", "pv1")
    moved = orjson.loads(doc)
    moved["spec"]["claimRef"] = {"namespace": "ns1", "name": "other"}
    pvs.storage.update("persistentvolumes", "", "pv1", moved, rv)
    graph.sync()
    assert not allow(a, N1, "get", "persistentvolumes", "pv1", namespace="")
    assert not allow(a, N1, "get", "secrets", "pv-secret")
    pvs.delete(None, "pv1", {}, ctx)
    graph.sync()
    assert graph.index.pvs == {} and graph.index.pv_secrets == {}


def test_mirror_pods_reach_their_node_only(stores, ctx):
    ensure_revision_row()
    mirror = pod("mirror", annotations={"kubernetes.io/config.mirror": "x"})
    stores.store("", "v1", "pods").create("ns1", mirror, ctx)
    graph = NodeGraph(stores, follow=False)
    graph.sync()
    a = NodeAuthorizer(graph)
    assert allow(a, N1, "get", "pods", "mirror")
    assert not allow(a, N1, "get", "secrets", "s1")
    assert not allow(a, N1, "create", "serviceaccounts", "sa1", subresource="token")


def test_a_full_list_replaces_what_the_graph_held(world):
    graph, a, _ = world
    with graph.index.lock:
        graph.index.set_pod("ns9", "ghost", pod("ghost", namespace="ns9"))
    assert allow(a, N1, "get", "secrets", "s1", namespace="ns9")
    graph.cursors.clear()                 # as after a compaction: list everything again
    graph.sync()
    assert not allow(a, N1, "get", "secrets", "s1", namespace="ns9")
    assert allow(a, N1, "get", "secrets", "s1")


def test_the_mode_factories(stores, tmp_path):
    a = modes.node_mode(Dependencies(stores=stores))
    assert isinstance(a, NodeAuthorizer) and a.graph.stores is stores and a.graph.thread is None
    policy = tmp_path / "abac.jsonl"
    policy.write_text('{"user": "alice"}\n')

    class Opts:
        authorization_policy_file = str(policy)
    abac = modes.abac_mode(Dependencies(options=Opts()))
    assert abac.authorize(attrs(UserInfo("alice"), "delete", "pods", "x"))[0] is Decision.ALLOW
    with pytest.raises(ValueError, match="policy file not passed"):
        modes.abac_mode(Dependencies(options=object()))


# ---------------------------------------------------------------- the thread

def wait_for(predicate, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.usefixtures("threaded_db")
def test_the_graph_starts_on_first_use_and_follows_commits():
    from tests.conftest import build_server

    completed, _ = build_server()
    stores = completed.stores
    ctx = base_ctx()
    stores.store("", "v1", "pods").create("ns1", pod(), ctx)
    graph = NodeGraph(stores, poll_seconds=0.2)
    a = NodeAuthorizer(graph)
    try:
        assert graph.thread is None
        # the first question starts the thread and waits for the first load
        assert allow(a, N1, "get", "secrets", "s1")
        assert graph.thread is not None and graph.thread.is_alive()
        # later questions read memory only: no query on the asking thread
        with CaptureQueriesContext(connection) as queries:
            for _ in range(50):
                allow(a, N1, "get", "secrets", "s1")
                allow(a, N2, "get", "configmaps", "c1")
        assert len(queries) == 0
        stores.store("", "v1", "pods").create("ns1", pod("p9", node="n2"), ctx)
        assert wait_for(lambda: allow(a, N2, "get", "secrets", "s1"))
        stores.store("", "v1", "pods").delete("ns1", "p1", {"gracePeriodSeconds": 0}, ctx)
        assert wait_for(lambda: not allow(a, N1, "get", "secrets", "s1"))
    finally:
        graph.close()
        graph.thread.join(5)
    assert not graph.thread.is_alive()


def base_ctx():
    from apiserver.registry.context import RequestContext

    return RequestContext(user=UserInfo("tester", groups=("system:masters",)),
                          field_manager="tests")


# ---------------------------------------------------------------- through the chain

def node_client(app, node):
    return ASGIClient(app, subject=(("commonName", f"system:node:{node}"),
                                    ("organizationName", "system:nodes")))


def test_in_process_requests_as_nodes(db):
    graph = NodeGraph(None, follow=False)
    authorizer = base.Union([base.SystemMasters(), NodeAuthorizer(graph)])
    completed, app = in_process_app(authorizer=authorizer)
    graph.stores = completed.stores
    ensure_revision_row()
    admin = ASGIClient(app)
    for path, body in (("/api/v1/namespaces", {"metadata": {"name": "ns1"}}),
                       ("/api/v1/namespaces/ns1/secrets", {"metadata": {"name": "s1"}}),
                       ("/api/v1/namespaces/ns1/pods", pod())):
        r = admin.request("POST", path, body)
        assert r.status_code == 201, r.content
    graph.sync()
    r = node_client(app, "n1").request("GET", "/api/v1/namespaces/ns1/secrets/s1")
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "s1"
    r = node_client(app, "n2").request("GET", "/api/v1/namespaces/ns1/secrets/s1")
    assert r.status_code == 403
    assert r.json()["message"] == (
        'secrets "s1" is forbidden: User "system:node:n2" cannot get resource "secrets" in API '
        "group \"\" in the namespace \"ns1\": no relationship found between node 'n2' and "
        "this object")
    r = node_client(app, "n1").request("GET", "/api/v1/nodes/n1")
    assert r.status_code == 404          # allowed (its own Node), which does not exist yet
