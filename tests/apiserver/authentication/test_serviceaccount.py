"""Service-account tokens against objects handed out by a dict-backed ``get_object``
(upstream kubernetes/kubernetes:pkg/serviceaccount/jwt.go, legacy.go and claims.go), the key
files as keyutil reads them, and the issuer discovery documents (openidmetadata.go)."""
from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from apiserver.authentication import mechanisms
from apiserver.authentication import serviceaccount_tokens as tokens
from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.serviceaccount import (from_options, parse_public_keys_pem,
                                                     unverified_issuer)
from apiserver.endpoints.openid import OpenIDMetadata, install_problem
from apiserver.options import Options

ISSUER = "https://kubernetes.default.svc.cluster.local"
NS, SA, SA_UID = "default", "demo", "uid-sa-1"


def obj(kind, name, uid, namespace=NS, deleted_ago=None, **fields):
    meta = {"name": name, "uid": uid}
    if namespace:
        meta["namespace"] = namespace
    if deleted_ago is not None:
        stamp = time.gmtime(time.time() - deleted_ago)
        meta["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp)
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **fields}


class Objects:
    """``get_object`` over a dict keyed (resource, namespace, name)."""

    def __init__(self, *items):
        self.items = {}
        for item in items:
            self.put(item)

    def put(self, item):
        resource = {"ServiceAccount": "serviceaccounts", "Secret": "secrets", "Pod": "pods",
                    "Node": "nodes"}[item["kind"]]
        meta = item["metadata"]
        self.items[(resource, meta.get("namespace", ""), meta["name"])] = item

    def delete(self, resource, namespace, name):
        del self.items[(resource, namespace, name)]

    def __call__(self, resource, namespace, name):
        return self.items.get((resource, namespace, name))


@pytest.fixture(scope="module")
def issuer():
    return tokens.Issuer("", ISSUER)


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def objects():
    return Objects(obj("ServiceAccount", SA, SA_UID))


def authenticator(issuer, objects, key_files=(), **options):
    o = dataclasses.replace(Options(), service_account_key_files=tuple(key_files), **options)
    return from_options(mechanisms.Dependencies(
        o, get_object=objects, token_issuer=issuer, api_audiences=mechanisms.api_audiences(o)))


def bound(issuer, objects, audiences=(ISSUER,), seconds=3600, now=None, **bound_to):
    account = objects("serviceaccounts", NS, SA)
    claims = tokens.bound_claims(ISSUER, account, list(audiences), seconds, now=now, **bound_to)
    return tokens.sign(claims, issuer.private_key)


def signed(claims, key, alg="RS256", kid=None):
    headers = {"kid": kid if kid is not None else tokens.key_id(key.public_key())}
    if not headers["kid"]:
        headers = {}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def authenticate(issuer, objects, token, audiences=(ISSUER,), **options):
    return authenticator(issuer, objects, **options).authenticate_token(token, audiences)


def rejected(issuer, objects, token, audiences=(ISSUER,), **options) -> str:
    with pytest.raises(AuthenticationError) as info:
        authenticate(issuer, objects, token, audiences, **options)
    assert token not in str(info.value)
    return str(info.value)


# ---- bound tokens ----------------------------------------------------------------------------
def test_a_bound_token_is_the_service_account(issuer, objects):
    token = bound(issuer, objects)
    response = authenticate(issuer, objects, token)
    user = response.user
    assert user.name == "system:serviceaccount:default:demo"
    assert user.uid == SA_UID
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:default")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert user.extra == {"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]}
    assert response.audiences == (ISSUER,)


def test_a_pod_bound_token_names_its_pod_and_node(issuer, objects):
    pod = obj("Pod", "web-1", "uid-pod", spec={"nodeName": "n1"})
    node = obj("Node", "n1", "uid-node", namespace="")
    objects.put(pod)
    objects.put(node)
    token = bound(issuer, objects, pod=pod, node=node)
    extra = authenticate(issuer, objects, token).user.extra
    assert extra["authentication.kubernetes.io/pod-name"] == ["web-1"]
    assert extra["authentication.kubernetes.io/pod-uid"] == ["uid-pod"]
    assert extra["authentication.kubernetes.io/node-name"] == ["n1"]
    assert extra["authentication.kubernetes.io/node-uid"] == ["uid-node"]
    # a pod-bound token's node is not looked up (upstream only reads its claims)
    objects.delete("nodes", "", "n1")
    assert authenticate(issuer, objects, token).user.name.endswith(":demo")


