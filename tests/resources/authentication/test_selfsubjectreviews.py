"""SelfSubjectReview (``kubectl auth whoami``): the caller's identity, nothing stored."""
from __future__ import annotations

import pytest

from apiserver.authentication.user import UserInfo
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme
from resources.authentication.selfsubjectreviews import SelfSubjectReviewStrategy

S = SelfSubjectReviewStrategy()


def ask(strategy, namespace, body, ctx):
    """POST a review to ``strategy`` (its create hook takes the context first)."""
    return strategy.create_virtual(ctx, namespace, body)


def test_registered_create_only_and_cluster_scoped():
    s = scheme.strategy("authentication.k8s.io", "v1", "selfsubjectreviews")
    assert isinstance(s, SelfSubjectReviewStrategy)
    assert (s.verbs, s.stored, s.namespaced) == (("create",), False, False)


def test_answers_the_callers_identity():
    user = UserInfo("alice", uid="u-1", groups=("dev", "system:authenticated"),
                    extra={"scopes": ["a", "b"]})
    code, body = ask(S, "", {"apiVersion": "authentication.k8s.io/v1",
                                       "kind": "SelfSubjectReview"}, RequestContext(user=user))
    assert code == 201
    assert body["kind"] == "SelfSubjectReview"
    assert body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["metadata"]["creationTimestamp"].endswith("Z")
    assert body["status"] == {"userInfo": {"username": "alice", "uid": "u-1",
                                           "groups": ["dev", "system:authenticated"],
                                           "extra": {"scopes": ["a", "b"]}}}


def test_uid_and_extra_left_out_when_empty():
    user = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
    _, body = ask(S, "", {}, RequestContext(user=user))
    assert body["status"]["userInfo"] == {
        "username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}


def test_no_user_is_a_bad_request():
    with pytest.raises(errors.BadRequest, match="no user present on request"):
        ask(S, "", {}, RequestContext())
