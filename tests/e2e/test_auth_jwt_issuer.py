"""OIDC ID tokens against a real server: a test-run issuer over HTTPS with its own CA, the
server started with the ``--oidc-*`` flags (and, in a second server, an
``--authentication-config`` file), kubectl and raw HTTPS as the clients."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import KUBECTL
from tests.apiserver.authentication.issuer_support import Issuer
from watch_support import ServerGroup

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("oidc-e2e")
    issuer = Issuer(d)
    config = d / "authn.json"
    config.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration",
        "jwt": [{"issuer": {"url": issuer.url, "audiences": ["cluster-b"],
                            "certificateAuthority": issuer.ca.pem.decode()},
                 "claimMappings": {"username": {"expression": "'corp:' + claims.email"},
                                   "groups": {"expression": "claims.roles"}},
                 "claimValidationRules": [{"expression": "claims.email.endsWith('@example.com')",
                                           "message": "only example.com"}]}]}))
    group, second = ServerGroup(), ServerGroup()
    try:
        srv = group.start("--oidc-issuer-url", issuer.url, "--oidc-client-id", "kubernetes",
                          "--oidc-ca-file", str(issuer.ca_file), "--oidc-username-prefix", "oidc:",
                          "--oidc-groups-claim", "groups", "--oidc-groups-prefix", "oidc:",
                          "--oidc-required-claim", "hd=example.com")
        srv2 = second.start("--authentication-config", str(config))
        yield issuer, srv, srv2, d
    finally:
        group.stop()
        second.stop()
        issuer.stop()


def whoami(srv, token):
    status, _, data = srv.request("POST", WHOAMI, body=REVIEW, client_cert=False,
                                  headers={"Authorization": f"Bearer {token}"})
    return status, json.loads(data or b"null")


def kubectl(srv, d, token, *args):
    cmd = [KUBECTL, "--kubeconfig", "/dev/null", "--server", srv.url, "--certificate-authority",
           str(srv.ca), "--token", token, "--cache-dir", str(d / "cache"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_kubectl_whoami_with_an_id_token(env):
    issuer, srv, _, d = env
    token = issuer.token(sub="jane", groups=["dev", "system:masters"], hd="example.com")
    out = kubectl(srv, d, token, "auth", "whoami", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"]["userInfo"] == {
        "username": "oidc:jane", "groups": ["oidc:dev", "oidc:system:masters",
                                            "system:authenticated"]}


def test_forged_expired_and_foreign_tokens_are_401(env):
    issuer, srv, _, d = env
    now = int(time.time())
    for token in (issuer.token(hd="example.com", exp=now - 300, iat=now - 900),
                  issuer.token(hd="example.com", aud="elsewhere"),
                  issuer.token(),                                      # no hd claim
                  issuer.token(hd="example.com", iss="https://elsewhere.example")):
        status, body = whoami(srv, token)
        assert status == 401 and body["reason"] == "Unauthorized", token
    out = kubectl(srv, d, issuer.token(hd="example.com", exp=now - 300, iat=now - 900),
                  "get", "pods")
    assert out.returncode != 0 and "You must be logged in to the server" in out.stderr


def test_authentication_config_issuer(env):
    issuer, _, srv2, _ = env
    status, body = whoami(srv2, issuer.token(aud="cluster-b", email="ann@example.com",
                                             roles=["ops"]))
    assert status == 201
    assert body["status"]["userInfo"] == {"username": "corp:ann@example.com",
                                          "groups": ["ops", "system:authenticated"]}
    assert whoami(srv2, issuer.token(email="ann@example.com", roles=[]))[0] == 401  # aud
    assert whoami(srv2, issuer.token(aud="cluster-b", email="ann@evil.com", roles=[]))[0] == 401
