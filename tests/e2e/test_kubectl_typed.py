"""kubectl 1.32's typed commands against a real ``manage.py up``: they send protobuf bodies
(client-go 1.32's generated typed clients prefer protobuf: kubernetes/client-go:gentype/type.go)
and must succeed, print what a real cluster prints, and store the same
object as the JSON path (``--dry-run=client -o json | kubectl create -f -``)."""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from apiserver.authentication import serviceaccount_tokens as tokens

ISSUER = "https://kubernetes.default.svc.cluster.local"
VOLATILE = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "name", "namespace")
CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def get_json(kubectl, *args) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def jwt_part(token: str, index: int) -> dict:
    seg = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def other_namespace(server):
    """A second fresh namespace (for objects whose content depends on their name)."""
    name = unique("e2e-json")
    status, _, data = server.request(
        "POST", "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status == 201, data
    yield name
    server.request("DELETE", f"/api/v1/namespaces/{name}")


# --- imperative create: each sends protobuf ---------------------------------------------------

@pytest.mark.parametrize("args,created", [
    (("configmap", "c", "--from-literal=a=b"), "configmap/c created"),
    (("secret", "generic", "s", "--from-literal=p=q"), "secret/s created"),
    (("deployment", "web", "--image=nginx", "--replicas=2"), "deployment.apps/web created"),
    (("serviceaccount", "sa"), "serviceaccount/sa created"),
])
def test_create_typed(kubectl, namespace, args, created):
    cp = kubectl("create", *args, "-n", namespace)
    assert cp.stdout.strip() == created


def test_created_objects_have_the_literal_content(kubectl, namespace):
    kubectl("create", "configmap", "c", "--from-literal=a=b", "-n", namespace)
    kubectl("create", "secret", "generic", "s", "--from-literal=p=q", "-n", namespace)
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", namespace)
    assert get_json(kubectl, "cm", "c", "-n", namespace)["data"] == {"a": "b"}
    secret = get_json(kubectl, "secret", "s", "-n", namespace)
    assert (secret["type"], secret["data"]) == ("Opaque", {"p": base64.b64encode(b"q").decode()})
    deploy = get_json(kubectl, "deployment", "web", "-n", namespace)
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"


def test_create_namespace(kubectl):
    name = unique("e2e-typed")
    try:
        assert kubectl("create", "namespace", name).stdout.strip() == f"namespace/{name} created"
        assert get_json(kubectl, "ns", name)["status"]["phase"] == "Active"
    finally:
        kubectl("delete", "ns", name, "--wait=false", check=False)


# --- service-account tokens -------------------------------------------------------------------

def test_create_token(kubectl, namespace, server):
    kubectl("create", "serviceaccount", "sa", "-n", namespace)
    sa = get_json(kubectl, "sa", "sa", "-n", namespace)
    before = int(time.time())
    token = kubectl("create", "token", "sa", "-n", namespace).stdout.strip()
    header, claims = jwt_part(token, 0), jwt_part(token, 1)
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["sub"] == f"system:serviceaccount:{namespace}:sa"
    assert claims["aud"] == [ISSUER]
    assert claims["iss"] == ISSUER
    assert claims["exp"] - claims["iat"] == 3600
    assert before - 5 <= claims["iat"] <= int(time.time()) + 5
    assert claims["kubernetes.io"] == {"namespace": namespace, "serviceaccount": {
        "name": "sa", "uid": sa["metadata"]["uid"]}}
    from cryptography.hazmat.primitives import serialization
    public = serialization.load_pem_public_key((server.data_dir / "pki" / "sa.pub").read_bytes())
    assert tokens.verify(token, public, issuer=ISSUER, audiences=[ISSUER]) == claims


def test_create_token_options_and_errors(kubectl, namespace):
    kubectl("create", "serviceaccount", "sa", "-n", namespace)
    token = kubectl("create", "token", "sa", "-n", namespace, "--audience=vault",
                    "--duration=20m").stdout.strip()
    claims = jwt_part(token, 1)
    assert (claims["aud"], claims["exp"] - claims["iat"]) == (["vault"], 1200)

    cp = kubectl("create", "token", "sa", "-n", namespace, "--duration=5m", check=False)
    assert cp.returncode != 0
    assert cp.stderr.strip() == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: '
        "spec.expirationSeconds: Invalid value: 300: may not specify a duration less than "
        "10 minutes")
    cp = kubectl("create", "token", "nobody", "-n", namespace, check=False)
    assert cp.stderr.strip() == 'error: failed to create token: serviceaccounts "nobody" not found'


