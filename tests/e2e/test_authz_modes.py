"""``--authorization-mode Node,ABAC`` with NodeRestriction against a real server over TLS:
client-certificate users (alice, bob, carol under an ABAC policy file; kubelets
``system:node:n1`` / ``n2`` in ``system:nodes``) through kubectl and raw HTTPS."""
from __future__ import annotations

import http.client
import json
import ssl
import uuid

import pytest

from auth_support import cert_kubectl, eventually
from tests.certs import CA
from watch_support import ServerGroup

V1BETA1 = "abac.authorization.kubernetes.io/v1beta1"




def policy(**spec) -> str:
    return json.dumps({"apiVersion": V1BETA1, "kind": "Policy", "spec": spec})


POLICY = "\n".join([
    "# anonymous requests: health and version paths only (the test harness polls /readyz)",
    policy(group="system:unauthenticated", readonly=True, nonResourcePath="/readyz"),
    policy(group="system:unauthenticated", readonly=True, nonResourcePath="/version"),
    "",
    "# every authenticated user may read the discovery documents kubectl needs",
    policy(group="system:authenticated", readonly=True, nonResourcePath="*"),
    policy(user="alice", namespace="team-a", resource="pods", apiGroup="", readonly=True),
    policy(user="bob", namespace="*", resource="*", apiGroup="*"),
    "# an unversioned (v0) line",
    json.dumps({"user": "carol", "namespace": "team-a", "resource": "configmaps"}),
]) + "\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("authz-modes")
    (d / "policy.jsonl").write_text(POLICY)
    group = ServerGroup()
    try:
        srv = group.start("--authorization-mode", "Node,ABAC",
                          "--authorization-policy-file", str(d / "policy.jsonl"),
                          "--enable-admission-plugins", "NodeRestriction")
        ca = CA.from_pki(srv.data_dir / "pki")
        users = {name: ca.write_pair(d, name.replace(":", "_"), name, orgs)
                 for name, orgs in (("alice", ("dev",)), ("bob", ()), ("carol", ()),
                                    ("system:node:n1", ("system:nodes",)),
                                    ("system:node:n2", ("system:nodes",)))}
        yield srv, d, users
    finally:
        group.stop()




def kubectl_as(env, user, *args, input=None):
    srv, d, users = env
    return cert_kubectl(srv, d, user, users[user], *args, input=input)


def https(env, user, method, path, body=None, content_type="application/json"):
    """(status, decoded body) of one request presenting ``user``'s certificate (None: none)."""
    srv, _, users = env
    ctx = ssl.create_default_context(cafile=str(srv.ca))
    if user:
        ctx.load_cert_chain(*map(str, users[user]))
    conn = http.client.HTTPSConnection(srv.host, srv.port, context=ctx, timeout=20)
    try:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw or b"null")
        except ValueError:
            return resp.status, raw.decode(errors="replace")
    finally:
        conn.close()


def admin(env, method, path, body=None, content_type="application/json"):
    srv = env[0]
    headers = {"Content-Type": content_type} if body is not None else {}
    status, _, data = srv.request(method, path, body=body, headers=headers)
    assert status in (200, 201), f"{method} {path} -> {status}: {data[:400]!r}"
    return json.loads(data)




def pod(name, node, secret, **extra):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **extra},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "s", "secret": {"secretName": secret}},
                                 {"name": "c", "configMap": {"name": f"{secret}-cm"}},
                                 {"name": "p", "persistentVolumeClaim": {
                                     "claimName": f"{secret}-pvc"}}]}}


