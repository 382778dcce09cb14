"""``--authorization-mode RBAC`` on a real server over TLS, with client-certificate users
driven through kubectl: no binding → upstream's 403; a RoleBinding opens one namespace, not
another; a ClusterRoleBinding to a view-like ClusterRole allows reading everywhere but not
writing; ``kubectl auth can-i`` (and ``--list``) answer from the same rules; and escalation
through kubectl is refused until the user may ``escalate``.  The roles are made here (the
bootstrap policy is not needed)."""
from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest

import watch_support
from auth_support import cert_kubectl, eventually
from tests.certs import CA
from watch_support import ServerGroup

G = "rbac.authorization.k8s.io"
USERS = {"nobody": (), "alice": ("dev",), "viewer": (), "manager": ()}




def _ready_as_admin(server, deadline: float) -> None:
    """Readiness asked with the admin certificate: without the bootstrap policy nothing
    lets anonymous users read /readyz under RBAC."""
    last = "not started"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited early with {server.proc.returncode}")
        if server.ca.exists() and server.admin_cert.exists():
            try:
                status, _, _ = server.request("GET", "/readyz", timeout=2)
                if status == 200:
                    return
                last = f"/readyz -> {status}"
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"server not ready ({last})")


def rule(verbs, resources, groups=("",), names=()):
    out = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def cluster_role(name, rules):
    return {"apiVersion": f"{G}/v1", "kind": "ClusterRole", "metadata": {"name": name},
            "rules": rules}


def bind(kind, name, role, subject, namespace=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    kind_of = "Group" if subject.startswith("group:") else "User"
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": G, "kind": kind_of, "name": subject.split(":", 1)[-1]}]}


def stream(objects) -> str:
    """Objects as one JSON stream for ``kubectl apply -f -``."""
    return "\n".join(json.dumps(o) for o in objects)


SETUP = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}},
    # what kubectl needs of every user: discovery and the self reviews
    cluster_role("e2e:discovery", [{"verbs": ["get"], "nonResourceURLs": ["*"]}]),
    cluster_role("e2e:basic-user", [rule(["create"], ["selfsubjectaccessreviews",
                                                      "selfsubjectrulesreviews"],
                                         ("authorization.k8s.io",))]),
    bind("ClusterRoleBinding", "e2e:discovery", "e2e:discovery", "group:system:authenticated"),
    bind("ClusterRoleBinding", "e2e:basic-user", "e2e:basic-user",
         "group:system:authenticated"),
    cluster_role("e2e:pod-editor", [rule(["get", "list", "watch", "create", "delete"],
                                         ["pods"])]),
    bind("RoleBinding", "devs-edit-pods", "e2e:pod-editor", "group:dev", "team-a"),
    cluster_role("e2e:view", [rule(["get", "list", "watch"], ["pods", "configmaps"])]),
    bind("ClusterRoleBinding", "viewer-views", "e2e:view", "viewer"),
    cluster_role("e2e:role-manager", [rule(["get", "list", "create", "update"],
                                           ["roles", "rolebindings"], (G,))]),
    bind("RoleBinding", "manager-manages", "e2e:role-manager", "manager", "team-a"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("rbac")
    group = ServerGroup()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(watch_support, "_wait_ready", _ready_as_admin)
            srv = group.start("--authorization-mode", "RBAC")
        ca = CA.from_pki(srv.data_dir / "pki")
        users = {name: ca.write_pair(d, name, name, orgs) for name, orgs in USERS.items()}
        srv.kubectl("apply", "-f", "-", input=stream(SETUP))
        yield srv, d, users
    finally:
        group.stop()






def kubectl_as(env, who, *args, input=None):
    srv, d, users = env
    return cert_kubectl(srv, d, who, users[who], *args, input=input)


def can_i(env, who, *args) -> str:
    return kubectl_as(env, who, "auth", "can-i", *args).stdout.strip()


@pytest.fixture(scope="module")
def ready(env):
    assert eventually(lambda: can_i(env, "alice", "list", "pods", "-n", "team-a") == "yes")
    return env


def test_no_binding_is_upstreams_forbidden(ready):
    cp = kubectl_as(ready, "nobody", "get", "pods", "-n", "team-a")
    assert cp.returncode == 1
    assert cp.stderr.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "nobody" cannot list resource '
        '"pods" in API group "" in the namespace "team-a"')
    cp = kubectl_as(ready, "nobody", "get", "nodes")
    assert 'User "nobody" cannot list resource "nodes" in API group "" at the cluster scope' \
        in cp.stderr


