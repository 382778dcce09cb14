"""Impersonation through the whole filter chain (kubernetes/apiserver:pkg/endpoints/filters/
impersonation.go): each requested part is authorized with the ``impersonate`` verb, the
request then acts as the impersonated user, and the headers are gone downstream."""
from __future__ import annotations

import pytest

from apiserver.authorization.base import Authorizer, Decision
from tests.apiserver.filters.test_filters import bind  # noqa: F401  (fixture)
from tests.asgi import ASGIClient, in_process_app

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
BOB = (("commonName", "bob"),)


class Grants(Authorizer):
    """Allows bob to impersonate what ``allowed`` lists as (resource, subresource, name), and
    everyone everything that is not impersonation; records impersonation checks."""

    def __init__(self, allowed):
        self.allowed, self.asked = set(allowed), []

    def authorize(self, attrs):
        if attrs.verb != "impersonate":
            return Decision.ALLOW, ""
        key = (attrs.api_group, attrs.resource, attrs.subresource, attrs.namespace, attrs.name)
        self.asked.append(key)
        if (attrs.resource, attrs.subresource, attrs.name) in self.allowed:
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""


@pytest.fixture
def app(bind):  # noqa: F811
    def make(*allowed):
        authorizer = Grants(allowed)
        return ASGIClient(bind(in_process_app(authorizer=authorizer)[1]), subject=BOB), authorizer
    return make


def whoami(client, headers):
    resp = client.post(WHOAMI, REVIEW, headers=headers)
    return resp.status_code, resp.json()


def test_no_headers_is_the_authenticated_user(app):
    client, authorizer = app()
    status, body = whoami(client, {})
    assert status == 201 and body["status"]["userInfo"]["username"] == "bob"
    assert authorizer.asked == []


def test_impersonating_a_user_with_groups_extra_and_uid(app):
    client, authorizer = app(("users", "", "jane"), ("groups", "", "dev"),
                             ("userextras", "scopes", "read"), ("uids", "", "1234"))
    status, body = whoami(client, {"Impersonate-User": "jane", "Impersonate-Group": "dev",
                                   "Impersonate-Extra-Scopes": "read",
                                   "Impersonate-Uid": "1234"})
    assert status == 201
    assert body["status"]["userInfo"] == {"username": "jane", "uid": "1234",
                                          "groups": ["dev", "system:authenticated"],
                                          "extra": {"scopes": ["read"]}}
    assert authorizer.asked == [("", "users", "", "", "jane"), ("", "groups", "", "", "dev"),
                                ("authentication.k8s.io", "uids", "", "", "1234"),
                                ("authentication.k8s.io", "userextras", "scopes", "", "read")]


def test_a_service_account_gets_its_groups_and_is_checked_in_its_namespace(app):
    client, authorizer = app(("serviceaccounts", "", "builder"))
    status, body = whoami(client, {"Impersonate-User": "system:serviceaccount:ci:builder"})
    assert status == 201
    assert body["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]
    assert authorizer.asked == [("", "serviceaccounts", "", "ci", "builder")]


def test_impersonating_anonymous_gets_system_unauthenticated(app):
    client, _ = app(("users", "", "system:anonymous"))
    status, body = whoami(client, {"Impersonate-User": "system:anonymous"})
    assert status == 201
    assert body["status"]["userInfo"]["groups"] == ["system:unauthenticated"]


def test_a_user_allowed_only_users_cannot_add_system_masters(app):
    client, _ = app(("users", "", "x"))
    status, body = whoami(client, {"Impersonate-User": "x", "Impersonate-Group": "system:masters"})
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('groups "system:masters" is forbidden: User "bob" cannot '
                               'impersonate resource "groups" in API group "" at the cluster scope')
    assert body["details"] == {"name": "system:masters", "kind": "groups"}


def test_groups_without_a_user_is_a_bad_request(app):
    client, _ = app(("groups", "", "system:masters"))
    status, body = whoami(client, {"Impersonate-Group": "system:masters"})
    assert status == 400 and body["reason"] == "BadRequest"
    assert body["message"] == ("requested [{Group  system:masters    }] without impersonating "
                               "a user")


def test_extra_without_permission_is_forbidden(app):
    client, _ = app(("users", "", "x"))
    status, body = whoami(client, {"Impersonate-User": "x", "Impersonate-Extra-Scopes": "admin"})
    assert status == 403
    assert 'cannot impersonate resource "userextras/scopes" in API group ' \
           '"authentication.k8s.io"' in body["message"]


def test_the_headers_do_not_reach_the_handlers(app, monkeypatch):
    from apiserver.filters import impersonation

    seen = []
    original = impersonation.ImpersonationFilter.__call__

    def spy(self, scope, receive, send):
        result = original(self, scope, receive, send)
        seen.append([k for k, _ in scope.get("headers", ())])
        return result
    monkeypatch.setattr(impersonation.ImpersonationFilter, "__call__", spy)
    client, _ = app(("users", "", "jane"))
    status, _ = whoami(client, {"Impersonate-User": "jane", "Impersonate-Extra-X": "y"})
    assert status == 403
    status, _ = whoami(client, {"Impersonate-User": "jane"})
    assert status == 201
    assert seen and all(not k.startswith(b"impersonate-") for k in seen[-1])
