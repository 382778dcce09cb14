"""The TokenReview webhook authenticator against a real HTTPS webhook on 127.0.0.1 that
requires a client certificate (upstream kubernetes/apiserver:plugin/pkg/authenticator/token/
webhook/webhook.go; kubeconfig and retries: pkg/util/webhook)."""
from __future__ import annotations

import base64
import dataclasses
import json
import logging

import pytest

from apiserver.authentication import mechanisms
from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.kubeconfig_client import Backoff, KubeconfigError, WebhookClient
from apiserver.authentication.webhook import (ReviewCache, WebhookTokenAuthenticator,
                                              from_options)
from apiserver.options import Options

from .webhook_support import ReviewServer, table_answer

TOKEN = "webhook-canary-token-7f3a9c"
ALICE = {"username": "alice", "uid": "uid-alice", "groups": ["dev", "ops"],
         "extra": {"scopes": ["read", "write"]}}
NO_WAIT = Backoff(duration=0, jitter=0, steps=3)


@pytest.fixture
def webhook(tmp_path):
    server = ReviewServer(tmp_path, users={TOKEN: ALICE})
    yield server
    server.stop()


def authenticator(server, version="v1", audiences=("api",), **client):
    client.setdefault("backoff", NO_WAIT)
    return WebhookTokenAuthenticator(WebhookClient.from_file(str(server.kubeconfig()), **client),
                                     version, audiences)


def options_for(path, **kw):
    return dataclasses.replace(Options(), authentication_token_webhook_config_file=str(path),
                               authentication_token_webhook_version="v1", **kw)


def test_authenticated_review_gives_the_user_and_is_sent_with_the_client_certificate(webhook):
    response = authenticator(webhook).authenticate_token(TOKEN, ("api",))
    user = response.user
    assert (user.name, user.uid, user.groups) == ("alice", "uid-alice", ("dev", "ops"))
    assert user.extra == {"scopes": ["read", "write"]}
    assert response.audiences == ("api",)          # none returned: the API's, intersected
    [call] = webhook.calls
    assert call["client_cn"] == "kube-apiserver" and call["path"] == "/authenticate"
    assert call["review"]["apiVersion"] == "authentication.k8s.io/v1"
    assert call["review"]["kind"] == "TokenReview"
    assert call["review"]["spec"] == {"token": TOKEN, "audiences": ["api"]}
    assert "authorization" not in {k.lower() for k in call["headers"]}


def test_v1beta1_reviews_are_sent_when_asked(webhook):
    assert authenticator(webhook, "v1beta1").authenticate_token(TOKEN, ("api",)) is not None
    assert webhook.reviews()[0]["apiVersion"] == "authentication.k8s.io/v1beta1"
    with pytest.raises(ValueError, match="unsupported authentication webhook version"):
        authenticator(webhook, "v2")


def test_unauthenticated_is_no_opinion_and_an_error_is_raised(tmp_path):
    answers = iter([{"authenticated": False},
                    {"authenticated": False, "error": "token revoked by the IdP"}])
    server = ReviewServer(tmp_path, answer=lambda review: (200, {"status": next(answers)}))
    try:
        auth = authenticator(server)
        assert auth.authenticate_token("unknown-token", ("api",)) is None
        with pytest.raises(AuthenticationError, match="token revoked by the IdP"):
            auth.authenticate_token("revoked-token", ("api",))
    finally:
        server.stop()


@pytest.mark.parametrize("returned, wanted, expect", [
    (["api", "other"], ("api", "extra"), ("api",)),      # the intersection
    (["elsewhere"], ("api",), None),                       # disjoint: not mine
    (None, ("custom",), None),                             # none returned, not the API's
    (None, (), ()),                                        # no audiences asked: no check
])
def test_audiences_must_intersect(tmp_path, returned, wanted, expect):
    def answer(review):
        status = {"authenticated": True, "user": {"username": "bob"}}
        if returned:
            status["audiences"] = returned
        return 200, {"kind": "TokenReview", "status": status}

    server = ReviewServer(tmp_path, answer=answer)
    try:
        response = authenticator(server).authenticate_token("some-token", wanted)
        assert (response.audiences if response else None) == expect
        spec = server.reviews()[0]["spec"]
        assert spec.get("audiences", []) == list(wanted)
    finally:
        server.stop()


def test_malformed_answers_are_errors(tmp_path):
    bodies = iter([{"status": {"authenticated": True, "user": {"username": "x", "groups": "g"}}},
                   {"kind": "Status", "status": "Failure"}, b"not json"])
    server = ReviewServer(tmp_path, answer=lambda review: (200, next(bodies)))
    try:
        auth = authenticator(server)
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                auth.authenticate_token("t", ("api",))
    finally:
        server.stop()


