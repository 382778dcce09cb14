"""`manage.py up` with no authorization flag, as a new user meets it: Node,RBAC and upstream's
bootstrap policy.  Token-file users (kubectl over TLS) start with nothing but the basic-user,
discovery and public-info roles; bindings to the bootstrap admin/edit/view roles open what
upstream's do; a ClusterRole labelled to aggregate into view reaches view, edit and admin;
impersonation by the admin answers `kubectl auth can-i --as`; a restart reconciles a
tampered bootstrap role and leaves one annotated autoupdate=false alone."""
from __future__ import annotations

import json
import signal

import pytest

from auth_support import eventually, token_kubectl
from watch_support import ServerGroup

TOKENS = {"jane": "jane-token-0123456789", "bob": "bob-token-0123456789",
          "carol": "carol-token-0123456789"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("rbac-bootstrap")
    tokens = d / "tokens.csv"
    tokens.write_text("".join(f'{t},{u},{i},"team"\n' for i, (u, t) in enumerate(TOKENS.items())))
    group = ServerGroup()
    try:
        srv = group.start("--token-auth-file", str(tokens))
        srv.kubectl("create", "namespace", "dev")
        yield group, srv, d, tokens
    finally:
        group.stop()


def as_user(env, who, *args):
    _, srv, d, _ = env
    return token_kubectl(srv, d, TOKENS[who], *args)




def can_i(env, who, *args) -> str:
    return as_user(env, who, "auth", "can-i", *args).stdout.strip()


def test_anonymous_reads_health_only(env):
    _, srv, _, _ = env
    status, _, body = srv.request("GET", "/healthz", client_cert=False)
    assert status == 200 and body == b"ok"
    status, _, body = srv.request("GET", "/version", client_cert=False)
    assert status == 200
    status, _, body = srv.request("GET", "/api", client_cert=False)
    assert status == 403
    assert json.loads(body)["message"] == \
        'forbidden: User "system:anonymous" cannot get path "/api"'


def test_a_new_user_has_the_basic_roles_only(env):
    cp = as_user(env, "carol", "auth", "whoami", "-o", "json")
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["status"]["userInfo"]["username"] == "carol"
    cp = as_user(env, "carol", "get", "pods", "-n", "dev")
    assert cp.returncode == 1
    assert cp.stderr.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "carol" cannot list resource '
        '"pods" in API group "" in the namespace "dev"')
    cp = as_user(env, "carol", "auth", "can-i", "--list")
    assert cp.returncode == 0, cp.stderr
    rows = {line.split()[0] for line in cp.stdout.splitlines()[1:] if line.strip()}
    assert {"selfsubjectreviews.authentication.k8s.io",
            "selfsubjectaccessreviews.authorization.k8s.io",
            "selfsubjectrulesreviews.authorization.k8s.io"} <= rows
    assert "pods" not in rows


def test_edit_in_one_namespace(env):
    _, srv, _, _ = env
    srv.kubectl("create", "rolebinding", "jane-edit", "-n", "dev", "--clusterrole=edit",
                "--user=jane")
    assert eventually(lambda: can_i(env, "jane", "create", "deployments.apps", "-n", "dev")
                      == "yes")
    assert can_i(env, "jane", "create", "deployments.apps", "-n", "default") == "no"
    assert can_i(env, "jane", "get", "secrets", "-n", "dev") == "yes"
    assert can_i(env, "jane", "create", "roles.rbac.authorization.k8s.io", "-n", "dev") == "no"
    cp = as_user(env, "jane", "create", "deployment", "web", "-n", "dev", "--image=nginx")
    assert cp.returncode == 0, cp.stderr
    # the admin asks on jane's behalf (impersonation)
    cp = srv.kubectl("auth", "can-i", "delete", "deployments.apps", "-n", "dev", "--as=jane",
                     check=False)
    assert cp.stdout.strip() == "yes"


def test_view_everywhere_without_secrets_or_writes(env):
    _, srv, _, _ = env
    srv.kubectl("create", "clusterrolebinding", "bob-view", "--clusterrole=view", "--user=bob")
    assert eventually(lambda: can_i(env, "bob", "list", "pods", "-A") == "yes")
    cp = as_user(env, "bob", "get", "deployments", "-A", "-o", "name")
    assert cp.returncode == 0, cp.stderr
    assert "deployment.apps/web" in cp.stdout.split()
    assert can_i(env, "bob", "get", "secrets", "-n", "dev") == "no"
    assert can_i(env, "bob", "create", "configmaps", "-n", "dev") == "no"


def test_a_labelled_role_aggregates_into_view_edit_and_admin(env):
    _, srv, _, _ = env
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "widgets-view",
                         "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"verbs": ["get", "list"], "apiGroups": ["storage.k8s.io"],
                       "resources": ["csidrivers"]}]}
    srv.kubectl("apply", "-f", "-", input=json.dumps(role))

    def aggregated():
        out = {}
        for name in ("view", "edit", "admin"):
            rules = json.loads(srv.kubectl("get", "clusterrole", name, "-o", "json").stdout)
            out[name] = any("csidrivers" in r.get("resources", []) for r in rules["rules"])
        return all(out.values())
    assert eventually(aggregated)
    assert can_i(env, "jane", "list", "csidrivers.storage.k8s.io") == "no"    # edit is in dev only
    assert eventually(lambda: can_i(env, "bob", "list", "csidrivers.storage.k8s.io") == "yes")
    cp = as_user(env, "bob", "get", "csidrivers")
    assert cp.returncode == 0, cp.stderr


def test_a_restart_reconciles_the_policy_and_respects_autoupdate_false(env):
    group, srv, _, _ = env
    srv.kubectl("patch", "clusterrole", "system:basic-user", "--type=json", "-p",
                json.dumps([{"op": "replace", "path": "/rules", "value": [
                    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                     "resources": ["selfsubjectaccessreviews"]}]}]))
    srv.kubectl("annotate", "clusterrole", "system:heapster", "--overwrite",
                "rbac.authorization.kubernetes.io/autoupdate=false")
    srv.kubectl("patch", "clusterrole", "system:heapster", "--type=json", "-p",
                json.dumps([{"op": "replace", "path": "/rules", "value": []}]))
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(15)
    _, _, d, tokens = env
    srv = group.start("--token-auth-file", str(tokens), command="up")    # same data dir
    basic = json.loads(srv.kubectl("get", "clusterrole", "system:basic-user", "-o",
                                   "json").stdout)
    assert any("selfsubjectreviews" in r.get("resources", []) for r in basic["rules"])
    heapster = json.loads(srv.kubectl("get", "clusterrole", "system:heapster", "-o",
                                      "json").stdout)
    assert not heapster.get("rules")
    # what users were given before the restart still holds
    assert eventually(lambda: token_kubectl(srv, d, TOKENS["jane"], "auth", "can-i", "create",
                                            "deployments.apps", "-n", "dev").stdout.strip()
                      == "yes")
