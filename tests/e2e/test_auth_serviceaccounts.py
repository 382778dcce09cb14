"""Service-account tokens against a real server over TLS: ``kubectl create token`` tokens
(plain and pod-bound) used from a kubeconfig, a legacy Secret-based token signed with a
``--service-account-key-file`` key, revocation when the ServiceAccount, the bound Pod or the
Secret goes away, and the issuer discovery endpoints whose JWKS verifies the tokens.

The server runs with ``--token-success-cache-ttl=0s`` so a revocation shows at once."""
from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_support import token_kubectl
from watch_support import ServerGroup

ISSUER = "https://kubernetes.default.svc.cluster.local"
UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"
REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("authn-sa")
    legacy_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (d / "legacy.pub").write_bytes(legacy_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    group = ServerGroup()
    try:
        srv = group.start("--token-success-cache-ttl=0s",
                          "--service-account-key-file", str(d / "legacy.pub"))
        srv.kubectl("create", "serviceaccount", "demo", "-n", "default")
        yield srv, d, legacy_key
    finally:
        group.stop()


def kubectl_as(srv, d, token, *args):
    """kubectl with ``token`` (remembered in ``d/tokens`` for the log check)."""
    with open(d / "tokens", "a") as fh:
        fh.write(token + "\n")
    return token_kubectl(srv, d, token, *args)


def whoami(srv, d, token) -> dict:
    cp = kubectl_as(srv, d, token, "auth", "whoami", "-o", "json")
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)["status"]["userInfo"]


def unauthorized(srv, d, token) -> None:
    cp = kubectl_as(srv, d, token, "auth", "whoami")
    assert cp.returncode != 0
    assert UNAUTHORIZED in cp.stderr, cp.stderr


def review_error(srv, token) -> str:
    """The ``status.error`` of a TokenReview of ``token`` (asked as admin)."""
    status, _, data = srv.request("POST", REVIEWS, body={
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token}})
    assert status == 201, data
    body = json.loads(data)["status"]
    assert not body.get("authenticated")
    return body.get("error", "")


def test_a_created_token_is_the_service_account_and_the_jwks_verifies_it(env):
    srv, d, _ = env
    token = srv.kubectl("create", "token", "demo").stdout.strip()
    info = whoami(srv, d, token)
    uid = srv.kubectl("get", "sa", "demo", "-o", "jsonpath={.metadata.uid}").stdout
    assert info["username"] == "system:serviceaccount:default:demo"
    assert info["uid"] == uid
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert info["extra"] == {"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]}

    # the discovery documents, read with the token itself as a relying party would
    bearer = {"Authorization": f"Bearer {token}"}
    status, headers, data = srv.request("GET", "/.well-known/openid-configuration",
                                        headers=bearer, client_cert=False)
    assert status == 200, data
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "public, max-age=3600"
    config = json.loads(data)
    assert config == {"issuer": ISSUER, "jwks_uri": f"{srv.url}/openid/v1/jwks",
                      "response_types_supported": ["id_token"],
                      "subject_types_supported": ["public"],
                      "id_token_signing_alg_values_supported": ["RS256"]}
    status, headers, data = srv.request("GET", "/openid/v1/jwks", headers=bearer,
                                        client_cert=False)
    assert status == 200, data
    assert headers["content-type"] == "application/jwk-set+json"
    assert headers["cache-control"] == "public, max-age=3600"
    keys = json.loads(data)["keys"]
    assert len(keys) == 2                      # the key file's and the signing key's
    assert all(k["use"] == "sig" and k["alg"] == "RS256" for k in keys)
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in keys if k["kid"] == kid]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=ISSUER,
                        issuer=ISSUER)
    assert claims["sub"] == "system:serviceaccount:default:demo"
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "demo", "uid": uid}
    # RBAC's system:service-account-issuer-discovery grants get only, and authorization
    # comes before the handler's method check, as upstream
    status, _, _ = srv.request("POST", "/openid/v1/jwks", headers=bearer, client_cert=False)
    assert status == 403
    status, _, _ = srv.request("POST", "/openid/v1/jwks")        # cluster-admin
    assert status == 405


def test_a_pod_bound_token_dies_with_its_pod(env):
    srv, d, _ = env
    srv.kubectl("run", "web", "--image", "nginx", "--restart", "Never",
                "--overrides", json.dumps({"spec": {"serviceAccountName": "demo"}}))
    token = srv.kubectl("create", "token", "demo", "--bound-object-kind", "Pod",
                        "--bound-object-name", "web").stdout.strip()
    pod_uid = srv.kubectl("get", "pod", "web", "-o", "jsonpath={.metadata.uid}").stdout
    extra = whoami(srv, d, token)["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["web"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [pod_uid]
    srv.kubectl("delete", "pod", "web", "--grace-period", "0", "--force", "--wait")
    unauthorized(srv, d, token)
    assert "service account token has been invalidated" in review_error(srv, token)


def test_a_legacy_secret_token_lives_as_long_as_its_secret(env):
    srv, d, legacy_key = env
    uid = srv.kubectl("get", "sa", "demo", "-o", "jsonpath={.metadata.uid}").stdout
    claims = {"iss": "kubernetes/serviceaccount",
              "sub": "system:serviceaccount:default:demo",
              "kubernetes.io/serviceaccount/namespace": "default",
              "kubernetes.io/serviceaccount/secret.name": "demo-token",
              "kubernetes.io/serviceaccount/service-account.name": "demo",
              "kubernetes.io/serviceaccount/service-account.uid": uid}
    token = jwt.encode(claims, legacy_key, algorithm="RS256")
    unauthorized(srv, d, token)                  # no Secret holds it yet
    srv.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "demo-token", "namespace": "default",
                     "annotations": {"kubernetes.io/service-account.name": "demo"}},
        "data": {"token": base64.b64encode(token.encode()).decode()}}))
    info = whoami(srv, d, token)
    assert info["username"] == "system:serviceaccount:default:demo" and info["uid"] == uid
    assert "extra" not in info
    srv.kubectl("delete", "secret", "demo-token")
    unauthorized(srv, d, token)
    assert "Token has been invalidated" in review_error(srv, token)


def test_a_deleted_service_account_takes_its_tokens(env):
    srv, d, _ = env
    token = srv.kubectl("create", "token", "demo").stdout.strip()
    assert whoami(srv, d, token)["username"] == "system:serviceaccount:default:demo"
    srv.kubectl("delete", "serviceaccount", "demo")
    unauthorized(srv, d, token)
    assert 'serviceaccounts "demo" not found' in review_error(srv, token)
    srv.kubectl("create", "serviceaccount", "demo")      # same name, new uid
    unauthorized(srv, d, token)
    assert "does not match claim" in review_error(srv, token)


def test_no_token_reaches_the_log(env):
    srv, d, _ = env
    log = srv.log_path.read_text(errors="replace")
    used = set((d / "tokens").read_text().split())
    assert len(used) >= 4
    for token in used:
        assert token.split(".")[2] not in log