def test_cache_calls_the_webhook_once_for_two_checks_and_keeps_negative_answers(webhook):
    auth = from_options(mechanisms.Dependencies(options_for(webhook.kubeconfig()),
                                                api_audiences=("api",)))
    assert isinstance(auth, ReviewCache) and auth.success_ttl == 120.0
    assert auth.authenticate_token(TOKEN, ("api",)).user.name == "alice"
    assert auth.authenticate_token(TOKEN, ("api",)).user.name == "alice"
    assert auth.authenticate_token("nobody", ("api",)) is None
    assert auth.authenticate_token("nobody", ("api",)) is None
    assert len(webhook.calls) == 2
    auth.authenticate_token(TOKEN, ("other",))         # other audiences: another entry
    assert len(webhook.calls) == 3
    assert all(TOKEN.encode() not in repr(key).encode() for key in auth._entries)


def test_cache_expires_and_never_keeps_errors(tmp_path):
    replies = iter([(200, {"status": {"authenticated": True, "user": {"username": "u"}}}),
                    (200, {"status": {"authenticated": False, "error": "backend busy"}}),
                    (200, {"status": {"authenticated": False, "error": "backend busy"}})])
    server = ReviewServer(tmp_path, answer=lambda review: next(replies))
    now = [0.0]
    try:
        cache = ReviewCache(authenticator(server), ttl=120, clock=lambda: now[0])
        assert cache.authenticate_token("t", ("api",)).user.name == "u"
        now[0] = 119
        assert cache.authenticate_token("t", ("api",)).user.name == "u"
        now[0] = 121
        for _ in range(2):
            with pytest.raises(AuthenticationError, match="backend busy"):
                cache.authenticate_token("t", ("api",))
        assert len(server.calls) == 3
    finally:
        server.stop()


def test_server_errors_are_retried_with_backoff_then_given_up(tmp_path):
    replies = iter([(500, {}), (429, {}), (200, {"status": {"authenticated": True,
                                                            "user": {"username": "late"}}}),
                    (504, {}), (503, {}, {"Retry-After": "1"}), (500, {}),
                    (400, {}), None, None, None])
    server = ReviewServer(tmp_path, answer=lambda review: next(replies))
    sleeps = []
    try:
        client = WebhookClient.from_file(str(server.kubeconfig()),
                                         backoff=Backoff(duration=0.5, factor=2, jitter=0),
                                         sleep=sleeps.append)
        auth = WebhookTokenAuthenticator(client, "v1", ("api",))
        assert auth.authenticate_token("t", ("api",)).user.name == "late"
        assert sleeps == [0.5, 1.0] and len(server.calls) == 3
        with pytest.raises(AuthenticationError, match="HTTP 500"):
            auth.authenticate_token("t", ("api",))      # 504, 503 + Retry-After, 500: gave up
        assert len(server.calls) == 6
        with pytest.raises(AuthenticationError, match="HTTP 400"):
            auth.authenticate_token("t", ("api",))      # a client error: no retry
        assert len(server.calls) == 7
        with pytest.raises(AuthenticationError, match="connection reset|Disconnected"):
            auth.authenticate_token("t", ("api",))      # dropped three times
        assert len(server.calls) == 10
    finally:
        server.stop()


def test_webhook_down_is_401_through_the_bearer_union(webhook):
    deps = mechanisms.Dependencies(options_for(webhook.kubeconfig()), api_audiences=("api",))
    union = mechanisms.build(deps)
    scope = {"type": "http", "path": "/api",
             "headers": [(b"authorization", f"Bearer {TOKEN}".encode())]}
    assert union.authenticate(scope).name == "alice"
    webhook.stop()
    other = {"type": "http", "path": "/api",
             "headers": [(b"authorization", b"Bearer another-token")]}
    with pytest.raises(AuthenticationError, match="webhook"):
        union.authenticate(other)


def test_tls_is_verified_both_ways(webhook, tmp_path):
    no_cert = webhook.kubeconfig("no-cert", user={})
    auth = WebhookTokenAuthenticator(WebhookClient.from_file(str(no_cert), backoff=NO_WAIT),
                                     "v1", ("api",))
    with pytest.raises(AuthenticationError):
        auth.authenticate_token(TOKEN, ("api",))
    wrong_ca = webhook.kubeconfig("wrong-ca", cluster={
        "server": webhook.url, "certificate-authority": str(webhook.client_ca_file)})
    auth = WebhookTokenAuthenticator(WebhookClient.from_file(str(wrong_ca), backoff=NO_WAIT),
                                     "v1", ("api",))
    with pytest.raises(AuthenticationError, match="CERTIFICATE_VERIFY_FAILED"):
        auth.authenticate_token(TOKEN, ("api",))
    assert webhook.calls == []


def test_inline_data_first_entries_and_a_bearer_token(webhook):
    def b64(path):
        return base64.b64encode(path.read_bytes()).decode()

    path = webhook.kubeconfig("inline", context=False, cluster={
        "server": webhook.url, "certificate-authority-data": b64(webhook.ca_file)}, user={
        "client-certificate-data": b64(webhook.client_cert),
        "client-key-data": b64(webhook.client_key), "token": "webhook-credential-1"})
    auth = WebhookTokenAuthenticator(WebhookClient.from_file(str(path)), "v1", ("api",))
    assert auth.authenticate_token(TOKEN, ("api",)).user.name == "alice"
    call = webhook.calls[0]
    assert call["client_cn"] == "kube-apiserver"
    assert {k.lower(): v for k, v in call["headers"].items()}["authorization"] == \
        "Bearer webhook-credential-1"


