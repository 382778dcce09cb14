"""Delegated authentication and authorization (workers/serving/delegated.py) against a
real API server: the in-process handler chain over the test database answers the
TokenReviews and SubjectAccessReviews (``tests.workers.serving.support``); the caches are
judged by the count of requests it received."""
from __future__ import annotations

import asyncio

import pytest

from tests.certs import CA
from tests.workers.serving.support import (Bob, Unreachable, bind,  # noqa: F401  (fixtures)
                                           review_client)
from tests.workers.serving.support import peer as peer_of
from workers.serving.delegated import (CACHE_TTL, Attributes, DelegatedAuthenticator,
                                       DelegatedAuthorizer, RequestHeaderConfig, ReviewError,
                                       User, header_map, peer)


@pytest.fixture
def client(review_client):  # noqa: F811
    return review_client


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("delegated-pki")
    client_ca, proxy_ca, other = CA("client-ca"), CA("front-proxy-ca"), CA("other")
    return {
        "client_ca": str(client_ca.write(d / "client-ca.crt")),
        "proxy_ca": str(proxy_ca.write(d / "proxy-ca.crt")),
        "jane": peer_of(client_ca.issue("jane", ["dev", "ops"])[0]),
        "proxy": peer_of(proxy_ca.issue("front-proxy-client")[0]),
        "rogue_proxy": peer_of(proxy_ca.issue("someone-else")[0]),
        "stranger": peer_of(other.issue("jane", ["system:masters"])[0]),
    }


def authenticator(client, pki, clock=None):
    return DelegatedAuthenticator(client, pki["client_ca"], RequestHeaderConfig(
        ca_file=pki["proxy_ca"], allowed_names=("front-proxy-client",)), clock=clock or Clock())


def run(coro):
    return asyncio.run(coro)


def bearer(token):
    return {"authorization": [f"Bearer {token}"]}


# -- authentication ------------------------------------------------------------------------

def test_a_client_ca_certificate_names_the_user_and_headers_count_for_nothing(client, pki):
    a = authenticator(client, pki)
    spoof = {"x-remote-user": ["admin"], "x-remote-group": ["system:masters"]}
    assert run(a.authenticate(spoof, pki["jane"])) == User("jane", ("dev", "ops"))
    assert client.requests == []


def test_the_front_proxy_passes_the_user_in_its_headers(client, pki):
    a = authenticator(client, pki)
    headers = {"x-remote-user": ["bob"], "x-remote-group": ["dev", "qa"],
               "x-remote-extra-scopes%2fwrite": ["a"], "x-remote-extra-team": ["x", "y"]}
    user = run(a.authenticate(headers, pki["proxy"]))
    assert user == User("bob", ("dev", "qa"), "",
                        (("scopes/write", ("a",)), ("team", ("x", "y"))))
    assert user.extra_dict() == {"scopes/write": ["a"], "team": ["x", "y"]}


def test_a_proxy_certificate_without_a_user_or_of_another_name_is_not_trusted(client, pki):
    a = authenticator(client, pki)
    assert run(a.authenticate({"x-remote-group": ["system:masters"]}, pki["proxy"])) is None
    assert run(a.authenticate({"x-remote-user": ["bob"]}, pki["rogue_proxy"])) is None
    # a certificate of an unknown CA, and no certificate, are anonymous: refused
    assert run(a.authenticate({"x-remote-user": ["bob"]}, pki["stranger"])) is None
    assert run(a.authenticate({}, None)) is None


def test_a_bearer_token_is_reviewed_by_the_api_server(client, pki):
    a = authenticator(client, pki)
    user = run(a.authenticate(bearer("good"), None))
    assert user == User("jane", ("dev", "system:authenticated"), "42",
                        (("scopes.example.com", ("a", "b")),))
    assert client.requests == ["/apis/authentication.k8s.io/v1/tokenreviews"]
    assert run(a.authenticate(bearer("nope"), None)) is None
    assert run(a.authenticate(bearer("broken"), None)) is None
    # only the Bearer scheme (any case) carries a token
    assert run(a.authenticate({"authorization": ["bearer good"]}, None)).name == "jane"
    assert run(a.authenticate({"authorization": ["Basic Z29vZA=="]}, None)) is None
    assert run(a.authenticate({"authorization": ["Bearer  "]}, None)) is None


def test_token_answers_are_cached_ten_seconds_by_hash(client, pki):
    clock = Clock()
    a = authenticator(client, pki, clock)
    for _ in range(3):
        assert run(a.authenticate(bearer("good"), None)).name == "jane"
        assert run(a.authenticate(bearer("nope"), None)) is None      # denials too
    assert len(client.requests) == 2
    assert all("good" not in k and "nope" not in k and len(k) == 64 for k in a._tokens)
    clock.t += CACHE_TTL - 0.1
    run(a.authenticate(bearer("good"), None))
    assert len(client.requests) == 2
    clock.t += 0.2
    run(a.authenticate(bearer("good"), None))
    assert len(client.requests) == 3


