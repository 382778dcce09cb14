"""Bootstrap tokens and the TokenReview webhook against a real server over TLS.

The server runs with ``--enable-bootstrap-token-auth`` and a token webhook (an HTTPS
TokenReview server this test runs on 127.0.0.1, requiring the client certificate the test
made for the API server), with ``--token-success-cache-ttl=0s`` so a changed Secret counts at
once.  Bootstrap Secrets are written with the admin kubectl; tokens are sent as raw bearer
headers (SelfSubjectReview) and through kubectl with a token kubeconfig."""
from __future__ import annotations

import base64
import json

import pytest

from tests.apiserver.authentication.webhook_support import ReviewServer
from auth_support import token_kubectl
from watch_support import ServerGroup

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
TOKEN_ID, TOKEN_SECRET = "e2eaaa", "s3cr3tcanary0042"
WEBHOOK_TOKEN = "webhook-e2e-canary-8c1d5e"
WEBHOOK_USER = {"username": "wendy", "uid": "uid-wendy", "groups": ["webhook-team"],
                "extra": {"idp": ["corp"]}}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("authn-bootstrap-webhook")
    webhook = ReviewServer(d, users={WEBHOOK_TOKEN: WEBHOOK_USER})
    group = ServerGroup()
    try:
        srv = group.start("--enable-bootstrap-token-auth", "--token-success-cache-ttl=0s",
                          "--authentication-token-webhook-config-file",
                          str(webhook.kubeconfig()),
                          "--authentication-token-webhook-version", "v1")
        yield srv, webhook, d
    finally:
        try:
            group.stop()
        finally:
            webhook.stop()


def bootstrap_secret(token_id=TOKEN_ID, token_secret=TOKEN_SECRET, **extra) -> str:
    """The manifest of a bootstrap-token Secret (``extra``: more stringData, keys with _)."""
    data = {"token-id": token_id, "token-secret": token_secret,
            "usage-bootstrap-authentication": "true",
            "auth-extra-groups": "system:bootstrappers:e2e-nodes",
            "expiration": "2999-01-01T00:00:00Z"}
    data.update({k.replace("_", "-"): v for k, v in extra.items()})
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
                       "metadata": {"name": f"bootstrap-token-{token_id}",
                                    "namespace": "kube-system"},
                       "stringData": data})


def whoami(srv, token):
    """(status, body) of a SelfSubjectReview sent with ``token`` only."""
    status, _, data = srv.request("POST", WHOAMI, body=REVIEW, client_cert=False,
                                  headers={"Authorization": f"Bearer {token}"})
    return status, json.loads(data or b"null")


def kubectl_as(srv, d, token, *args):
    return token_kubectl(srv, d, token, *args)


def test_bootstrap_token_authenticates_until_it_expires(env):
    srv, _, _ = env
    srv.kubectl("apply", "-f", "-", input=bootstrap_secret())
    token = f"{TOKEN_ID}.{TOKEN_SECRET}"
    status, body = whoami(srv, token)
    assert status == 201, body
    assert body["status"]["userInfo"] == {
        "username": f"system:bootstrap:{TOKEN_ID}",
        "groups": ["system:bootstrappers", "system:bootstrappers:e2e-nodes",
                   "system:authenticated"]}
    status, body = whoami(srv, f"{TOKEN_ID}.0000000000000000")      # wrong secret
    assert status == 401 and body["reason"] == "Unauthorized"

    expired = base64.b64encode(b"2001-01-01T00:00:00Z").decode()
    srv.kubectl("patch", "secret", "-n", "kube-system", f"bootstrap-token-{TOKEN_ID}",
                "--type=merge", "-p", json.dumps({"data": {"expiration": expired}}))
    status, body = whoami(srv, token)
    assert status == 401 and body["reason"] == "Unauthorized"


@pytest.mark.parametrize("token_id, extra", [
    ("e2ebbb", {"auth_extra_groups": "system:masters"}),
    ("e2eccc", {"usage_bootstrap_authentication": "false"}),
])
def test_bootstrap_secrets_that_do_not_vouch_are_401(env, token_id, extra):
    srv, _, _ = env
    srv.kubectl("apply", "-f", "-", input=bootstrap_secret(token_id, **extra))
    status, body = whoami(srv, f"{token_id}.{TOKEN_SECRET}")
    assert status == 401, body


def test_a_bootstrap_secret_being_deleted_is_already_invalid(env):
    srv, _, _ = env
    manifest = json.loads(bootstrap_secret("e2eddd"))
    manifest["metadata"]["finalizers"] = ["e2e.example.com/hold"]
    srv.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    token = f"e2eddd.{TOKEN_SECRET}"
    assert whoami(srv, token)[0] == 201
    srv.kubectl("delete", "secret", "-n", "kube-system", "bootstrap-token-e2eddd", "--wait=false")
    held = srv.get_json("/api/v1/namespaces/kube-system/secrets/bootstrap-token-e2eddd")
    status, _ = whoami(srv, token)
    srv.kubectl("patch", "secret", "-n", "kube-system", "bootstrap-token-e2eddd",
                "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert held["metadata"].get("deletionTimestamp")           # still there, being deleted
    assert status == 401


def test_webhook_token_user_with_kubectl(env):
    srv, webhook, d = env
    cp = kubectl_as(srv, d, WEBHOOK_TOKEN, "auth", "whoami", "-o", "json")
    assert cp.returncode == 0, cp.stderr
    info = json.loads(cp.stdout)["status"]["userInfo"]
    assert info == {"username": "wendy", "uid": "uid-wendy",
                    "groups": ["webhook-team", "system:authenticated"],
                    "extra": {"idp": ["corp"]}}
    call = next(c for c in webhook.calls if c["review"]["spec"]["token"] == WEBHOOK_TOKEN)
    assert call["client_cn"] == "kube-apiserver"
    assert call["review"]["apiVersion"] == "authentication.k8s.io/v1"
    assert call["review"]["spec"]["audiences"]                     # the API's audiences

    cp = kubectl_as(srv, d, "webhook-unknown-token", "auth", "whoami")
    assert cp.returncode != 0 and "Unauthorized" in cp.stderr


def test_webhook_answers_are_cached_and_a_down_webhook_is_401(env):
    srv, webhook, _ = env
    assert whoami(srv, WEBHOOK_TOKEN)[0] == 201
    before = len(webhook.calls)
    assert whoami(srv, WEBHOOK_TOKEN)[0] == 201
    assert len(webhook.calls) == before                 # within the 2m webhook cache TTL
    webhook.stop()
    status, body = whoami(srv, "webhook-token-never-seen")
    assert status == 401 and body["reason"] == "Unauthorized"


def test_no_token_reaches_the_log(env):
    srv, _, _ = env
    log = srv.log_path.read_text(errors="replace")
    for secret in (TOKEN_SECRET, WEBHOOK_TOKEN, "webhook-unknown-token",
                   "webhook-token-never-seen"):
        assert secret not in log
    assert "Failed to make webhook authenticator request" in log