def test_token_subresource_in_discovery(server):
    doc = server.get_json("/api/v1")
    (entry,) = [r for r in doc["resources"] if r["name"] == "serviceaccounts/token"]
    assert (entry["group"], entry["version"], entry["kind"], entry["verbs"]) == \
        ("authentication.k8s.io", "v1", "TokenRequest", ["create"])


# --- who am I, what may I do ------------------------------------------------------------------

def test_auth_whoami(kubectl):
    lines = kubectl("auth", "whoami").stdout.splitlines()
    rows = {line.split(None, 1)[0]: line.split(None, 1)[1].strip() for line in lines[1:]}
    assert lines[0].split() == ["ATTRIBUTE", "VALUE"]
    assert rows["Username"] == "kubernetes-admin"
    assert "system:masters" in rows["Groups"]
    review = json.loads(kubectl("auth", "whoami", "-o", "json").stdout)
    assert review["kind"] == "SelfSubjectReview"
    assert review["status"]["userInfo"]["username"] == "kubernetes-admin"
    assert set(review["status"]["userInfo"]["groups"]) == {"system:masters",
                                                           "system:authenticated"}


def test_auth_can_i(kubectl, namespace):
    assert kubectl("auth", "can-i", "list", "pods").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "create", "deployments.apps", "-n", namespace
                   ).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"


def test_auth_can_i_list(kubectl):
    out = kubectl("auth", "can-i", "--list").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert any(line.split()[:1] == ["*.*"] and line.split()[-1] == "[*]" for line in lines), out


def test_reviews_are_create_only(server):
    for path in ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                 "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                 "/api/v1/namespaces/default/serviceaccounts/default/token"):
        status, _, data = server.request("GET", path)
        assert status == 405, (path, data)
        assert json.loads(data)["reason"] == "MethodNotAllowed"


def test_subject_access_review_json(server):
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "nobody", "groups": ["system:masters"],
                     "resourceAttributes": {"verb": "delete", "resource": "nodes"}}}
    status, _, data = server.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                     body=body)
    assert status == 201, data
    assert json.loads(data)["status"]["allowed"] is True


# --- RBAC -------------------------------------------------------------------------------------