def test_current_context_names_the_cluster_and_user(webhook, tmp_path):
    doc = json.loads(webhook.kubeconfig().read_text())
    doc["clusters"].insert(0, {"name": "decoy", "cluster": {"server": "https://127.0.0.1:1"}})
    doc["users"].insert(0, {"name": "nobody", "user": {"token": "decoy"}})
    path = tmp_path / "two.kubeconfig"
    path.write_text(json.dumps(doc))
    auth = WebhookTokenAuthenticator(WebhookClient.from_file(str(path)), "v1", ("api",))
    assert auth.authenticate_token(TOKEN, ("api",)).user.name == "alice"
    doc["current-context"] = "missing"
    path.write_text(json.dumps(doc))
    with pytest.raises(KubeconfigError, match="context 'missing' not found"):
        WebhookClient.from_file(str(path))


def test_relative_paths_are_relative_to_the_kubeconfig(webhook):
    path = webhook.kubeconfig("relative", cluster={
        "server": webhook.url, "certificate-authority": webhook.ca_file.name}, user={
        "client-certificate": webhook.client_cert.name, "client-key": webhook.client_key.name})
    auth = WebhookTokenAuthenticator(WebhookClient.from_file(str(path)), "v1", ("api",))
    assert auth.authenticate_token(TOKEN, ("api",)).user.name == "alice"


@pytest.mark.parametrize("cluster, user, message", [
    ({"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}, {}, "insecure"),
    ({"server": "http://127.0.0.1:1/x"}, {}, "http://"),
    ({}, {}, "no server"),
    ({"server": "https://127.0.0.1:1", "certificate-authority": "a.crt",
      "certificate-authority-data": "eA=="}, {}, "both specified"),
    ({"server": "https://127.0.0.1:1"}, {"client-certificate": "c.crt"}, "together"),
    ({"server": "https://127.0.0.1:1", "certificate-authority": "missing.crt"}, {},
     "certificate authority"),
    ({"server": "https://127.0.0.1:1"}, {"exec": {"command": "x"}}, "exec"),
])
def test_unusable_kubeconfigs_are_refused_naming_the_file(webhook, cluster, user, message):
    path = webhook.kubeconfig("bad", cluster=cluster, user=user)
    with pytest.raises(KubeconfigError, match=message) as info:
        WebhookClient.from_file(str(path))
    assert str(path) in str(info.value)


def test_insecure_skip_verify_only_when_the_caller_allows_it(webhook):
    path = webhook.kubeconfig("insecure", cluster={"server": webhook.url,
                                                   "insecure-skip-tls-verify": True}, user={
        "client-certificate": str(webhook.client_cert), "client-key": str(webhook.client_key)})
    client = WebhookClient.from_file(str(path), allow_insecure=True)
    assert client.post({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                        "spec": {"token": TOKEN}})["status"]["authenticated"] is True


def test_from_options_off_without_a_file_and_a_bad_file_stops_the_start(tmp_path):
    assert from_options(mechanisms.Dependencies(Options())) is None
    missing = tmp_path / "nope.kubeconfig"
    with pytest.raises(ValueError, match=str(missing)):
        from_options(mechanisms.Dependencies(options_for(missing)))
    garbled = tmp_path / "garbled.kubeconfig"
    garbled.write_text("clusters: [unclosed")
    with pytest.raises(ValueError, match="garbled.kubeconfig"):
        from_options(mechanisms.Dependencies(options_for(garbled)))


def test_the_token_is_never_logged(tmp_path, caplog):
    replies = iter([(200, {"status": {"authenticated": False, "error": "nope"}}), (500, {}),
                    (200, table_answer({TOKEN: ALICE})({"apiVersion": "v1",
                                                         "spec": {"token": TOKEN}})[1])])
    server = ReviewServer(tmp_path, answer=lambda review: next(replies))
    caplog.set_level(logging.DEBUG)
    try:
        auth = authenticator(server, backoff=Backoff(duration=0, jitter=0, steps=1))
        for _ in range(2):
            with pytest.raises(AuthenticationError) as info:
                auth.authenticate_token(TOKEN, ("api",))
            assert TOKEN not in str(info.value)
        assert auth.authenticate_token(TOKEN, ("api",)).user.name == "alice"
        server.stop()
        with pytest.raises(AuthenticationError) as info:
            auth.authenticate_token(TOKEN, ("api",))
        assert TOKEN not in str(info.value)
    finally:
        server.stop()
    assert "Failed to make webhook authenticator request" in caplog.text
    assert TOKEN not in caplog.text