def test_a_deleted_or_replaced_pod_invalidates_its_token(issuer, objects):
    pod = obj("Pod", "web-1", "uid-pod")
    objects.put(pod)
    token = bound(issuer, objects, pod=pod)
    objects.put(obj("Pod", "web-1", "uid-pod-2"))
    assert rejected(issuer, objects, token) == (
        "pod UID (uid-pod-2) does not match service account pod ref claim (uid-pod)")
    objects.delete("pods", NS, "web-1")
    assert rejected(issuer, objects, token) == "service account token has been invalidated"


def test_a_pod_being_deleted_keeps_its_token_for_the_leeway_only(issuer, objects):
    objects.put(obj("Pod", "web-1", "uid-pod", deleted_ago=30))
    token = bound(issuer, objects, pod=objects("pods", NS, "web-1"))
    assert authenticate(issuer, objects, token) is not None
    objects.put(obj("Pod", "web-1", "uid-pod", deleted_ago=120))
    assert rejected(issuer, objects, token) == "service account token has been invalidated"


def test_a_deleted_bound_secret_invalidates_its_token(issuer, objects):
    secret = obj("Secret", "s1", "uid-secret", type="Opaque")
    objects.put(secret)
    token = bound(issuer, objects, secret=secret)
    assert authenticate(issuer, objects, token).user.extra.keys() == {
        "authentication.kubernetes.io/credential-id"}
    objects.put(obj("Secret", "s1", "uid-secret-2"))
    assert "secret UID (uid-secret-2) does not match" in rejected(issuer, objects, token)
    objects.delete("secrets", NS, "s1")
    assert rejected(issuer, objects, token) == "service account token has been invalidated"


def test_a_node_bound_token_needs_its_node(issuer, objects):
    node = obj("Node", "n1", "uid-node", namespace="")
    objects.put(node)
    token = bound(issuer, objects, node=node)
    extra = authenticate(issuer, objects, token).user.extra
    assert extra["authentication.kubernetes.io/node-name"] == ["n1"]
    assert "authentication.kubernetes.io/pod-name" not in extra
    objects.delete("nodes", "", "n1")
    assert rejected(issuer, objects, token) == "service account token has been invalidated"


def test_a_deleted_service_account_invalidates_its_tokens(issuer, objects):
    token = bound(issuer, objects)
    objects.delete("serviceaccounts", NS, SA)
    assert rejected(issuer, objects, token) == 'serviceaccounts "demo" not found'


def test_a_recreated_service_account_does_not_take_the_old_tokens(issuer, objects):
    token = bound(issuer, objects)
    objects.put(obj("ServiceAccount", SA, "uid-sa-2"))
    assert rejected(issuer, objects, token) == (
        "service account UID (uid-sa-2) does not match claim (uid-sa-1)")


def test_a_service_account_deleted_longer_ago_than_the_leeway(issuer, objects):
    token = bound(issuer, objects)
    objects.put(obj("ServiceAccount", SA, SA_UID, deleted_ago=10))
    assert authenticate(issuer, objects, token) is not None
    objects.put(obj("ServiceAccount", SA, SA_UID, deleted_ago=90))
    assert rejected(issuer, objects, token) == "service account default/demo has been deleted"


@pytest.mark.parametrize("offset, seconds, reason", [
    (-3700, 3600, "service account token has expired"),            # 100 s past exp
    (120, 3600, "service account token is not valid yet"),          # nbf 2 min ahead
])
def test_times_are_checked_with_a_minute_of_leeway(issuer, objects, offset, seconds, reason):
    now = int(time.time())
    assert rejected(issuer, objects, bound(issuer, objects, seconds=seconds,
                                           now=now + offset)) == reason
    # within the leeway: 30 s past exp, nbf 30 s ahead
    inside = now - seconds - 30 if offset < 0 else now + 30
    assert authenticate(issuer, objects, bound(issuer, objects, seconds=seconds, now=inside))


