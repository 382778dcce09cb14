"""TokenReview (kubernetes/kubernetes:pkg/registry/authentication/tokenreview/storage.go):
the server's own token authenticators answer for ``spec.token`` and ``spec.audiences``."""
from __future__ import annotations

import pytest

from apiserver.authentication.base import (AuthenticationError, TokenAuthenticator,
                                           TokenResponse, TokenUnion, Union)
from apiserver.authentication.bearer import BearerTokenAuthenticator
from apiserver.authentication.token_cache import TokenCache
from apiserver.authentication.user import UserInfo
from apiserver.authentication.x509 import X509Authenticator
from tests.apiserver.filters.test_filters import bind  # noqa: F401  (fixture)
from tests.asgi import ASGIClient, in_process_app

PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
API = "https://kubernetes.default.svc.cluster.local"


class Tokens(TokenAuthenticator):
    name = "tokens"

    def authenticate_token(self, token, audiences):
        if token == "broken":
            raise AuthenticationError("token has expired")
        if token == "vault-only":
            return TokenResponse(UserInfo("svc"), ("vault",))
        if token == "good":
            return TokenResponse(UserInfo("jane", uid="42", groups=("dev",),
                                          extra={"scopes": ["a"]}), tuple(audiences))
        return None


@pytest.fixture
def client(bind):  # noqa: F811
    union = Union([X509Authenticator(),
                   BearerTokenAuthenticator(TokenCache(TokenUnion([Tokens()])), (API,))])
    return ASGIClient(bind(in_process_app(authenticator=union)[1]))


def review(client, token, audiences=None):
    spec = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    return client.post(PATH, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                              "spec": spec})


def test_a_valid_token_is_authenticated_with_its_user(client):
    resp = review(client, "good")
    assert resp.status_code == 201
    body = resp.json()
    assert body["kind"] == "TokenReview" and body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["status"] == {"authenticated": True,
                              "user": {"username": "jane", "uid": "42",
                                       "groups": ["dev", "system:authenticated"],
                                       "extra": {"scopes": ["a"]}},
                              "audiences": [API]}


def test_audiences_asked_for_are_checked(client):
    body = review(client, "good", ["vault"]).json()
    assert body["status"]["audiences"] == ["vault"] and body["spec"]["audiences"] == ["vault"]


def test_a_token_for_other_audiences_is_an_authenticator_error(client):
    resp = review(client, "vault-only")
    assert resp.status_code == 500 and resp.json()["reason"] == "InternalError"


def test_unknown_and_invalid_tokens_are_not_authenticated(client):
    assert review(client, "nope").json()["status"] == {"authenticated": False,
                                                      "error": "invalid bearer token"}
    status = review(client, "broken").json()["status"]
    assert status["authenticated"] is False and "token has expired" in status["error"]


@pytest.mark.parametrize("spec", [{}, {"token": ""}, {"token": 5}])
def test_a_token_is_required(client, spec):
    resp = client.post(PATH, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                              "spec": spec})
    assert resp.status_code == 400
    assert resp.json()["message"] == "token is required for TokenReview in authentication"
