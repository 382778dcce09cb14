"""The CEL ``authorizer`` library in admission expressions, asking the real RBAC
authorizer about the requesting user: a ValidatingAdmissionPolicy refusing ConfigMaps from
users who may not list Secrets, ``authorizer.requestResource``, a service account's
permissions, path checks, and a webhook's matchCondition."""
from __future__ import annotations

import pytest

from apiserver.authentication.user import UserInfo
from apiserver.authorization import base
from apiserver.cel import CompileError, EvaluationError, authz, compile_expression
from tests.resources.admission.rbac_cluster import Cluster, rule
from tests.resources.admission.test_webhook_dispatch import SEEN, post_config
from tests.resources.admission.test_webhook_dispatch import server  # noqa: F401

G = "/apis/admissionregistration.k8s.io/v1"
CM = "/api/v1/namespaces/default/configmaps"
CM_RULES = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                               "operations": ["CREATE"], "resources": ["configmaps"]}]}


@pytest.fixture
def cluster(db):
    c = Cluster(("ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook"))
    assert c.admin.post("/api/v1/namespaces", {"metadata": {"name": "default"}}).status_code \
        in (201, 409)
    c.grant(rule(["create"], ["configmaps"]))
    return c


def policy(cluster, name, expression, message_expression):
    assert cluster.admin.post(f"{G}/validatingadmissionpolicies", {
        "metadata": {"name": name},
        "spec": {"matchConstraints": CM_RULES, "validations": [
            {"expression": expression, "messageExpression": message_expression}]}}
    ).status_code == 201
    assert cluster.admin.post(f"{G}/validatingadmissionpolicybindings", {
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]}}).status_code == 201


def test_a_policy_asks_what_the_user_may_do(cluster):
    policy(cluster, "secret-readers",
           "authorizer.group('').resource('secrets').namespace(object.metadata.namespace)"
           ".check('list').allowed()",
           "'user ' + request.userInfo.username + ' may not list secrets'")
    resp = cluster.bob.post(CM, {"metadata": {"name": "a"}})
    assert resp.status_code == 422, resp.content
    assert resp.json()["message"].endswith("denied request: user bob may not list secrets")
    cluster.grant(rule(["list"], ["secrets"]))
    assert cluster.bob.post(CM, {"metadata": {"name": "a"}}).status_code == 201
    # system:masters is allowed by the union's first authorizer
    assert cluster.admin.post(CM, {"metadata": {"name": "b"}}).status_code == 201


def test_request_resource_names_the_object_of_the_request(cluster):
    policy(cluster, "deleters", "authorizer.requestResource.check('delete').allowed()",
           "'no delete on ' + request.name")
    resp = cluster.bob.post(CM, {"metadata": {"name": "only-mine"}})
    assert resp.status_code == 422
    assert resp.json()["message"].endswith("denied request: no delete on only-mine")
    # a grant on another name does not help; one on this name does
    cluster.grant(rule(["delete"], ["configmaps"], names=("other",)))
    assert cluster.bob.post(CM, {"metadata": {"name": "only-mine"}}).status_code == 422
    cluster.grant(rule(["delete"], ["configmaps"], names=("only-mine",)))
    assert cluster.bob.post(CM, {"metadata": {"name": "only-mine"}}).status_code == 201


def test_a_webhook_match_condition_uses_the_authorizer(cluster, server):  # noqa: F811
    port, ca = server
    post_config(cluster.admin, "ValidatingWebhookConfiguration", {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "authz.example.com"},
        "webhooks": [{"name": "authz.example.com",
                      "clientConfig": {"url": f"https://127.0.0.1:{port}/", "caBundle": ca},
                      "rules": CM_RULES["resourceRules"], "sideEffects": "None",
                      "admissionReviewVersions": ["v1"],
                      "matchConditions": [{
                          "name": "unprivileged",
                          "expression": "!authorizer.group('').resource('nodes')"
                                        ".check('delete').allowed()"}]}]})

    def called(name):
        return any((r["request"].get("object") or {}).get("metadata", {}).get("name") == name
                   for r in SEEN)
    assert cluster.bob.post(CM, {"metadata": {"name": "from-bob"}}).status_code == 201
    assert cluster.admin.post(CM, {"metadata": {"name": "from-admin"}}).status_code == 201
    assert called("from-bob") and not called("from-admin")


class Recorder(base.Authorizer):
    """Allows ``get`` only and remembers what it was asked."""

    def __init__(self):
        self.asked = []

    def authorize(self, attrs):
        self.asked.append(attrs)
        if attrs.verb == "get":
            return base.Decision.ALLOW, "gets are fine"
        return base.Decision.NO_OPINION, "only gets"


def evaluate(text, authorizer, resource=("apps", "deployments", "scale", "ns", "web")):
    return compile_expression(text, authz=True).evaluate(
        authz.variables(UserInfo("jane", groups=("dev",)), authorizer, resource))


def test_checks_carry_upstream_attributes():
    rec = Recorder()
    assert evaluate("authorizer.requestResource.check('get').reason()", rec) == "gets are fine"
    a = rec.asked[-1]
    assert (a.user.name, a.verb, a.api_group, a.api_version, a.resource, a.subresource,
            a.namespace, a.name, a.is_resource_request) == \
        ("jane", "get", "apps", "*", "deployments", "scale", "ns", "web", True)
    assert not evaluate("authorizer.path('/healthz').check('post').allowed()", rec)
    assert (rec.asked[-1].path, rec.asked[-1].is_resource_request) == ("/healthz", False)
    assert evaluate("authorizer.serviceAccount('ns', 'robot').group('').resource('pods')"
                    ".check('get').allowed()", rec)
    a = rec.asked[-1]
    assert a.user.name == "system:serviceaccount:ns:robot"
    assert set(a.user.groups) == {"system:serviceaccounts", "system:serviceaccounts:ns"}


def test_a_failing_authorizer_is_an_error_on_the_decision():
    class Broken(base.Authorizer):
        def authorize(self, attrs):
            raise RuntimeError("webhook authorizer unreachable")
    assert evaluate("authorizer.requestResource.check('get').errored()", Broken())
    assert evaluate("authorizer.requestResource.check('get').error()", Broken()) == \
        "webhook authorizer unreachable"
    assert not evaluate("authorizer.requestResource.check('get').allowed()", Broken())


def test_the_library_is_declared_for_admission_only_and_typed():
    with pytest.raises(CompileError, match="undeclared reference to 'check'"):
        compile_expression("authorizer.requestResource.check('get').allowed()")
    with pytest.raises(EvaluationError):
        evaluate("authorizer.group(1).resource('x').check('get').allowed()", Recorder())
    with pytest.raises(EvaluationError):
        evaluate("authorizer.group('').resource('').check('get').allowed()", Recorder())