def test_issued_in_the_future(issuer, objects):
    claims = tokens.bound_claims(ISSUER, objects("serviceaccounts", NS, SA), [ISSUER], 3600)
    claims["iat"] = claims["nbf"] = int(time.time())
    claims["iat"] += 600
    token = tokens.sign(claims, issuer.private_key)
    assert rejected(issuer, objects, token) == "service account token is issued in the future"


def test_the_audiences_must_meet_those_asked_for(issuer, objects):
    token = bound(issuer, objects, audiences=("vault", "other"))
    assert rejected(issuer, objects, token) == (
        'token audiences ["vault" "other"] is invalid for the target audiences '
        '["https://kubernetes.default.svc.cluster.local"]')
    # a TokenReview naming the token's audience gets it back
    assert authenticate(issuer, objects, token, audiences=("x", "vault")).audiences == ("vault",)
    # --api-audiences changes the default
    assert authenticate(issuer, objects, token, audiences=(), api_audiences=("other",))


def test_another_issuer_is_not_ours(issuer, objects, other_key):
    claims = {"iss": "https://accounts.example.com", "sub": "alice", "aud": ISSUER,
              "exp": int(time.time()) + 600}
    assert authenticate(issuer, objects, signed(claims, other_key)) is None
    assert authenticate(issuer, objects, signed(claims, issuer.private_key)) is None
    for token in ("opaque-static-token", "abc123.0123456789abcdef", "a.b.c", "{}.e30.x", ""):
        assert authenticate(issuer, objects, token) is None
    assert unverified_issuer("x." + b64url(b'{"iss": 7}') + ".y") is None


def test_a_configured_issuer_is_what_bound_tokens_need(issuer, objects):
    token = bound(issuer, objects)        # iss is the default issuer
    assert authenticate(issuer, objects, token,
                        service_account_issuer="https://issuer.example") is None


def test_another_key_does_not_verify(issuer, objects, other_key):
    claims = jwt.decode(bound(issuer, objects), options={"verify_signature": False})
    assert rejected(issuer, objects, signed(claims, other_key)) == (
        "invalid signature, no keys found")                   # its kid is not ours
    assert rejected(issuer, objects, signed(claims, other_key, kid="")) == (
        "go-jose/go-jose: error in cryptographic primitive")


def test_a_tampered_payload_fails_the_signature(issuer, objects):
    header, payload, signature = bound(issuer, objects).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    forged = ".".join((header, b64url(json.dumps(claims).encode()), signature))
    assert rejected(issuer, objects, forged) == "go-jose/go-jose: error in cryptographic primitive"


def test_alg_none_is_refused(issuer, objects):
    claims = jwt.decode(bound(issuer, objects), options={"verify_signature": False})
    for header in ({"alg": "none"}, {"alg": "none", "kid": tokens.key_id(
            issuer.private_key.public_key())}):
        token = b64url(json.dumps(header).encode()) + "." + b64url(
            json.dumps(claims).encode()) + "."
        assert rejected(issuer, objects, token) == "go-jose/go-jose: unknown/unsupported algorithm"


def test_hs256_signed_with_the_public_key_is_refused(issuer, objects):
    public_pem = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = jwt.decode(bound(issuer, objects), options={"verify_signature": False})
    header = {"alg": "HS256", "kid": tokens.key_id(issuer.private_key.public_key())}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + b64url(mac)
    assert rejected(issuer, objects, token) == "go-jose/go-jose: unknown/unsupported algorithm"


def test_missing_private_claim(issuer, objects):
    claims = {"iss": ISSUER, "aud": [ISSUER], "sub": "system:serviceaccount:default:demo",
              "exp": int(time.time()) + 600}
    assert "unexpected private claim" in rejected(issuer, objects,
                                                  signed(claims, issuer.private_key))


