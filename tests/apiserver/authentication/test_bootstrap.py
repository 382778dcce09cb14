"""Bootstrap tokens against Secrets handed out by a dict-backed ``get_object`` (upstream
kubernetes/kubernetes:plugin/pkg/auth/authenticator/token/bootstrap/bootstrap.go)."""
from __future__ import annotations

import base64
import dataclasses
import datetime
import logging

import pytest

from apiserver.authentication import mechanisms
from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.bootstrap import (BootstrapTokenAuthenticator, from_options,
                                                parse_rfc3339, parse_token)
from apiserver.options import Options

TOKEN_ID, TOKEN_SECRET = "abc123", "0123456789abcdef"
TOKEN = f"{TOKEN_ID}.{TOKEN_SECRET}"
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(token_id=TOKEN_ID, token_secret=TOKEN_SECRET, type_="bootstrap.kubernetes.io/token",
           deleting=False, **data):
    """A stored Secret (data base64-encoded, as the store keeps it); ``data`` keys use _."""
    values = {"token-id": token_id, "token-secret": token_secret,
              "usage-bootstrap-authentication": "true"}
    values.update({k.replace("_", "-"): v for k, v in data.items()})
    meta = {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}
    if deleting:
        meta["deletionTimestamp"] = "2029-12-31T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_,
            "data": {k: b64(v) for k, v in values.items() if v is not None}}


def with_data(stored: dict, **data) -> dict:
    """``stored`` with some data entries replaced (the Secret keeps its name)."""
    stored["data"].update({k.replace("_", "-"): b64(v) for k, v in data.items()})
    return stored


class Secrets:
    """``get_object`` over a dict of kube-system Secrets; records what was asked."""

    def __init__(self, *items):
        self.items = {s["metadata"]["name"]: s for s in items}
        self.asked = []

    def __call__(self, resource, namespace, name):
        self.asked.append((resource, namespace, name))
        return self.items.get(name) if namespace == "kube-system" else None


def authenticator(*items):
    get = Secrets(*items)
    options = dataclasses.replace(Options(), enable_bootstrap_token_auth=True)
    auth = from_options(mechanisms.Dependencies(options, get_object=get))
    auth.clock = NOW.timestamp
    return auth, get


def test_off_unless_enabled():
    assert from_options(mechanisms.Dependencies(Options(), get_object=Secrets())) is None


def test_a_valid_token_is_the_bootstrap_user_in_system_bootstrappers():
    auth, get = authenticator(secret(expiration="2030-01-01T00:00:01Z"))
    response = auth.authenticate_token(TOKEN, ())
    assert response.user.name == "system:bootstrap:abc123"
    assert response.user.groups == ("system:bootstrappers",)
    assert get.asked == [("secrets", "kube-system", "bootstrap-token-abc123")]


def test_extra_groups_are_added_deduplicated_and_sorted():
    groups = "system:bootstrappers:zeta,system:bootstrappers:kubeadm:default-node-token," \
             "system:bootstrappers:zeta"
    auth, _ = authenticator(secret(auth_extra_groups=groups))
    assert auth.authenticate_token(TOKEN, ()).user.groups == (
        "system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
        "system:bootstrappers:zeta")


@pytest.mark.parametrize("token", [
    "abc123.0123456789abcdeX", "ABC123.0123456789abcdef", "abc12.0123456789abcdef",
    "abc123:0123456789abcdef", TOKEN + "\n", "not-a-bootstrap-token", "",
])
def test_other_shapes_are_not_bootstrap_tokens(token):
    auth, get = authenticator(secret())
    assert auth.authenticate_token(token, ()) is None
    assert get.asked == []


def test_no_secret_is_no_opinion():
    auth, get = authenticator()
    assert auth.authenticate_token(TOKEN, ()) is None
    assert get.asked == [("secrets", "kube-system", "bootstrap-token-abc123")]