def test_a_role_binding_opens_one_namespace(ready):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    cp = kubectl_as(ready, "alice", "create", "-n", "team-a", "-f", "-", input=json.dumps(pod))
    assert cp.returncode == 0, cp.stderr
    assert "pod/p1 created" in cp.stdout
    cp = kubectl_as(ready, "alice", "get", "pods", "-n", "team-a", "-o", "name")
    assert cp.returncode == 0 and cp.stdout.split() == ["pod/p1"]
    cp = kubectl_as(ready, "alice", "get", "pods", "-n", "team-b")
    assert cp.returncode == 1
    assert cp.stderr.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
        '"pods" in API group "" in the namespace "team-b"')
    cp = kubectl_as(ready, "alice", "get", "configmaps", "-n", "team-a")
    assert "cannot list resource \"configmaps\"" in cp.stderr


def test_a_cluster_binding_to_a_view_role_reads_everywhere_writes_nowhere(ready):
    srv = ready[0]
    srv.kubectl("create", "configmap", "c1", "-n", "team-b", "--from-literal", "k=v")
    cp = kubectl_as(ready, "viewer", "get", "configmaps", "-A", "-o", "name")
    assert cp.returncode == 0, cp.stderr
    assert "configmap/c1" in cp.stdout.split()
    cp = kubectl_as(ready, "viewer", "get", "pods", "-n", "team-b")
    assert cp.returncode == 0, cp.stderr
    cp = kubectl_as(ready, "viewer", "create", "configmap", "c2", "-n", "team-b")
    assert cp.returncode == 1
    assert cp.stderr.strip() == (
        'error: failed to create configmap: configmaps is forbidden: User "viewer" cannot '
        'create resource "configmaps" in API group "" in the namespace "team-b"')
    cp = kubectl_as(ready, "viewer", "get", "secrets", "-n", "team-b")
    assert 'cannot list resource "secrets"' in cp.stderr


def test_kubectl_auth_can_i(ready):
    assert can_i(ready, "alice", "create", "pods", "-n", "team-a") == "yes"
    assert can_i(ready, "alice", "create", "pods", "-n", "team-b") == "no"
    assert can_i(ready, "viewer", "list", "pods", "--all-namespaces") == "yes"
    assert can_i(ready, "viewer", "delete", "pods", "-n", "team-a") == "no"
    assert can_i(ready, "nobody", "get", "pods", "-n", "team-a") == "no"
    cp = kubectl_as(ready, "alice", "auth", "can-i", "--list", "-n", "team-a")
    assert cp.returncode == 0, cp.stderr
    rows = {line.split()[0]: line for line in cp.stdout.splitlines()[1:] if line.strip()}
    assert "[get list watch create delete]" in rows["pods"]
    assert "[create]" in rows["selfsubjectaccessreviews.authorization.k8s.io"]
    assert "configmaps" not in rows
    other = kubectl_as(ready, "alice", "auth", "can-i", "--list", "-n", "team-b").stdout
    assert "pods " not in other and "selfsubjectrulesreviews.authorization.k8s.io" in other


def test_escalation_through_kubectl_is_refused(ready):
    srv = ready[0]
    cp = kubectl_as(ready, "manager", "create", "role", "sneaky", "-n", "team-a",
                    "--verb=get", "--resource=secrets")
    assert cp.returncode == 1
    assert cp.stderr.strip() == (
        'Error from server (Forbidden): roles.rbac.authorization.k8s.io "sneaky" is forbidden: '
        'user "manager" (groups=["system:authenticated"]) is attempting to grant RBAC '
        'permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], '
        'Verbs:["get"]}')
    # a role within what the manager holds is fine
    cp = kubectl_as(ready, "manager", "create", "role", "role-reader", "-n", "team-a",
                    "--verb=get", "--resource=roles.rbac.authorization.k8s.io")
    assert cp.returncode == 0, cp.stderr
    cp = kubectl_as(ready, "manager", "create", "rolebinding", "take-over", "-n", "team-a",
                    "--clusterrole=e2e:pod-editor", "--user=manager")
    assert cp.returncode == 1
    assert ('rolebindings.rbac.authorization.k8s.io "take-over" is forbidden: user "manager" '
            '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
            'currently held:') in cp.stderr
    # once the manager may escalate roles in team-a, the sneaky role goes through
    srv.kubectl("apply", "-f", "-", input=stream([
        cluster_role("e2e:escalate-roles", [rule(["escalate"], ["roles"], (G,))]),
        bind("RoleBinding", "manager-escalates", "e2e:escalate-roles", "manager", "team-a")]))
    assert eventually(lambda: can_i(ready, "manager", "escalate", "roles.rbac.authorization.k8s.io",
                                    "-n", "team-a") == "yes")
    cp = kubectl_as(ready, "manager", "create", "role", "sneaky", "-n", "team-a",
                    "--verb=get", "--resource=secrets")
    assert cp.returncode == 0, cp.stderr
    # bind is still needed for the binding
    cp = kubectl_as(ready, "manager", "create", "rolebinding", "take-over", "-n", "team-a",
                    "--clusterrole=e2e:pod-editor", "--user=manager")
    assert cp.returncode == 1 and "is forbidden" in cp.stderr