# ---- legacy Secret-based tokens --------------------------------------------------------------
def legacy_claims(secret="demo-token", uid=SA_UID, sub="system:serviceaccount:default:demo"):
    return {"iss": "kubernetes/serviceaccount", "sub": sub,
            "kubernetes.io/serviceaccount/namespace": NS,
            "kubernetes.io/serviceaccount/secret.name": secret,
            "kubernetes.io/serviceaccount/service-account.name": SA,
            "kubernetes.io/serviceaccount/service-account.uid": uid}


def token_secret(token, name="demo-token", type_="kubernetes.io/service-account-token", **meta):
    secret = obj("Secret", name, "uid-secret", type=type_,
                 data={"token": base64.b64encode(token.encode()).decode()})
    secret["metadata"].update(meta)
    return secret


def test_a_legacy_token_with_its_secret(issuer, objects):
    token = signed(legacy_claims(), issuer.private_key)
    objects.put(token_secret(token))
    response = authenticate(issuer, objects, token)
    assert response.user.name == "system:serviceaccount:default:demo"
    assert response.user.uid == SA_UID
    assert response.user.groups == ("system:serviceaccounts", "system:serviceaccounts:default")
    assert response.user.extra == {}
    assert response.audiences == (ISSUER,)
    # legacy tokens are good for the API's audiences only
    assert "is invalid for the target audiences" in rejected(issuer, objects, token,
                                                             audiences=("vault",))


def test_a_legacy_token_whose_secret_is_gone_or_changed(issuer, objects):
    token = signed(legacy_claims(), issuer.private_key)
    objects.put(token_secret("some other token"))
    assert rejected(issuer, objects, token) == "Token does not match server's copy"
    objects.put(token_secret(token, type_="Opaque"))
    assert rejected(issuer, objects, token) == "Token has been invalidated"
    objects.put(token_secret(token, deletionTimestamp="2030-01-01T00:00:00Z"))
    assert rejected(issuer, objects, token) == "Token has been invalidated"
    objects.delete("secrets", NS, "demo-token")
    assert rejected(issuer, objects, token) == "Token has been invalidated"
    # without --service-account-lookup nothing is looked up
    assert authenticate(issuer, objects, token, service_account_lookup=False)


def test_a_legacy_token_of_a_deleted_or_recreated_service_account(issuer, objects):
    token = signed(legacy_claims(), issuer.private_key)
    objects.put(token_secret(token))
    objects.put(obj("ServiceAccount", SA, "uid-sa-2"))
    assert rejected(issuer, objects, token) == (
        "ServiceAccount UID (uid-sa-2) does not match claim (uid-sa-1)")
    objects.delete("serviceaccounts", NS, SA)
    assert rejected(issuer, objects, token) == 'serviceaccounts "demo" not found'


def test_a_legacy_token_marked_invalid(issuer, objects):
    token = signed(legacy_claims(), issuer.private_key)
    objects.put(token_secret(token, labels={
        "kubernetes.io/legacy-token-invalid-since": "2030-01-01"}))
    assert "has been marked invalid" in rejected(issuer, objects, token)


@pytest.mark.parametrize("change, reason", [
    ({"sub": ""}, "sub claim is missing"),
    ({"sub": "system:serviceaccount:default:other"}, "sub claim is invalid"),
    ({"sub": "system:serviceaccount:Default:demo"}, "sub claim is invalid"),
    ({"kubernetes.io/serviceaccount/secret.name": ""}, "secretName claim is missing"),
    ({"kubernetes.io/serviceaccount/service-account.uid": ""}, "serviceAccountUID claim"),
])
def test_legacy_claims_must_be_complete(issuer, objects, change, reason):
    claims = legacy_claims()
    claims.update(change)
    token = signed(claims, issuer.private_key)
    assert reason in rejected(issuer, objects, token, service_account_lookup=False)


# ---- key files -------------------------------------------------------------------------------
def certificate(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sa")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(
        key.public_key()).serial_number(1).not_valid_before(now).not_valid_after(
        now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())