@pytest.mark.parametrize("stored, reason", [
    (secret(expiration="2029-12-31T23:59:59Z"), "expired"),
    (secret(expiration="2030-01-01T00:00:00Z"), "expired"),        # exactly now: expired
    (secret(expiration="2030-01-01T01:00:00+02:00"), "expired"),    # 23:00Z the day before
    (secret(expiration="next tuesday"), "expired"),                 # unparseable: expired
    (secret(expiration="2030-06-01"), "expired"),                   # not RFC 3339
    (secret(deleting=True), "deleted"),
    (secret(type_="Opaque"), "invalid type"),
    (secret(usage_bootstrap_authentication="false"), "usage-bootstrap-authentication"),
    (secret(usage_bootstrap_authentication=None), "usage-bootstrap-authentication"),
    (secret(usage_bootstrap_authentication="True"), "usage-bootstrap-authentication"),
    (with_data(secret(), token_id="zzz999"), "token-id"),
    (secret(token_secret="fedcba9876543210"), "token-secret"),
    (secret(token_secret=None), "token-secret"),
    (secret(auth_extra_groups="system:masters"), "auth-extra-groups"),
    (secret(auth_extra_groups="system:bootstrappers:ok,system:masters"), "system:masters"),
    (secret(auth_extra_groups="system:bootstrappers:"), "auth-extra-groups"),
    (secret(auth_extra_groups="system:bootstrappers:trailing-"), "auth-extra-groups"),
    (secret(auth_extra_groups="system:bootstrappers:a,"), "auth-extra-groups"),
])
def test_secrets_that_do_not_vouch_for_the_token_are_401(stored, reason):
    auth, _ = authenticator(stored)
    with pytest.raises(AuthenticationError, match=reason) as info:
        auth.authenticate_token(TOKEN, ())
    assert TOKEN_SECRET not in str(info.value)


def test_a_secret_without_data_is_invalid_and_bad_base64_is_empty():
    stored = secret()
    stored.pop("data")
    auth, _ = authenticator(stored)
    with pytest.raises(AuthenticationError, match="invalid type"):
        auth.authenticate_token(TOKEN, ())
    stored = secret()
    stored["data"]["token-secret"] = TOKEN_SECRET           # plain text, not base64
    auth, _ = authenticator(stored)
    with pytest.raises(AuthenticationError, match="token-secret"):
        auth.authenticate_token(TOKEN, ())


def test_through_the_bearer_union_an_invalid_secret_is_401_never_anonymous(caplog):
    caplog.set_level(logging.DEBUG)
    get = Secrets(secret(auth_extra_groups="system:masters"),
                  secret("good00", "goodsecret000000"))
    options = dataclasses.replace(Options(), enable_bootstrap_token_auth=True,
                                  token_success_cache_ttl=0.0)
    union = mechanisms.build(mechanisms.Dependencies(options, get_object=get,
                                                     api_audiences=("api",)))

    def scope(token):
        return {"type": "http", "path": "/api",
                "headers": [(b"authorization", f"Bearer {token}".encode())]}

    user = union.authenticate(scope("good00.goodsecret000000"))
    assert user.name == "system:bootstrap:good00"
    assert user.groups == ("system:bootstrappers", "system:authenticated")
    for token in (TOKEN, "good00.wrongsecret000000", "zzz999.0123456789abcdef"):
        with pytest.raises(AuthenticationError):
            union.authenticate(scope(token))
    assert "goodsecret000000" not in caplog.text and TOKEN_SECRET not in caplog.text


def test_the_clock_moves_a_token_past_its_expiration():
    stored = secret(expiration="2030-01-01T00:00:10.5Z")
    auth = BootstrapTokenAuthenticator(lambda name: stored)
    now = [NOW.timestamp()]
    auth.clock = lambda: now[0]
    assert auth.authenticate_token(TOKEN, ()) is not None
    now[0] += 10.4
    assert auth.authenticate_token(TOKEN, ()) is not None
    now[0] += 0.2
    with pytest.raises(AuthenticationError, match="expired"):
        auth.authenticate_token(TOKEN, ())


def test_rfc3339_parsing_is_go_strict():
    utc = datetime.timezone.utc
    assert parse_rfc3339("2030-01-01T00:00:00Z") == datetime.datetime(2030, 1, 1, tzinfo=utc)
    assert parse_rfc3339("2030-01-01T00:00:00.123456789-01:30") == datetime.datetime(
        2030, 1, 1, 1, 30, 0, 123456, tzinfo=utc)
    for bad in ("2030-01-01 00:00:00Z", "2030-01-01T00:00:00", "2030-01-01t00:00:00z",
                "2030-13-01T00:00:00Z", "2030-01-01T00:00:60Z", "2030-01-01T00:00:00+24:00",
                "2030-01-01T00:00:00Z\n", "２０３０-01-01T00:00:00Z"):
        assert parse_rfc3339(bad) is None, bad
    assert parse_token(TOKEN) == (TOKEN_ID, TOKEN_SECRET)