def test_create_role_and_rolebinding(kubectl, namespace):
    cp = kubectl("create", "role", "r", "--verb=get", "--resource=pods", "-n", namespace)
    assert cp.stdout.strip() == "role.rbac.authorization.k8s.io/r created"
    cp = kubectl("create", "rolebinding", "rb", "--role=r", "--user=bob", "-n", namespace)
    assert cp.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/rb created"
    role = get_json(kubectl, "role", "r", "-n", namespace)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    rb = get_json(kubectl, "rolebinding", "rb", "-n", namespace)
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert rb["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                               "name": "bob"}]
    lines = kubectl("get", "roles", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "AT"]
    assert lines[1].split()[0] == "r"
    lines = kubectl("get", "rolebindings", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert lines[1].split()[:2] == ["rb", "Role/r"] and lines[1].split()[3] == "bob"

    cp = kubectl("patch", "rolebinding", "rb", "-n", namespace, "--type=merge",
                 "-p", '{"roleRef":{"name":"other"}}', check=False)
    assert cp.returncode != 0
    assert "roleRef: Invalid value: " in cp.stderr and "cannot change roleRef" in cp.stderr


def test_create_clusterrole_and_clusterrolebinding(kubectl, namespace):
    role, binding = unique("e2e-cr"), unique("e2e-crb")
    try:
        cp = kubectl("create", "clusterrole", role, "--verb=get", "--resource=pods")
        assert cp.stdout.strip() == f"clusterrole.rbac.authorization.k8s.io/{role} created"
        cp = kubectl("create", "clusterrolebinding", binding, f"--clusterrole={role}",
                     "--user=bob", "--group=devs", f"--serviceaccount={namespace}:sa")
        assert cp.stdout.strip() == \
            f"clusterrolebinding.rbac.authorization.k8s.io/{binding} created"
        lines = kubectl("get", "clusterrolebinding", binding, "-o", "wide").stdout.splitlines()
        assert lines[1].split() == [binding, f"ClusterRole/{role}", lines[1].split()[2], "bob",
                                    "devs", f"{namespace}/sa"]
        lines = kubectl("get", "clusterrole", role).stdout.splitlines()
        assert lines[0].split() == ["NAME", "CREATED", "AT"]
        cp = kubectl("create", "clusterrole", unique("e2e-url"), "--verb=get",
                     "--non-resource-url=/logs/*")
        assert cp.returncode == 0
    finally:
        kubectl("delete", "clusterrolebinding", binding, check=False)
        kubectl("delete", "clusterrole", role, check=False)


# --- protobuf and JSON store the same object --------------------------------------------------

def _comparable(obj: dict, *, keep_null_times: bool = False) -> dict:
    """``obj`` without what differs between two creations.  Unless ``keep_null_times``, a
    ``creationTimestamp: null`` in an embedded ObjectMeta (a pod template) is dropped: kubectl's
    JSON carries it, the protobuf decoder leaves zero Times out (see the xfail test below)."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if keep_null_times or not (k == "creationTimestamp" and v is None)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    meta = {k: v for k, v in obj["metadata"].items() if k not in VOLATILE}
    # what a controller of ``up`` writes in between (a Deployment's status and revision)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k not in CONTROLLER_ANNOTATIONS}
    meta = {k: v for k, v in meta.items() if k != "annotations"}
    if annotations:
        meta["annotations"] = annotations
    return strip({**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta})


def _create_both_ways(kubectl, args, resource, protobuf_ns, json_ns):
    """Object "same" created by the typed (protobuf) client in ``protobuf_ns`` and as JSON
    (generated client-side, then ``kubectl create -f -``) in ``json_ns``; both as stored."""
    kubectl("create", *args, "-n", protobuf_ns)
    generated = kubectl("create", *args, "-n", json_ns, "--dry-run=client", "-o", "json").stdout
    kubectl("create", "-f", "-", input=generated)
    return (get_json(kubectl, resource, "same", "-n", ns, "--show-managed-fields")
            for ns in (protobuf_ns, json_ns))


@pytest.mark.parametrize("args,resource", [
    (("configmap", "same", "--from-literal=a=b"), "configmap"),
    (("secret", "generic", "same", "--from-literal=p=q"), "secret"),
    (("deployment", "same", "--image=nginx", "--replicas=2"), "deployment"),
])
def test_protobuf_and_json_store_the_same_object(kubectl, namespace, other_namespace, args,
                                                 resource):
    via_protobuf, via_json = _create_both_ways(kubectl, args, resource, namespace,
                                               other_namespace)
    assert json.dumps(_comparable(via_protobuf), indent=1, sort_keys=True) == \
        json.dumps(_comparable(via_json), indent=1, sort_keys=True)
    # the controller manager (run by ``up``) may have written a Deployment's status too
    managers = [(m["manager"], m["operation"]) for m in via_protobuf["metadata"]["managedFields"]
                if m.get("subresource") != "status"]
    assert managers == [("kubectl-create", "Update")]


def test_pod_template_creation_timestamp_null_both_ways(kubectl, namespace, other_namespace):
    args = ("deployment", "same", "--image=nginx")
    via_protobuf, via_json = _create_both_ways(kubectl, args, "deployment", namespace,
                                               other_namespace)
    assert _comparable(via_protobuf, keep_null_times=True) == \
        _comparable(via_json, keep_null_times=True)
