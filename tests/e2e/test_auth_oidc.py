"""OIDC ID tokens against real servers (kube-apiserver authentication mechanism 8): issuers
run by the test over HTTPS with CAs it made, one server started with the ``--oidc-*``
flags and one with an ``--authentication-config`` file holding two issuers and CEL
mappings; raw HTTPS ``Authorization: Bearer`` requests and ``kubectl --token`` as clients."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import KUBECTL
from tests.apiserver.authentication.test_oidc_issuer import LocalIssuer
from watch_support import ServerGroup

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}



@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("oidc-e2e")
    a, b = LocalIssuer(d), LocalIssuer(d, kind="EC", path="/tenant-b")
    config = d / "authn.yaml"
    config.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration",
        "jwt": [
            {"issuer": {"url": a.url, "audiences": ["cluster"], "certificateAuthority": a.ca_pem},
             "claimMappings": {
                 "username": {"expression": "'corp:' + claims.email"},
                 "groups": {"expression": "claims.roles.map(r, 'corp:' + r)"}},
             "claimValidationRules": [
                 {"expression": "claims.email_verified == true", "message": "verify the email"},
                 {"expression": "claims.email.endsWith('@example.com')",
                  "message": "only example.com"}]},
            {"issuer": {"url": b.url, "audiences": ["cluster"], "certificateAuthority": b.ca_pem},
             "claimMappings": {"username": {"claim": "sub", "prefix": "b:"}}}]}))
    group = ServerGroup()
    try:
        flags = group.start("--oidc-issuer-url", a.url, "--oidc-client-id", "kubernetes",
                            "--oidc-ca-file", str(a.ca_file), "--oidc-username-prefix", "oidc:",
                            "--oidc-groups-claim", "groups", "--oidc-groups-prefix", "oidc:",
                            "--oidc-required-claim", "hd=example.com")
        configured = group.start("--authentication-config", str(config))
        yield a, b, flags, configured, d
    finally:
        group.stop()
        a.stop()
        b.stop()


def whoami(srv, token):
    status, _, data = srv.request("POST", WHOAMI, body=REVIEW, client_cert=False,
                                  headers={"Authorization": f"Bearer {token}"})
    return status, json.loads(data or b"null")


def kubectl(srv, directory, token, *args):
    """kubectl with a kubeconfig naming only the cluster, and ``--token``."""
    path = directory / f"cluster-{srv.port}.kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "e2e", "cluster": {"server": srv.url,
                                                  "certificate-authority": str(srv.ca)}}],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "e2e", "user": "nobody"}}]}))
    return subprocess.run([KUBECTL, "--kubeconfig", str(path), "--cache-dir",
                           str(directory / "cache"), "--token", token, *args],
                          capture_output=True, text=True, timeout=60)


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(issuer, alg: str) -> str:
    """``alg: none``, or HS256 keyed with the issuer's public key as published."""
    claims = {"iss": issuer.url, "aud": "kubernetes", "sub": "admin", "hd": "example.com",
              "groups": ["system:masters"], "exp": int(time.time()) + 600}
    signing = _b64({"alg": alg, "kid": "k1"}) + "." + _b64(claims)
    if alg == "none":
        return signing + "."
    secret = issuer.keys["k1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return signing + "." + _b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def test_a_selfsubjectreview_with_an_id_token(env):
    a, _, srv, _, _ = env
    status, body = whoami(srv, a.token(sub="jane", groups=["dev", "system:masters"],
                                       hd="example.com"))
    assert status == 201, body
    assert body["status"]["userInfo"] == {
        "username": "oidc:jane", "groups": ["oidc:dev", "oidc:system:masters",
                                            "system:authenticated"]}


def test_kubectl_token_whoami(env):
    a, _, srv, _, d = env
    out = kubectl(srv, d, a.token(sub="system:masters", groups="ops", hd="example.com"),
                  "auth", "whoami", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"]["userInfo"] == {
        "username": "oidc:system:masters", "groups": ["oidc:ops", "system:authenticated"]}


def test_forged_and_invalid_tokens_are_401(env):
    a, b, srv, _, d = env
    now = int(time.time())
    good = {"hd": "example.com"}
    tokens = {
        "alg none": forged(a, "none"),
        "HS256 with the public key": forged(a, "HS256"),
        "another issuer's key": b.token(iss=a.url, **good),
        "wrong aud": a.token(aud="elsewhere", **good),
        "expired": a.token(exp=now - 120, iat=now - 900, **good),
        "future nbf": a.token(nbf=now + 900, **good),
        "required claim missing": a.token(),
        "required claim wrong": a.token(hd="evil.example"),
    }
    for case, token in tokens.items():
        status, body = whoami(srv, token)
        assert (status, body["reason"]) == (401, "Unauthorized"), case
    status, _ = whoami(srv, a.token(iss="https://unknown.example", **good))
    assert status == 401                        # no authenticator claims it: not anonymous
    out = kubectl(srv, d, tokens["expired"], "get", "pods")
    assert out.returncode != 0 and "You must be logged in to the server" in out.stderr


def test_an_authentication_config_with_two_issuers_and_cel(env):
    a, b, _, srv, d = env
    status, body = whoami(srv, a.token(aud="cluster", email="ann@example.com",
                                       email_verified=True, roles=["ops"]))
    assert status == 201, body
    assert body["status"]["userInfo"] == {"username": "corp:ann@example.com",
                                          "groups": ["corp:ops", "system:authenticated"]}
    out = kubectl(srv, d, b.token(aud="cluster", sub="bob"), "auth", "whoami", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"]["userInfo"] == {
        "username": "b:bob", "groups": ["system:authenticated"]}
    for token in (a.token(aud="cluster", email="ann@example.com", email_verified=False,
                          roles=[]),
                  a.token(aud="cluster", email="ann@evil.example", email_verified=True,
                          roles=[]),
                  a.token(email="ann@example.com", email_verified=True, roles=[]),   # aud
                  b.token(aud="cluster", sub="bob", key=b.new_key())):
        assert whoami(srv, token)[0] == 401
