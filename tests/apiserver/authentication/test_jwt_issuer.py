"""OIDC ID tokens from a real issuer over HTTPS (the ``--oidc-*`` flags;
kubernetes/apiserver:plugin/pkg/authenticator/token/oidc/oidc.go)."""
from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.jwt_issuer import from_flags
from apiserver.options import Options
from tests.apiserver.authentication.issuer_support import Issuer


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    server = Issuer(tmp_path_factory.mktemp("oidc"))
    yield server
    server.stop()


def make(issuer, **flags):
    options = Options(oidc_issuer_url=issuer.url, oidc_client_id="kubernetes",
                      oidc_ca_file=str(issuer.ca_file), **flags)
    return from_flags(options)


def user(auth, token):
    return auth.authenticate_token(token, ()).user


def test_a_valid_token_is_prefixed_by_the_issuer(issuer):
    got = user(make(issuer), issuer.token(sub="jane"))
    assert got.name == f"{issuer.url}#jane" and got.groups == ()


def test_prefixes_and_groups_as_string_or_list(issuer):
    auth = make(issuer, oidc_username_prefix="oidc:", oidc_groups_claim="groups",
                oidc_groups_prefix="oidc:")
    assert user(auth, issuer.token(sub="system:masters", groups="dev")).name == "oidc:system:masters"
    got = user(auth, issuer.token(groups=["dev", "system:masters"]))
    assert got.groups == ("oidc:dev", "oidc:system:masters")
    assert user(make(issuer, oidc_username_prefix="-"), issuer.token(sub="x")).name == "x"


def test_email_claim_needs_email_verified_when_present(issuer):
    auth = make(issuer, oidc_username_claim="email")
    assert user(auth, issuer.token(email="j@example.com", email_verified=True)).name == \
        "j@example.com"
    assert user(auth, issuer.token(email="j@example.com")).name == "j@example.com"
    with pytest.raises(AuthenticationError, match="email not verified"):
        user(auth, issuer.token(email="j@example.com", email_verified=False))


def forged_none(issuer) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    now = int(time.time())
    return enc({"alg": "none", "kid": "k1"}) + "." + enc(
        {"iss": issuer.url, "aud": "kubernetes", "sub": "admin", "exp": now + 60}) + "."


@pytest.mark.parametrize("case", ["none", "hs256-public-key", "wrong-aud", "expired",
                                  "future-nbf", "other-key", "rs384-not-allowed"])
def test_bad_tokens_are_401(issuer, case):
    auth = make(issuer)
    now = int(time.time())
    public_pem = issuer.keys["k1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = {
        "none": lambda: forged_none(issuer),
        "hs256-public-key": lambda: _hs256(issuer, public_pem),
        "wrong-aud": lambda: issuer.token(aud="other"),
        "expired": lambda: issuer.token(exp=now - 120, iat=now - 900),
        "future-nbf": lambda: issuer.token(nbf=now + 600),
        "other-key": lambda: issuer.token(key=_other_key()),
        "rs384-not-allowed": lambda: issuer.token(alg="RS384"),
    }[case]()
    with pytest.raises(AuthenticationError):
        auth.authenticate_token(token, ())


def _hs256(issuer, secret: bytes) -> str:
    import hashlib
    import hmac
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    signing = enc({"alg": "HS256", "kid": "k1"}) + "." + enc(
        {"iss": issuer.url, "aud": "kubernetes", "sub": "admin", "exp": int(time.time()) + 60})
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def _other_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_other_issuers_and_non_jwts_are_left_to_others(issuer):
    auth = make(issuer)
    assert auth.authenticate_token("not-a-jwt", ()) is None
    assert auth.authenticate_token(issuer.token(iss="https://elsewhere"), ()) is None


def test_required_claims(issuer):
    auth = make(issuer, oidc_required_claims=(("hd", "example.com"),))
    assert user(auth, issuer.token(hd="example.com")).name.endswith("#user-1")
    for token in (issuer.token(), issuer.token(hd="evil.com")):
        with pytest.raises(AuthenticationError, match="required claim hd"):
            user(auth, token)


def test_a_new_key_id_is_fetched(issuer):
    auth = make(issuer)
    user(auth, issuer.token())
    auth.keys.refetch_seconds = 0
    issuer.rotate("k2")
    assert user(auth, issuer.token(kid="k2")).name.endswith("#user-1")


def test_discovery_must_name_the_issuer(issuer):
    issuer.discovered_issuer = "https://impostor"
    try:
        with pytest.raises(AuthenticationError, match="issuer did not match"):
            make(issuer).authenticate_token(issuer.token(), ())
    finally:
        issuer.discovered_issuer = None