@pytest.fixture(scope="module")
def cluster(env):
    """Namespace ``ns`` with pod p1 on n1 (secret s1, configmap s1-cm, claim s1-pvc) and p2
    on n2 (s2 …); Nodes n1 and n2."""
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    admin(env, "POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    for n in ("n1", "n2"):
        admin(env, "POST", "/api/v1/nodes", {"metadata": {"name": n,
                                                          "labels": {"kubernetes.io/hostname": n}}})
    for s in ("s1", "s2"):
        admin(env, "POST", f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": s}})
        admin(env, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": f"{s}-cm"}})
        admin(env, "POST", f"/api/v1/namespaces/{ns}/persistentvolumeclaims", {
            "metadata": {"name": f"{s}-pvc"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    admin(env, "POST", f"/api/v1/namespaces/{ns}/pods", pod("p1", "n1", "s1"))
    admin(env, "POST", f"/api/v1/namespaces/{ns}/pods", pod("p2", "n2", "s2"))
    return ns


# ---------------------------------------------------------------- ABAC

def test_abac_policy_users(env):
    admin(env, "POST", "/api/v1/namespaces", {"metadata": {"name": "team-a"}})
    out = kubectl_as(env, "alice", "get", "pods", "-n", "team-a")
    assert out.returncode == 0, out.stderr
    out = kubectl_as(env, "alice", "get", "pods", "-n", "default")
    assert out.returncode != 0
    assert 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in ' \
           'the namespace "default"' in out.stderr and "No policy matched." in out.stderr
    out = kubectl_as(env, "alice", "create", "configmap", "x", "-n", "team-a")
    assert out.returncode != 0 and 'cannot create resource "configmaps"' in out.stderr
    # bob may do anything to resources; carol's v0 line covers configmaps in team-a only
    assert kubectl_as(env, "bob", "create", "configmap", "from-bob", "-n", "team-a").returncode == 0
    assert kubectl_as(env, "carol", "create", "configmap", "from-carol", "-n",
                      "team-a").returncode == 0
    out = kubectl_as(env, "carol", "get", "secrets", "-n", "team-a")
    assert out.returncode != 0 and "forbidden" in out.stderr
    # anonymous: only the paths named for system:unauthenticated
    assert https(env, None, "GET", "/version")[0] == 200
    status, body = https(env, None, "GET", "/api/v1/namespaces")
    assert status == 403 and body["message"].startswith(
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces"')
    status, body = https(env, None, "GET", "/healthz/ping")
    assert status == 403 and body["message"].startswith(
        'forbidden: User "system:anonymous" cannot get path "/healthz/ping"')


# ---------------------------------------------------------------- Node

def test_a_node_reads_only_what_its_pods_reference(env, cluster):
    ns = cluster
    for kind, name in (("secret", "s1"), ("configmap", "s1-cm"), ("pvc", "s1-pvc")):
        out = eventually(lambda: kubectl_as(env, "system:node:n1", "get", kind, name, "-n", ns,
                                            "-o", "name").returncode == 0)
        assert out, kubectl_as(env, "system:node:n1", "get", kind, name, "-n", ns).stderr
    status, body = https(env, "system:node:n1", "GET", f"/api/v1/namespaces/{ns}/secrets/s2")
    assert status == 403
    # the union adds ABAC's reason after the Node authorizer's
    assert body["message"].startswith(
        f'secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API '
        f'group "" in the namespace "{ns}": no relationship found between node \'n1\' and this '
        "object")
    assert https(env, "system:node:n2", "GET", f"/api/v1/namespaces/{ns}/secrets/s2")[0] == 200
    # listing every secret is not reading one
    status, body = https(env, "system:node:n1", "GET", f"/api/v1/namespaces/{ns}/secrets")
    assert status == 403 and "No Object name found" in body["message"]
    # its own Node only
    assert https(env, "system:node:n1", "GET", "/api/v1/nodes/n1")[0] == 200
    status, body = https(env, "system:node:n1", "GET", "/api/v1/nodes/n2")
    assert status == 403 and "node 'n1' cannot read 'n2', only its own Node object" in \
        body["message"]


def test_node_restriction(env, cluster):
    ns = cluster
    merge = "application/merge-patch+json"
    label = {"metadata": {"labels": {"role": "web"}}}
    # the authorizer lets a node patch Nodes (it cannot tell which one a create names);
    # NodeRestriction refuses every Node but its own
    status, body = https(env, "system:node:n1", "PATCH", "/api/v1/nodes/n2", label, merge)
    assert status == 403 and body["message"] == \
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    # kubectl reads the Node first: its own only
    out = kubectl_as(env, "system:node:n1", "label", "node", "n2", "role=web")
    assert out.returncode != 0 and "node 'n1' cannot read 'n2'" in out.stderr
    out = kubectl_as(env, "system:node:n1", "label", "node", "n1",
                     "node-restriction.kubernetes.io/x=y")
    assert out.returncode != 0
    assert 'nodes "n1" is forbidden: is not allowed to modify labels: ' \
           "node-restriction.kubernetes.io/x" in out.stderr
    out = kubectl_as(env, "system:node:n1", "label", "node", "n1", "example.com/ok=1")
    assert out.returncode == 0, out.stderr
    # a pod bound to another node: no patch at all, no status update
    status, body = https(env, "system:node:n1", "PATCH", f"/api/v1/namespaces/{ns}/pods/p2",
                         label, merge)
    assert status == 403 and 'cannot patch resource "pods"' in body["message"]
    patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    status, body = https(env, "system:node:n1", "PATCH",
                         f"/api/v1/namespaces/{ns}/pods/p2/status", patch, merge)
    assert status == 403 and body["message"] == (
        'pods "p2" is forbidden: node "n1" can only update pod status for pods with '
        "spec.nodeName set to itself")
    status, body = https(env, "system:node:n1", "PATCH",
                         f"/api/v1/namespaces/{ns}/pods/p1/status", patch, merge)
    assert status == 200, body
    # mirror pods: only bound to itself, owned by its Node, referencing nothing
    uid = admin(env, "GET", "/api/v1/nodes/n1")["metadata"]["uid"]
    mirror = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "static-web", "annotations": {"kubernetes.io/config.mirror": "h"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": uid,
                             "controller": True}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}}
    status, body = https(env, "system:node:n1", "POST", f"/api/v1/namespaces/{ns}/pods", mirror)
    assert status == 201, body
    plain = json.loads(json.dumps(mirror))
    plain["metadata"]["name"] = "not-mirror"
    del plain["metadata"]["annotations"]
    status, body = https(env, "system:node:n1", "POST", f"/api/v1/namespaces/{ns}/pods", plain)
    assert status == 403 and body["message"] == (
        'pods "not-mirror" is forbidden: pod does not have "kubernetes.io/config.mirror" '
        'annotation, node "n1" can only create mirror pods')
    # a node may delete pods bound to itself only
    status, body = https(env, "system:node:n1", "DELETE", f"/api/v1/namespaces/{ns}/pods/p2")
    assert status == 403 and "can only delete pods with spec.nodeName set to itself" in \
        body["message"]


def test_a_node_lists_its_own_pods_by_field_selector(env, cluster):
    ns = cluster
    out = kubectl_as(env, "system:node:n1", "get", "pods", "-A",
                     "--field-selector", "spec.nodeName=n1", "-o", "name")
    assert out.returncode == 0, out.stderr
    assert "pod/p1" in out.stdout and "pod/p2" not in out.stdout
    status, body = https(env, "system:node:n1", "GET", f"/api/v1/namespaces/{ns}/pods")
    assert status == 403 and "can only list/watch pods with spec.nodeName field selector" in \
        body["message"]


def test_deleting_the_pod_revokes_its_node_access(env, cluster):
    ns = cluster
    path = f"/api/v1/namespaces/{ns}/configmaps/s1-cm"
    assert eventually(lambda: https(env, "system:node:n1", "GET", path)[0] == 200)
    admin(env, "DELETE", f"/api/v1/namespaces/{ns}/pods/p1?gracePeriodSeconds=0")
    assert eventually(lambda: https(env, "system:node:n1", "GET", path)[0] == 403)
    status, body = https(env, "system:node:n1", "GET", path)
    assert "no relationship found between node 'n1' and this object" in body["message"]
