"""The authenticator unions, the token cache, bearer tokens and anonymous
(kubernetes/apiserver:pkg/authentication/request/union, token/union, token/cache,
request/bearertoken, request/websocket, request/anonymous)."""
from __future__ import annotations

import base64

import pytest

from apiserver.authentication.anonymous import PUBLIC_PATHS, AnonymousAuthenticator
from apiserver.authentication.base import (AuthenticationError, Authenticator,
                                           TokenAuthenticator, TokenResponse, TokenUnion, Union)
from apiserver.authentication.bearer import AudienceAgnostic, BearerTokenAuthenticator
from apiserver.authentication.mechanisms import Dependencies, api_audiences, build
from apiserver.authentication.token_cache import TokenCache
from apiserver.authentication.user import UserInfo
from apiserver.options import Options


def scope(headers=(), path="/api", kind="http"):
    return {"type": kind, "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


class Fixed(TokenAuthenticator):
    """Knows one token; counts calls; raises for tokens starting with 'bad'."""

    def __init__(self, token="good", name="alice", audiences=()):
        self.token, self.user, self.audiences, self.calls = token, name, audiences, 0
        self.name = f"fixed-{name}"

    def authenticate_token(self, token, audiences):
        self.calls += 1
        if token.startswith("bad"):
            raise AuthenticationError("broken token")
        if token != self.token:
            return None
        return TokenResponse(UserInfo(self.user, groups=("dev",)), self.audiences)


class Raising(Authenticator):
    name = "raising"

    def authenticate(self, scope):
        raise AuthenticationError("bad certificate")


class Named(Authenticator):
    def __init__(self, name):
        self.user = name

    def authenticate(self, scope):
        return UserInfo(self.user)


# ---- the request union --------------------------------------------------------------------
def test_first_success_wins_and_gains_system_authenticated():
    user = Union([Authenticator(), Named("bob"), Named("carol")]).authenticate(scope())
    assert user.name == "bob" and user.groups == ("system:authenticated",)


def test_an_error_does_not_stop_a_later_success():
    assert Union([Raising(), Named("bob")]).authenticate(scope()).name == "bob"


def test_an_error_without_a_success_is_raised_never_anonymous():
    union = Union([Raising(), Authenticator()], anonymous=AnonymousAuthenticator())
    with pytest.raises(AuthenticationError, match="bad certificate"):
        union.authenticate(scope())


def test_anonymous_only_when_nobody_had_an_opinion():
    user = Union([Authenticator()], anonymous=AnonymousAuthenticator()).authenticate(scope())
    assert (user.name, user.groups) == ("system:anonymous", ("system:unauthenticated",))
    assert Union([Authenticator()]).authenticate(scope()) is None


def test_anonymous_limited_to_paths():
    anonymous = AnonymousAuthenticator(PUBLIC_PATHS)
    assert anonymous.authenticate(scope(path="/readyz")).name == "system:anonymous"
    assert anonymous.authenticate(scope(path="/healthz/ping")).name == "system:anonymous"
    assert anonymous.authenticate(scope(path="/healthzx")) is None
    assert anonymous.authenticate(scope(path="/api/v1/secrets")) is None


# ---- bearer tokens -------------------------------------------------------------------------
def bearer(tokens, audiences=("api",)):
    return BearerTokenAuthenticator(tokens, audiences)


@pytest.mark.parametrize("header", ["Bearer good", "bearer good", "  Bearer good  "])
def test_bearer_header(header):
    user = bearer(Fixed()).authenticate(scope([("Authorization", header)]))
    assert user.name == "alice"


@pytest.mark.parametrize("header", ["Bearer", "Bearer  good", "Bearer unknown"])
def test_empty_or_unknown_bearer_token_is_invalid(header):
    with pytest.raises(AuthenticationError, match="invalid bearer token"):
        bearer(Fixed()).authenticate(scope([("Authorization", header)]))


def test_other_schemes_are_not_bearer():
    assert bearer(Fixed()).authenticate(scope([("Authorization", "Basic Zm9vOmJhcg==")])) is None
    assert bearer(Fixed()).authenticate(scope()) is None


def test_websocket_bearer_subprotocol():
    encoded = base64.urlsafe_b64encode(b"good").rstrip(b"=").decode()
    s = scope([("Sec-WebSocket-Protocol",
                f"v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.{encoded}")],
              kind="websocket")
    s["subprotocols"] = ["v5.channel.k8s.io", f"base64url.bearer.authorization.k8s.io.{encoded}"]
    auth = bearer(Fixed())
    assert auth.authenticate(s).name == "alice"
    auth.strip(s)
    assert s["subprotocols"] == ["v5.channel.k8s.io"]
    assert (b"sec-websocket-protocol", b"v5.channel.k8s.io") in s["headers"]


def test_websocket_subprotocol_is_ignored_on_plain_http():
    encoded = base64.urlsafe_b64encode(b"good").decode()
    s = scope([("Sec-WebSocket-Protocol", f"base64url.bearer.authorization.k8s.io.{encoded}")])
    assert bearer(Fixed()).authenticate(s) is None


def test_strip_removes_the_authorization_header():
    s = scope([("Authorization", "Bearer good"), ("Accept", "application/json")])
    bearer(Fixed()).strip(s)
    assert s["headers"] == [(b"accept", b"application/json")]


# ---- the token union and the cache ---------------------------------------------------------
def test_token_union_tries_on_after_an_error_and_reports_errors_when_nobody_succeeds():
    union = TokenUnion([Fixed("x", "one"), Fixed("bad-1", "two")])
    with pytest.raises(AuthenticationError, match="broken token"):
        union.authenticate_token("bad-1", ())
    assert union.authenticate_token("x", ()).user.name == "one"
    assert union.authenticate_token("nobody", ()) is None


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_cache_keeps_successes_for_the_ttl_only():
    inner, clock = Fixed(), Clock()
    cache = TokenCache(inner, success_ttl=10, clock=clock)
    assert cache.authenticate_token("good", ("api",)).user.name == "alice"
    assert cache.has_fresh("good", ("api",)) and not cache.has_fresh("good", ("other",))
    cache.authenticate_token("good", ("api",))
    assert inner.calls == 1
    clock.now += 10.5
    assert not cache.has_fresh("good", ("api",))
    cache.authenticate_token("good", ("api",))
    assert inner.calls == 2


def test_cache_does_not_keep_failures_by_default_and_never_holds_the_token():
    inner = Fixed()
    cache = TokenCache(inner, success_ttl=10)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            cache.authenticate_token("bad-token-canary", ())
    assert inner.calls == 2
    cache.authenticate_token("good", ())
    assert all(b"good" not in key and b"canary" not in key for key in cache._entries)


def test_cache_entries_are_bounded():
    inner = Fixed()
    inner.authenticate_token = lambda token, aud: TokenResponse(UserInfo(token))
    cache = TokenCache(inner, success_ttl=10, max_entries=3)
    for i in range(5):
        cache.authenticate_token(f"t{i}", ())
    assert len(cache._entries) == 3 and cache.has_fresh("t4", ()) and not cache.has_fresh("t0", ())


def test_bearer_needs_io_only_without_a_fresh_cache_entry():
    cache = TokenCache(Fixed(), success_ttl=10)
    auth = bearer(cache)
    s = scope([("Authorization", "Bearer good")])
    assert auth.needs_io(s)
    auth.authenticate(s)
    assert not auth.needs_io(s)
    assert not auth.needs_io(scope())


# ---- audiences -----------------------------------------------------------------------------
def test_audience_agnostic_tokens_answer_only_for_the_api_audiences():
    agnostic = AudienceAgnostic(Fixed(), ("https://kubernetes.default.svc",))
    assert agnostic.authenticate_token("good", ("vault",)) is None
    response = agnostic.authenticate_token("good", ("vault", "https://kubernetes.default.svc"))
    assert response.audiences == ("https://kubernetes.default.svc",)
    assert agnostic.authenticate_token("good", ()).audiences == ("https://kubernetes.default.svc",)


def test_api_audiences_default_to_the_service_account_issuer():
    assert api_audiences(Options()) == ("https://kubernetes.default.svc.cluster.local",)
    assert api_audiences(Options(api_audiences=("a", "b"))) == ("a", "b")


# ---- the flags → the union ------------------------------------------------------------------
def names(union):
    return [a.name for a in union.authenticators]


def test_no_flags_only_django_users_and_anonymous_limited_under_always_allow():
    union = build(Dependencies(options=Options(), api_audiences=("api",)))
    assert names(union) == ["basic"]
    assert union.anonymous.paths == PUBLIC_PATHS
    assert names(build(Dependencies(options=Options(django_user_auth=False)))) == []


def test_anonymous_is_unlimited_with_a_real_authorizer_and_off_when_asked():
    union = build(Dependencies(options=Options(authorization_modes=("AlwaysDeny",))))
    assert union.anonymous.paths is None
    union = build(Dependencies(options=Options(anonymous_auth=False)))
    assert union.anonymous is None


def test_client_ca_turns_on_x509():
    union = build(Dependencies(options=Options(client_ca_file="/ca.crt", django_user_auth=False)))
    assert names(union) == ["x509"]


def test_two_bearer_headers_are_invalid():
    s = scope([("Authorization", "Bearer good"), ("Authorization", "Bearer other")])
    with pytest.raises(AuthenticationError, match="invalid bearer token"):
        bearer(Fixed()).authenticate(s)
