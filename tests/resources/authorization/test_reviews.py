"""Access and rules reviews (``kubectl auth can-i``): validation messages as upstream, the
verdict from the serving authorizer, rules from ``rules_for``."""
from __future__ import annotations

import pytest

from apiserver.authorization import base
from apiserver.authorization.base import Authorizer, Decision
from apiserver.authentication.user import UserInfo
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme
from resources.authorization.localsubjectaccessreviews import LocalSubjectAccessReviewStrategy
from resources.authorization.selfsubjectaccessreviews import SelfSubjectAccessReviewStrategy
from resources.authorization.selfsubjectrulesreviews import SelfSubjectRulesReviewStrategy
from resources.authorization.subjectaccessreviews import SubjectAccessReviewStrategy

SSAR, SAR = SelfSubjectAccessReviewStrategy(), SubjectAccessReviewStrategy()
LSAR, SSRR = LocalSubjectAccessReviewStrategy(), SelfSubjectRulesReviewStrategy()
ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
BOB = UserInfo("bob", groups=("system:authenticated",))
PODS = {"namespace": "default", "verb": "list", "resource": "pods"}


def ask(strategy, namespace, body, ctx):
    """POST a review to ``strategy`` (its create hook takes the context first)."""
    return strategy.create_virtual(ctx, namespace, body)


class OnlyBobReadsPods(Authorizer):
    """Allows bob get/list on pods in default, denies bob on secrets, else no opinion."""

    name = "test"
    seen: list = []

    def authorize(self, attrs):
        self.seen.append(attrs)
        if attrs.user.name != "bob":
            return Decision.NO_OPINION, "not bob"
        if attrs.resource == "secrets":
            return Decision.DENY, "secrets are off limits"
        if attrs.resource == "pods" and attrs.verb in ("get", "list") \
                and attrs.namespace == "default":
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""


@pytest.fixture
def authorizer(monkeypatch):
    OnlyBobReadsPods.seen = []
    union = base.Union([base.SystemMasters(), OnlyBobReadsPods()])
    for strategy in (SSAR, SAR, LSAR, SSRR):
        monkeypatch.setattr(strategy, "authorizer", union)
    return union


def as_user(user):
    return RequestContext(user=user)


def review(**spec):
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": None}, "spec": spec}


@pytest.mark.parametrize("plural,namespaced", [
    ("selfsubjectaccessreviews", False), ("selfsubjectrulesreviews", False),
    ("subjectaccessreviews", False), ("localsubjectaccessreviews", True)])
def test_registered_create_only(plural, namespaced):
    s = scheme.strategy("authorization.k8s.io", "v1", plural)
    assert (s.verbs, s.stored, s.namespaced) == (("create",), False, namespaced)
    assert s.schema_name == f"io.k8s.api.authorization.v1.{s.kind}"


def test_self_review_allowed_echoes_spec(authorizer):
    code, body = ask(SSAR, "", review(resourceAttributes=PODS), as_user(BOB))
    assert code == 201
    assert body["kind"] == "SelfSubjectAccessReview"
    assert body["spec"] == {"resourceAttributes": PODS}
    assert body["status"] == {"allowed": True}
    attrs = OnlyBobReadsPods.seen[-1]
    assert (attrs.user.name, attrs.verb, attrs.namespace, attrs.resource,
            attrs.is_resource_request) == ("bob", "list", "default", "pods", True)


def test_self_review_denied_and_no_opinion(authorizer):
    _, body = ask(SSAR, "", review(resourceAttributes={
        "namespace": "default", "verb": "get", "resource": "secrets"}), as_user(BOB))
    assert body["status"] == {"allowed": False, "denied": True,
                              "reason": "secrets are off limits"}
    _, body = ask(SSAR, "", review(resourceAttributes={
        "verb": "delete", "group": "apps", "resource": "deployments"}), as_user(BOB))
    assert body["status"] == {"allowed": False}


def test_system_masters_may_do_anything(authorizer):
    _, body = ask(SSAR, "", review(nonResourceAttributes={
        "path": "/healthz", "verb": "get"}), as_user(ADMIN))
    assert body["status"] == {"allowed": True}


def test_non_resource_attributes(authorizer):
    ask(SSAR, "", review(nonResourceAttributes={"path": "/metrics", "verb": "get"}),
                        as_user(BOB))
    attrs = OnlyBobReadsPods.seen[-1]
    assert (attrs.is_resource_request, attrs.path, attrs.verb) == (False, "/metrics", "get")