def test_flags_are_checked():
    with pytest.raises(ValueError, match="https"):
        from_flags(Options(oidc_issuer_url="http://x", oidc_client_id="k"))
    with pytest.raises(ValueError, match="HS256"):
        from_flags(Options(oidc_issuer_url="https://x", oidc_client_id="k",
                           oidc_signing_algs=("HS256",)))
    assert from_flags(Options()) is None


# ---- --authentication-config -------------------------------------------------------------
def config(tmp_path, issuer, **extra) -> Options:
    doc = {"apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration",
           "jwt": [{"issuer": {"url": issuer.url, "audiences": ["other", "kubernetes"],
                               "certificateAuthority": issuer.ca.pem.decode()},
                    "claimMappings": {"username": {"claim": "email", "prefix": "corp:"},
                                      "groups": {"claim": "roles", "prefix": ""}},
                    "claimValidationRules": [{"claim": "hd", "requiredValue": "example.com"}]},
                   {"issuer": {"url": "https://second.example", "audiences": ["k"]},
                    "claimMappings": {"username": {"claim": "sub", "prefix": ""}}}],
           **extra}
    path = tmp_path / "authn.yaml"
    path.write_text(json.dumps(doc))
    return Options(authentication_config=str(path))


def test_config_issuers_claim_mappings_and_rules(tmp_path, issuer):
    from apiserver.authentication.jwt_config import from_options
    from apiserver.authentication.mechanisms import Dependencies

    auth = from_options(Dependencies(options=config(tmp_path, issuer)))
    got = auth.authenticate_token(issuer.token(email="j@example.com", hd="example.com",
                                               roles=["ops"]), ()).user
    assert (got.name, got.groups) == ("corp:j@example.com", ("ops",))
    with pytest.raises(AuthenticationError, match="required claim hd"):
        auth.authenticate_token(issuer.token(email="j@example.com"), ())
    assert auth.authenticate_token(issuer.token(iss="https://third.example"), ()) is None


def test_config_cel_mappings_and_rules(tmp_path, issuer):
    from apiserver.authentication.jwt_config import from_options
    from apiserver.authentication.mechanisms import Dependencies

    options = config(tmp_path, issuer)
    doc = json.loads(open(options.authentication_config).read())
    doc["jwt"][0]["claimMappings"] = {
        "username": {"expression": "'corp:' + claims.email"},
        "groups": {"expression": "claims.roles.map(r, 'corp:' + r)"},
        "uid": {"claim": "sub"},
        "extra": [{"key": "example.com/team", "valueExpression": "claims.team"}]}
    doc["jwt"][0]["claimValidationRules"] = [
        {"expression": "claims.exp - claims.iat <= 3600", "message": "token lives too long"}]
    doc["jwt"][0]["userValidationRules"] = [
        {"expression": "!user.username.startsWith('corp:system@')",
         "message": "no system users"}]
    (tmp_path / "authn.yaml").write_text(json.dumps(doc))
    auth = from_options(Dependencies(options=options))
    got = auth.authenticate_token(issuer.token(email="jo@example.com", roles=["dev"], team="blue"),
                                  ()).user
    assert (got.name, got.uid, got.groups, got.extra) == (
        "corp:jo@example.com", "user-1", ("corp:dev",), {"example.com/team": ["blue"]})
    now = int(__import__("time").time())
    with pytest.raises(AuthenticationError, match="token lives too long"):
        auth.authenticate_token(issuer.token(email="jo@example.com", roles=[], team="x",
                                             iat=now, exp=now + 7200), ())
    with pytest.raises(AuthenticationError, match="no system users"):
        auth.authenticate_token(issuer.token(email="system@example.com", roles=[], team="x"), ())


def test_config_refuses_what_it_cannot_do(tmp_path, issuer):
    from apiserver.authentication.jwt_config import from_options
    from apiserver.authentication.mechanisms import Dependencies

    options = config(tmp_path, issuer)
    doc = json.loads(open(options.authentication_config).read())
    doc["jwt"][0]["claimMappings"]["username"] = {"expression": "claims.("}
    (tmp_path / "authn.yaml").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"jwt\[0\]\.claimMappings\.username\.expression.*"
                                         "compilation failed"):
        from_options(Dependencies(options=options))
    doc["jwt"][0]["claimMappings"]["username"] = {"claim": "email"}
    (tmp_path / "authn.yaml").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="prefix is required"):
        from_options(Dependencies(options=options))


def test_config_anonymous_section(tmp_path, issuer):
    from apiserver.authentication.mechanisms import anonymous_for

    on = config(tmp_path, issuer, anonymous={"enabled": True,
                                            "conditions": [{"path": "/livez"}]})
    assert anonymous_for(on).paths == ("/livez",)
    off = config(tmp_path, issuer, anonymous={"enabled": False})
    assert anonymous_for(off) is None