def test_a_failed_review_is_unauthenticated_and_not_cached(client, pki):
    a = authenticator(client, pki)
    assert run(a.authenticate(bearer("foreign"), None)) is None       # the server's 500
    assert run(a.authenticate(bearer("foreign"), None)) is None
    assert len(client.requests) == 2


# -- authorization -------------------------------------------------------------------------

def test_always_allowed_paths_and_groups_need_no_review(client):
    z = DelegatedAuthorizer(client, clock=Clock())
    anyone = User("eve")
    for path in ("/healthz", "/readyz", "/livez"):
        assert run(z.allowed(anyone, Attributes("get", path=path))) == (True, "")
    masters = User("root", ("system:masters",))
    assert run(z.allowed(masters, Attributes("delete", resource="nodes", name="n"))) == (
        True, "")
    assert client.requests == []
    # a resource named like an always-allowed path is still reviewed
    assert run(z.allowed(anyone, Attributes("get", path="/healthz", resource="nodes")))[0] \
        is False


def test_a_resource_request_is_reviewed_with_its_attributes(client):
    z = DelegatedAuthorizer(client, clock=Clock())
    bob = User("bob", ("dev",), "7", (("team", ("x",)),))
    attrs = Attributes("get", path="/metrics/resource", version="v1", resource="nodes",
                       subresource="metrics", name="node-1")
    assert run(z.allowed(bob, attrs)) == (True, "bob reads metrics")
    assert client.requests == ["/apis/authorization.k8s.io/v1/subjectaccessreviews"]
    (seen,) = Bob.seen
    assert (seen.user.name, seen.user.groups, seen.user.uid) == ("bob", ("dev",), "7")
    assert seen.user.extra == {"team": ["x"]}
    assert (seen.verb, seen.is_resource_request, seen.api_version, seen.resource,
            seen.subresource, seen.name, seen.namespace) == (
        "get", True, "v1", "nodes", "metrics", "node-1", "")
    denied = Attributes("list", group="", version="v1", resource="secrets", namespace="ns")
    assert run(z.allowed(bob, denied)) == (False, "secrets are off limits")
    assert Bob.seen[-1].namespace == "ns"
    assert run(z.allowed(User("eve"), attrs)) == (False, "")          # no opinion: refused


def test_a_non_resource_request_is_reviewed_by_path(client):
    z = DelegatedAuthorizer(client, clock=Clock())
    assert run(z.allowed(User("bob"), Attributes("get", path="/metrics"))) == (
        True, "bob reads metrics")
    seen = Bob.seen[-1]
    assert (seen.is_resource_request, seen.path, seen.verb) == (False, "/metrics", "get")


def test_review_answers_are_cached_per_user_and_attributes(client):
    clock = Clock()
    z = DelegatedAuthorizer(client, clock=clock)
    ok = Attributes("get", resource="nodes", subresource="metrics", name="node-1")
    no = Attributes("get", resource="secrets", namespace="ns")
    for _ in range(3):
        assert run(z.allowed(User("bob"), ok))[0] is True
        assert run(z.allowed(User("bob"), no))[0] is False
    assert len(client.requests) == 2
    run(z.allowed(User("bob", ("other",)), ok))                        # another user
    assert len(client.requests) == 3
    clock.t += CACHE_TTL + 0.1
    run(z.allowed(User("bob"), ok))
    assert len(client.requests) == 4


def test_a_review_that_cannot_be_made_is_an_error_and_not_cached(client):
    z = DelegatedAuthorizer(client, clock=Clock())
    # a SubjectAccessReview without a user is invalid (422): no answer to cache
    attrs = Attributes("get", resource="nodes")
    for _ in range(2):
        with pytest.raises(ReviewError, match="SubjectAccessReview failed: ApiError"):
            run(z.allowed(User(""), attrs))
    assert len(client.requests) == 2
    with pytest.raises(ReviewError, match="OSError"):
        run(DelegatedAuthorizer(Unreachable()).allowed(User("bob"), attrs))


# -- ASGI helpers --------------------------------------------------------------------------

def test_header_map_and_peer_read_the_scope():
    tls = {"client_cert_der": b"\x30\x01", "client_subject": [{"commonName": "x"}]}
    scope = {"headers": [(b"X-Remote-User", b"bob"), (b"x-remote-group", b"a"),
                         (b"X-Remote-Group", b"b")], "extensions": {"tls": tls}}
    assert header_map(scope) == {"x-remote-user": ["bob"], "x-remote-group": ["a", "b"]}
    assert peer(scope) == tls
    assert peer({"extensions": {}}) is None and peer({}) is None