def test_self_review_validation_messages(authorizer):
    with pytest.raises(errors.Invalid) as exc:
        ask(SSAR, "", review(), as_user(BOB))
    assert exc.value.message == (
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
        "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must "
        "be specified")
    with pytest.raises(errors.Invalid) as exc:
        ask(SSAR, "", review(resourceAttributes=PODS, nonResourceAttributes={
            "path": "/x", "verb": "get"}), as_user(BOB))
    assert exc.value.message.endswith(
        'spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes'
        '{Path:"/x", Verb:"get"}: cannot be specified in combination with resourceAttributes')
    body = review(resourceAttributes=PODS)
    body["metadata"] = {"name": "x"}
    with pytest.raises(errors.Invalid, match="metadata: Invalid value: .*must be empty"):
        ask(SSAR, "", body, as_user(BOB))


def test_subject_access_review_uses_the_spec_subject(authorizer):
    code, body = ask(SAR, "", review(user="bob", groups=["g"], uid="u",
                                               extra={"k": ["v"]}, resourceAttributes=PODS),
                                    as_user(ADMIN))
    assert (code, body["kind"], body["status"]) == (201, "SubjectAccessReview", {"allowed": True})
    attrs = OnlyBobReadsPods.seen[-1]
    assert (attrs.user.name, attrs.user.groups, attrs.user.uid, attrs.user.extra) == \
        ("bob", ("g",), "u", {"k": ["v"]})
    with pytest.raises(errors.Invalid, match="spec.user: Invalid value: \"\": at least one of "
                                             "user or group must be specified"):
        ask(SAR, "", review(resourceAttributes=PODS), as_user(ADMIN))


def test_local_subject_access_review(authorizer):
    code, body = ask(LSAR, "default", review(user="bob", resourceAttributes=PODS),
                                     as_user(ADMIN))
    assert (code, body["metadata"]["namespace"], body["status"]) == \
        (201, "default", {"allowed": True})
    with pytest.raises(errors.Invalid, match="spec.resourceAttributes.namespace: Invalid value: "
                                             "\"default\": must match metadata.namespace"):
        ask(LSAR, "other", review(user="bob", resourceAttributes=PODS),
                            as_user(ADMIN))
    with pytest.raises(errors.Invalid, match="disallowed on this kind of request"):
        ask(LSAR, "default", review(user="bob", nonResourceAttributes={
            "path": "/x", "verb": "get"}), as_user(ADMIN))
    body = review(user="bob", resourceAttributes=PODS)
    body["metadata"] = {"namespace": "elsewhere"}
    with pytest.raises(errors.BadRequest, match="does not match the namespace"):
        ask(LSAR, "default", body, as_user(ADMIN))


def test_rules_review_for_system_masters(authorizer):
    code, body = ask(SSRR, "", {"spec": {"namespace": "default"}}, as_user(ADMIN))
    assert code == 201
    assert body["kind"] == "SelfSubjectRulesReview"
    assert body["status"] == {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": True}   # the test authorizer cannot list its rules


def test_rules_review_requires_a_namespace(authorizer):
    with pytest.raises(errors.BadRequest, match="no namespace on request"):
        ask(SSRR, "", {"spec": {}}, as_user(ADMIN))


def test_rules_review_with_always_allow(monkeypatch):
    monkeypatch.setattr(SSRR, "authorizer", base.build(("AlwaysAllow",)))
    _, body = ask(SSRR, "", {"spec": {"namespace": "ns"}}, as_user(ADMIN))
    assert body["status"]["incomplete"] is False
    assert len(body["status"]["resourceRules"]) == 1     # masters' and AlwaysAllow's merged
    _, body = ask(SSRR, "", {"spec": {"namespace": "ns"}}, as_user(BOB))
    assert body["status"]["resourceRules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]


def test_authorizer_rules_for():
    assert base.AlwaysDeny().rules_for(BOB, "ns") == ([], [], False)
    assert base.SystemMasters().rules_for(BOB, "ns") == ([], [], False)
    assert base.Authorizer().rules_for(BOB, "ns") == ([], [], True)
    r, n, inc = base.AlwaysAllow().rules_for(BOB, "ns")
    r[0]["verbs"].append("mutated")      # callers get copies
    assert base.AlwaysAllow().rules_for(BOB, "ns")[0][0]["verbs"] == ["*"]
    union = base.build(("AlwaysDeny",))
    assert union.rules_for(BOB, "ns") == ([], [], False)
    assert union.rules_for(ADMIN, "ns")[2] is False
