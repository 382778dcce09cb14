"""ID tokens with the ``--oidc-*`` flags (kubernetes/apiserver:plugin/pkg/authenticator/token/
oidc/oidc.go; the prefix rule of kubernetes/kubernetes:pkg/kubeapiserver/options/
authentication.go), against a real issuer over HTTPS, calling the authenticator that
``apiserver.authentication.jwt.from_options`` builds."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from apiserver.authentication import jwt as oidc
from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.mechanisms import Dependencies
from apiserver.options import Options
from tests.apiserver.authentication.test_oidc_issuer import LocalIssuer


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    server = LocalIssuer(tmp_path_factory.mktemp("oidc-tokens"))
    yield server
    server.stop()


def make(issuer, **flags):
    """The started authenticator of these flags, once its issuer is discovered."""
    flags.setdefault("oidc_client_id", "kubernetes")
    auth = oidc.from_options(Dependencies(options=Options(
        oidc_issuer_url=issuer.url, oidc_ca_file=str(issuer.ca_file), **flags)))
    for member in auth.authenticators:
        assert member.provider.wait_initialized(10), member.provider.last_error
    return auth


def user(auth, token):
    return auth.authenticate_token(token, ()).user


def refused(auth, token) -> str:
    with pytest.raises(AuthenticationError) as info:
        auth.authenticate_token(token, ())
    return str(info.value)


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(issuer, **extra) -> dict:
    return {"iss": issuer.url, "aud": "kubernetes", "sub": "admin",
            "exp": int(time.time()) + 600, **extra}


def alg_none(issuer) -> str:
    return _b64({"alg": "none", "kid": "k1"}) + "." + _b64(_claims(issuer)) + "."


def hs256_with_public_key(issuer) -> str:
    """The classic confusion: the issuer's public key (PEM, as published) as HMAC secret."""
    secret = issuer.keys["k1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing = _b64({"alg": "HS256", "kid": "k1"}) + "." + _b64(_claims(issuer))
    return signing + "." + _b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def test_a_valid_token_is_the_prefixed_subject(issuer):
    got = user(make(issuer), issuer.token(sub="jane"))
    assert (got.name, got.groups, got.uid) == (f"{issuer.url}#jane", (), "")


def test_prefixes_and_groups_as_string_or_array(issuer):
    auth = make(issuer, oidc_username_prefix="oidc:", oidc_groups_claim="groups",
                oidc_groups_prefix="oidc:")
    assert user(auth, issuer.token(groups="dev")).groups == ("oidc:dev",)
    assert user(auth, issuer.token(groups=["dev", "ops"])).groups == ("oidc:dev", "oidc:ops")
    assert user(auth, issuer.token()).groups == ()          # an absent groups claim: none
    assert "parse groups claim" in refused(auth, issuer.token(groups=[1, 2]))
    assert user(make(issuer, oidc_username_prefix="-"), issuer.token(sub="x")).name == "x"


def test_an_idp_cannot_mint_system_names(issuer):
    assert user(make(issuer), issuer.token(sub="system:masters")).name == \
        f"{issuer.url}#system:masters"
    auth = make(issuer, oidc_username_prefix="oidc:", oidc_groups_claim="groups",
                oidc_groups_prefix="oidc:")
    got = user(auth, issuer.token(sub="system:admin", groups=["system:masters"]))
    assert (got.name, got.groups) == ("oidc:system:admin", ("oidc:system:masters",))


def test_the_email_claim_is_unprefixed_and_must_be_verified_when_it_says(issuer):
    auth = make(issuer, oidc_username_claim="email")
    assert user(auth, issuer.token(email="j@example.com")).name == "j@example.com"
    assert user(auth, issuer.token(email="j@example.com", email_verified=True)).name == \
        "j@example.com"
    assert refused(auth, issuer.token(email="j@example.com", email_verified=False)) == \
        "oidc: email not verified"
    assert refused(auth, issuer.token(email="j@example.com", email_verified="true")) == \
        ("oidc: parse 'email_verified' claim: json: cannot unmarshal string into Go value "
         "of type bool")
    assert refused(auth, issuer.token()) == 'oidc: parse username claims "email": claim not present'


@pytest.mark.parametrize("case", ["alg-none", "hs256-public-key", "rs384-not-allowed",
                                  "other-key", "unknown-kid"])
def test_forged_signatures_are_refused(issuer, case):
    auth = make(issuer)
    token = {
        "alg-none": lambda: alg_none(issuer),
        "hs256-public-key": lambda: hs256_with_public_key(issuer),
        "rs384-not-allowed": lambda: issuer.token(alg="RS384"),
        "other-key": lambda: issuer.token(key=issuer.new_key()),
        "unknown-kid": lambda: issuer.token(kid="nope", key=issuer.new_key()),
    }[case]()
    message = refused(auth, token)
    assert message.startswith("oidc: verify token: ")
    if case in ("alg-none", "hs256-public-key", "rs384-not-allowed"):
        assert "id token signed with unsupported algorithm, expected [\"RS256\"]" in message
    else:
        assert message.endswith("failed to verify signature: failed to verify id token "
                                "signature")


def test_audience_and_time_checks(issuer):
    auth = make(issuer)
    now = int(time.time())
    assert refused(auth, issuer.token(aud="other")) == \
        'oidc: verify token: oidc: expected audience "kubernetes" got ["other"]'
    assert user(auth, issuer.token(aud=["other", "kubernetes"])).name.endswith("#user-1")
    assert "oidc: token is expired (Token Expiry: " in refused(auth, issuer.token(exp=now - 5))
    assert "0001-01-01 00:00:00 +0000 UTC" in refused(auth, issuer.token(exp=None))
    assert "before the nbf (not before) time" in refused(auth, issuer.token(nbf=now + 600))
    # go-oidc allows one minute of clock skew on nbf, and does not look at iat
    assert user(auth, issuer.token(nbf=now + 30, iat=now + 30)).name.endswith("#user-1")
    assert "idToken.exp of type oidc.jsonTime" in refused(auth, issuer.token(exp="soon"))


def test_other_issuers_and_non_jwts_are_left_to_the_next_authenticator(issuer):
    auth = make(issuer)
    assert auth.authenticate_token("not-a-jwt", ()) is None
    assert auth.authenticate_token("a.b.c", ()) is None
    assert auth.authenticate_token(issuer.token(iss="https://elsewhere.example"), ()) is None
    assert auth.authenticate_token(issuer.token(iss=issuer.url + "/"), ()) is None


def test_required_claims(issuer):
    auth = make(issuer, oidc_required_claims=(("hd", "example.com"),))
    assert user(auth, issuer.token(hd="example.com")).name.endswith("#user-1")
    assert refused(auth, issuer.token()) == "oidc: required claim hd not present in ID token"
    assert refused(auth, issuer.token(hd="evil.com")) == \
        "oidc: required claim hd value does not match. Got = evil.com, want = example.com"


def test_a_rotated_key_is_fetched_for_its_new_key_id(issuer):
    auth = make(issuer)
    member = auth.authenticators[0]
    member.provider.refetch_seconds = 0
    issuer.rotate("k2")
    before = issuer.jwks_fetches()
    assert user(auth, issuer.token(kid="k2", sub="rotated")).name.endswith("#rotated")
    assert issuer.jwks_fetches() == before + 1
    assert user(auth, issuer.token(kid="k2")).name.endswith("#user-1")     # now cached
    assert issuer.jwks_fetches() == before + 1
    member.provider.refetch_seconds = 3600                    # forged kids: no refetch storm
    for _ in range(3):
        refused(auth, issuer.token(kid="forged", key=issuer.new_key()))
    assert issuer.jwks_fetches() == before + 1


def test_the_jti_is_the_credential_id(issuer):
    got = user(make(issuer), issuer.token(jti="abc-123"))
    assert got.extra == {"authentication.kubernetes.io/credential-id": ["JTI=abc-123"]}


def test_an_unreachable_issuer_does_not_delay_the_start_and_its_tokens_are_401(issuer):
    issuer.available = False
    try:
        started = time.monotonic()
        auth = oidc.from_options(Dependencies(options=Options(
            oidc_issuer_url=issuer.url, oidc_client_id="kubernetes",
            oidc_ca_file=str(issuer.ca_file))))
        assert time.monotonic() - started < 1.0
        assert refused(auth, issuer.token()) == "oidc: authenticator not initialized"
        assert auth.authenticate_token(issuer.token(iss="https://other.example"), ()) is None
        oidc.close(auth)
    finally:
        issuer.available = True


def test_ec_keys_with_es256(tmp_path):
    ec_issuer = LocalIssuer(tmp_path, kind="EC")
    try:
        auth = make(ec_issuer, oidc_signing_algs=("ES256",))
        assert user(auth, ec_issuer.token(sub="ec")).name.endswith("#ec")
        assert "unsupported algorithm" in refused(make(ec_issuer), ec_issuer.token())
    finally:
        ec_issuer.stop()


def test_flags_are_validated_as_upstream(issuer):
    def start(**flags):
        flags.setdefault("oidc_client_id", "k")
        return oidc.from_options(Dependencies(options=Options(**flags)))

    assert start(oidc_client_id="") is None
    with pytest.raises(ValueError) as info:
        start(oidc_issuer_url="http://idp.example")
    assert str(info.value) == ('invalid authentication configuration: jwt[0].issuer.url: '
                               'Invalid value: "http://idp.example": URL scheme must be https')
    with pytest.raises(ValueError, match='oidc: unsupported signing alg: "HS256"'):
        start(oidc_issuer_url="https://idp.example", oidc_signing_algs=("HS256",))
    with pytest.raises(ValueError, match="URL must not overlap with disallowed issuers: "
                                         r"\[https://kubernetes.default.svc.cluster.local\]"):
        start(oidc_issuer_url="https://kubernetes.default.svc.cluster.local")
    with pytest.raises(ValueError, match="no such file or directory"):
        start(oidc_issuer_url="https://idp.example", oidc_ca_file="/nonexistent/ca.crt")