def test_key_files_hold_public_keys_private_keys_and_certificates(tmp_path, issuer, objects):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cert_key = ec.generate_private_key(ec.SECP384R1())
    pem = (rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
           + b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
           + ec_key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
           + certificate(cert_key).public_bytes(serialization.Encoding.PEM))
    assert len(parse_public_keys_pem(pem)) == 3
    path = tmp_path / "sa.pem"
    path.write_bytes(pem)
    auth = authenticator(issuer, objects, key_files=[str(path)])
    account = objects("serviceaccounts", NS, SA)
    for key, alg in ((rsa_key, "RS256"), (rsa_key, "PS512"), (ec_key, "ES256"),
                     (cert_key, "ES384")):
        claims = tokens.bound_claims(ISSUER, account, [ISSUER], 600)
        assert auth.authenticate_token(signed(claims, key, alg), (ISSUER,)), alg
    # the curve decides the algorithm: a P-256 key verifies ES256 only
    claims = tokens.bound_claims(ISSUER, account, [ISSUER], 600)
    _, payload, signature = signed(claims, ec_key, "ES256").split(".")
    header = b64url(json.dumps({"alg": "ES384",
                                "kid": tokens.key_id(ec_key.public_key())}).encode())
    with pytest.raises(AuthenticationError, match="unknown/unsupported algorithm"):
        auth.authenticate_token(f"{header}.{payload}.{signature}", (ISSUER,))


def test_unusable_key_files_stop_the_start(tmp_path, issuer, objects):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="data does not contain any valid RSA or ECDSA"):
        authenticator(issuer, objects, key_files=[str(bad)])
    with pytest.raises(ValueError, match="failed to parse key file"):
        authenticator(issuer, objects, key_files=[str(tmp_path / "missing.pem")])


def test_off_without_a_way_to_look_objects_up(issuer):
    deps = mechanisms.Dependencies(Options(), get_object=None, token_issuer=issuer)
    assert from_options(deps) is None


# ---- issuer discovery documents --------------------------------------------------------------
def test_the_discovery_documents_publish_the_verifying_keys(issuer, objects):
    metadata = OpenIDMetadata(dataclasses.replace(Options(), secure_port=7443), issuer)
    keyset = metadata.keyset()
    assert metadata.configuration(keyset) == {
        "issuer": ISSUER, "jwks_uri": "https://127.0.0.1:7443/openid/v1/jwks",
        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"]}
    [key] = keyset["keys"]
    assert list(key) == ["use", "kty", "kid", "alg", "n", "e"]
    assert key["kid"] == tokens.key_id(issuer.private_key.public_key())
    public = jwt.PyJWK(key).key
    token = bound(issuer, objects)
    assert jwt.decode(token, public, algorithms=["RS256"], audience=ISSUER)["sub"] == (
        "system:serviceaccount:default:demo")


@pytest.mark.parametrize("issuer_url, jwks, problem", [
    (ISSUER, "https://h/openid/v1/jwks", None),
    ("http://plain", "https://h/jwks", "must use https"),
    ("https://h?x=1", "https://h/jwks", "may not include a query"),
    ("https://h#f", "https://h/jwks", "may not include a fragment"),
    (ISSUER, "http://h/jwks", "jwksURI requires https"),
])
def test_the_endpoints_need_https_urls(issuer_url, jwks, problem):
    found = install_problem(issuer_url, jwks)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("issuer_url, status", [(ISSUER, 200), ("http://plain-http", 404)])
def test_the_server_chain_serves_the_endpoints_once_installed(db, issuer_url, status):
    from tests.asgi import ASGIClient, in_process_app

    options = dataclasses.replace(Options(), service_account_issuer=issuer_url)
    _, app = in_process_app(options=options)
    client = ASGIClient(app)
    config, keys = (client.get(p) for p in ("/.well-known/openid-configuration",
                                            "/openid/v1/jwks"))
    assert (config.status_code, keys.status_code) == (status, status)
    if status == 200:
        assert config["content-type"] == "application/json"
        assert keys["content-type"] == "application/jwk-set+json"
        assert keys["cache-control"] == "public, max-age=3600"
        assert config.json()["issuer"] == ISSUER
        assert [k["kty"] for k in keys.json()["keys"]] == ["RSA"]
        assert client.request("HEAD", "/openid/v1/jwks").status_code == 405
