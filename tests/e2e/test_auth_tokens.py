"""Static tokens (``--token-auth-file``), BasicAuth users (``--basic-auth-file``) and Django
users against a real server over TLS: kubectl with a token kubeconfig, raw HTTPS with
``Authorization: Basic``, and a Django user made with ``manage.py`` on the server's database."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT
from auth_support import token_kubectl
from watch_support import ServerGroup

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
TOKEN = "e2e-static-token-31415926535"
TOKENS = (f'{TOKEN},tina,uid-tina,"dev,qa"\n'
          ",skipped,uid-skipped\n"
          "second-token-27182818,tom,uid-tom\n")
PASSWORDS = 'b4sic-pw,bea,uid-bea,"ops,audit"\n'


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("authn-tokens")
    (d / "tokens.csv").write_text(TOKENS)
    (d / "passwords.csv").write_text(PASSWORDS)
    group = ServerGroup()
    try:
        srv = group.start("--token-auth-file", str(d / "tokens.csv"),
                          "--basic-auth-file", str(d / "passwords.csv"))
        yield group, srv, d
    finally:
        group.stop()


def kubectl_as(srv, d, token, *args):
    return token_kubectl(srv, d, token, *args)


def whoami_basic(srv, user, password):
    """(status, body, seconds) of a SelfSubjectReview sent with BasicAuth only."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    started = time.perf_counter()
    status, _, data = srv.request("POST", WHOAMI, body=REVIEW, client_cert=False,
                                  headers={"Authorization": f"Basic {auth}"})
    return status, json.loads(data or b"null"), time.perf_counter() - started


def manage(group, *args):
    """``manage.py`` on the server's database (its DATABASE_URL or its data dir)."""
    env = dict(os.environ, DJANGO_SUPERUSER_PASSWORD="dj-initial-pw")
    env.pop("DATABASE_URL", None)
    env["APISERVER_DATA_DIR"] = str(group.data_dir)
    if group.db_url:
        env["DATABASE_URL"] = group.db_url
    cp = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp.stdout


def test_kubectl_whoami_with_a_token_of_the_file(env):
    _, srv, d = env
    cp = kubectl_as(srv, d, TOKEN, "auth", "whoami", "-o", "json")
    assert cp.returncode == 0, cp.stderr
    info = json.loads(cp.stdout)["status"]["userInfo"]
    assert info == {"username": "tina", "uid": "uid-tina",
                    "groups": ["dev", "qa", "system:authenticated"]}
    cp = kubectl_as(srv, d, "second-token-27182818", "auth", "whoami", "-o", "json")
    assert json.loads(cp.stdout)["status"]["userInfo"]["groups"] == ["system:authenticated"]


def test_a_wrong_token_is_unauthorized(env):
    _, srv, d = env
    cp = kubectl_as(srv, d, TOKEN + "x", "auth", "whoami")
    assert cp.returncode != 0 and "Unauthorized" in cp.stderr
    status, _, data = srv.request("GET", "/api", client_cert=False,
                                  headers={"Authorization": "Bearer "})
    assert status == 401 and json.loads(data)["reason"] == "Unauthorized"


def test_basic_auth_file_user(env):
    _, srv, _ = env
    status, body, _ = whoami_basic(srv, "bea", "b4sic-pw")
    assert status == 201, body
    assert body["status"]["userInfo"] == {"username": "bea", "uid": "uid-bea",
                                          "groups": ["ops", "audit", "system:authenticated"]}
    for user, password in (("bea", "wrong"), ("nobody", "b4sic-pw")):
        status, body, _ = whoami_basic(srv, user, password)
        assert status == 401 and body["reason"] == "Unauthorized"
    status, _, _ = srv.request("POST", WHOAMI, body=REVIEW, client_cert=False,
                               headers={"Authorization": "Basic not-base64!"})
    assert status == 401


def test_django_user_password_cache_and_password_change(env):
    group, srv, _ = env
    manage(group, "createsuperuser", "--noinput", "--username", "dj", "--email", "dj@example.com")
    manage(group, "shell", "-c",
           "from django.contrib.auth.models import Group, User\n"
           "User.objects.get(username='dj').groups.add(Group.objects.create(name='dj-team'))")
    status, body, first = whoami_basic(srv, "dj", "dj-initial-pw")
    assert status == 201, body
    info = body["status"]["userInfo"]
    assert info["username"] == "dj" and info["groups"] == ["dj-team", "system:authenticated"]
    assert info["uid"].isdigit()
    # within the TTL the password is not hashed again (Django's PBKDF2 costs ~0.3 s here)
    again = min(whoami_basic(srv, "dj", "dj-initial-pw")[2] for _ in range(3))
    assert again < first / 2, (first, again)

    status, _, _ = whoami_basic(srv, "dj", "not-the-password")
    assert status == 401
    manage(group, "shell", "-c",
           "from django.contrib.auth.models import User\n"
           "u = User.objects.get(username='dj'); u.set_password('dj-changed-pw'); u.save()")
    status, _, _ = whoami_basic(srv, "dj", "dj-initial-pw")      # at once, within the TTL
    assert status == 401
    status, body, _ = whoami_basic(srv, "dj", "dj-changed-pw")
    assert status == 201 and body["status"]["userInfo"]["username"] == "dj"


def test_no_credential_reaches_the_log(env):
    _, srv, _ = env
    log = srv.log_path.read_text(errors="replace")
    for secret in (TOKEN, "b4sic-pw", "dj-initial-pw", "dj-changed-pw"):
        assert secret not in log
    assert "empty token has been found" in log and "line 2" in log


def test_a_bad_token_file_stops_the_server(tmp_path):
    bad = tmp_path / "tokens.csv"
    bad.write_text("fine-token,ann,uid-ann\nshort-secret,bob\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "APISERVER_DATA_DIR")}
    cp = subprocess.run([sys.executable, "manage.py", "apiserver", "--data-dir",
                         str(tmp_path / "data"), "--secure-port", "0",
                         "--token-auth-file", str(bad)],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0
    out = cp.stdout + cp.stderr
    assert f"token file '{bad}' line 2: must have at least 3 columns" in out
    assert "short-secret" not in out
