"""Helpers for the tests of the servers built on ``workers.serving``.  This module holds
no tests.

* ``peer(cert)``: what ``workers.serving.https`` puts in a scope for a verified client
  certificate: its DER and its subject as ``ssl.getpeercert()`` decodes it
  (``test_https`` checks the two agree).
* ``review_client`` (fixture): a client of a REAL API server, the in-process handler
  chain over the test database (``tests.asgi``), with the token authenticator ``Tokens``
  and the authorizer ``Bob`` plugged in as a server's configuration plugs them.
  ``ReviewClient`` only carries a review to that chain and back, as
  ``apiserver.client.AsyncClient.create`` does over HTTPS, and records each path.
* ``Unreachable``: a client whose API server cannot be reached.
"""
from __future__ import annotations

import orjson
import pytest
from cryptography.x509.oid import NameOID

from apiserver.authentication.base import (AuthenticationError, TokenAuthenticator,
                                           TokenResponse, TokenUnion, Union)
from apiserver.authentication.bearer import BearerTokenAuthenticator
from apiserver.authentication.token_cache import TokenCache
from apiserver.authentication.user import UserInfo
from apiserver.authentication.x509 import X509Authenticator
from apiserver.authorization import base
from apiserver.authorization.base import Decision
from apiserver.client import ApiError
from tests.apiserver.filters.test_filters import bind  # noqa: F401  (fixture)
from tests.asgi import ASGIClient, in_process_app
from tests.certs import der

API = "https://kubernetes.default.svc.cluster.local"
_SSL_NAMES = {NameOID.COMMON_NAME: "commonName", NameOID.ORGANIZATION_NAME: "organizationName"}


def peer(cert) -> dict:
    """``{"client_cert_der": …, "client_subject": [{attribute: value}, …]}``."""
    subject = [{_SSL_NAMES[a.oid]: a.value for a in rdn} for rdn in cert.subject.rdns]
    return {"client_cert_der": der(cert), "client_subject": subject}


class Tokens(TokenAuthenticator):
    name = "tokens"

    def authenticate_token(self, token, audiences):
        if token == "broken":
            raise AuthenticationError("token has expired")
        if token == "foreign":                # a token for other audiences: the review is a 500
            return TokenResponse(UserInfo("svc"), ("vault",))
        if token == "good":
            return TokenResponse(UserInfo("jane", uid="42", groups=("dev",),
                                          extra={"scopes.example.com": ["a", "b"]}),
                                 tuple(audiences))
        return None


class Bob(base.Authorizer):
    """Allows bob to get nodes/metrics, list metrics.k8s.io pods and GET /metrics; denies
    bob secrets; has no opinion on anyone else."""

    name = "bob"
    seen: list = []

    def authorize(self, attrs):
        self.seen.append(attrs)
        if attrs.user.name != "bob":
            return Decision.NO_OPINION, ""
        if attrs.resource == "secrets":
            return Decision.DENY, "secrets are off limits"
        if (attrs.resource, attrs.subresource, attrs.verb) == ("nodes", "metrics", "get") \
                or (not attrs.is_resource_request and attrs.path == "/metrics") \
                or (attrs.api_group, attrs.resource, attrs.verb) == ("metrics.k8s.io", "pods",
                                                                    "list"):
            return Decision.ALLOW, "bob reads metrics"
        return Decision.NO_OPINION, ""


class ReviewClient:
    def __init__(self, asgi: ASGIClient):
        self.asgi, self.requests = asgi, []

    async def create(self, path, body):
        self.requests.append(path)
        resp = await self.asgi.acall("POST", path, orjson.dumps(body),
                                     {"content-type": "application/json"})
        if resp.status_code >= 300:
            out = resp.json()
            raise ApiError(resp.status_code, out.get("reason", ""), out.get("message", ""), out)
        return resp.json()


class Unreachable:
    async def create(self, path, body):
        raise OSError("connection refused")


@pytest.fixture
def review_client(bind, monkeypatch):  # noqa: F811
    # views run inline on the loop's thread, on the test's connection
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    Bob.seen = []
    authn = Union([X509Authenticator(),
                   BearerTokenAuthenticator(TokenCache(TokenUnion([Tokens()])), (API,))])
    authz = base.Union([base.SystemMasters(), Bob()])
    app = in_process_app(authenticator=authn, authorizer=authz)[1]
    return ReviewClient(ASGIClient(bind(app)))
