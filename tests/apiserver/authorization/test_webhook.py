"""The Webhook authorization mode against a real HTTPS SubjectAccessReview webhook
(kubernetes/apiserver:plugin/pkg/authorizer/webhook/webhook.go)."""
from __future__ import annotations

import pytest

from apiserver.authentication.kubeconfig_client import Backoff, WebhookClient
from apiserver.authentication.user import UserInfo
from apiserver.authorization.base import AuthorizationAttributes, Decision, Union
from apiserver.authorization.webhook import WebhookAuthorizer
from tests.apiserver.authentication.webhook_support import ReviewServer


def answer(review):
    """jane may get pods; mallory is denied; bob gets no opinion; 'boom' breaks."""
    spec = review["spec"]
    user = spec["user"]
    if user == "boom":
        return 500, {"message": "broken"}
    res = spec.get("resourceAttributes") or {}
    status = {"allowed": user == "jane" and res.get("verb") == "get"
              and res.get("resource") == "pods"}
    if user == "mallory":
        status.update(denied=True, reason="mallory is banned")
    if user == "bob":
        status["evaluationError"] = "no rule for bob"
    return 200, {"apiVersion": review["apiVersion"], "kind": "SubjectAccessReview",
                 "status": status}


@pytest.fixture
def webhook(tmp_path):
    server = ReviewServer(tmp_path, answer=answer, path="/authorize")
    yield server
    server.stop()


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def authorizer(webhook, version="v1", clock=None):
    client = WebhookClient.from_file(str(webhook.kubeconfig()), backoff=Backoff(steps=1))
    return WebhookAuthorizer(client, version, 300, 30, clock=clock or Clock())


def pods(user, verb="get", **kw):
    return AuthorizationAttributes(user=UserInfo(user, uid="u1", groups=("dev",),
                                                 extra={"scopes": ["a"]}),
                                   verb=verb, is_resource_request=True, namespace="ns",
                                   api_group="", api_version="v1", resource="pods", name="p",
                                   **kw)


def test_allowed_denied_and_no_opinion(webhook):
    authz = authorizer(webhook)
    assert authz.authorize(pods("jane")) == (Decision.ALLOW, "")
    assert authz.authorize(pods("mallory")) == (Decision.DENY, "mallory is banned")
    assert authz.authorize(pods("bob")) == (Decision.NO_OPINION, "no rule for bob")


def test_the_review_sent_in_v1_and_v1beta1(webhook):
    authorizer(webhook).authorize(pods("jane"))
    authorizer(webhook, "v1beta1").authorize(AuthorizationAttributes(
        user=UserInfo("jane", groups=("dev",)), verb="get", is_resource_request=False,
        path="/healthz"))
    v1, v1beta1 = webhook.reviews()
    assert v1["apiVersion"] == "authorization.k8s.io/v1"
    assert v1["spec"] == {"user": "jane", "uid": "u1", "groups": ["dev"],
                          "extra": {"scopes": ["a"]},
                          "resourceAttributes": {"namespace": "ns", "verb": "get", "group": "",
                                                 "version": "v1", "resource": "pods",
                                                 "subresource": "", "name": "p"}}
    assert v1beta1["apiVersion"] == "authorization.k8s.io/v1beta1"
    assert v1beta1["spec"]["group"] == ["dev"]
    assert v1beta1["spec"]["nonResourceAttributes"] == {"path": "/healthz", "verb": "get"}


def test_answers_are_cached_by_review_for_their_ttls(webhook):
    clock = Clock()
    authz = authorizer(webhook, clock=clock)
    assert authz.needs_io(pods("jane"))
    for _ in range(3):
        authz.authorize(pods("jane"))
        authz.authorize(pods("bob"))
    assert len(webhook.reviews()) == 2 and not authz.needs_io(pods("jane"))
    clock.now = 31                    # past the unauthorized TTL, within the authorized one
    authz.authorize(pods("jane"))
    authz.authorize(pods("bob"))
    assert len(webhook.reviews()) == 3
    authz.authorize(pods("jane", verb="delete"))   # another review: asked again
    assert len(webhook.reviews()) == 4


def test_a_failing_webhook_is_no_opinion_so_the_request_fails_closed(webhook, tmp_path):
    authz = authorizer(webhook)
    decision, reason = authz.authorize(pods("boom"))
    assert decision is Decision.NO_OPINION and "500" in reason
    webhook.stop()
    decision, _ = authorizer(webhook).authorize(pods("jane"))
    assert decision is Decision.NO_OPINION
    assert Union([authz]).authorize(pods("boom"))[0] is Decision.NO_OPINION
