"""matchPolicy Equivalent: a webhook or policy written for autoscaling/v1
HorizontalPodAutoscalers sees (and mutates) an autoscaling/v2 request in v1's shape, with
the client's own version as requestKind; ``Exact`` leaves it alone."""
from __future__ import annotations

import pytest

from tests.resources.admission.test_webhook_dispatch import SEEN, post_config
from tests.resources.admission.test_webhook_dispatch import server  # noqa: F401
from tests.asgi import ASGIClient, in_process_app
from tests.apiserver.storage.support import ensure_revision_row

HPA_V1_RULES = [{"operations": ["CREATE"], "apiGroups": ["autoscaling"],
                 "apiVersions": ["v1"], "resources": ["horizontalpodautoscalers"]}]
V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"


def hpa_v2(name, utilization=90):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "minReplicas": 1, "maxReplicas": 3,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": utilization}}}]}}


@pytest.fixture
def client(db):
    ensure_revision_row()
    completed, app = in_process_app(admission_plugins=(
        "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ValidatingAdmissionPolicy"))
    c = ASGIClient(app)
    assert c.post("/api/v1/namespaces", {"metadata": {"name": "default"}}).status_code in (201, 409)
    return c


def webhook_config(kind, name, port, ca, path, policy):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name},
            "webhooks": [{"name": name, "rules": HPA_V1_RULES, "matchPolicy": policy,
                          "clientConfig": {"url": f"https://127.0.0.1:{port}{path}",
                                           "caBundle": ca},
                          "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}


def reviews_of(name):
    return [r["request"] for r in SEEN
            if (r["request"].get("object") or {}).get("metadata", {}).get("name") == name]


def test_a_v1_webhook_sees_a_v2_request_in_v1_shape(client, server):  # noqa: F811
    port, ca = server
    post_config(client, "ValidatingWebhookConfiguration", webhook_config(
        "ValidatingWebhookConfiguration", "equivalent.example.com", port, ca, "/", "Equivalent"))
    assert client.post(V2, hpa_v2("eq")).status_code == 201
    (request,) = reviews_of("eq")
    assert request["kind"] == {"group": "autoscaling", "version": "v1",
                               "kind": "HorizontalPodAutoscaler"}
    assert request["resource"] == {"group": "autoscaling", "version": "v1",
                                   "resource": "horizontalpodautoscalers"}
    assert request["requestKind"]["version"] == "v2"
    assert request["requestResource"]["version"] == "v2"
    assert request["object"]["apiVersion"] == "autoscaling/v1"
    assert request["object"]["spec"]["targetCPUUtilizationPercentage"] == 90
    assert "metrics" not in request["object"]["spec"]


def test_an_exact_webhook_is_not_called_for_another_version(client, server):  # noqa: F811
    port, ca = server
    post_config(client, "ValidatingWebhookConfiguration", webhook_config(
        "ValidatingWebhookConfiguration", "exact.example.com", port, ca, "/", "Exact"))
    assert client.post(V2, hpa_v2("ex2")).status_code == 201
    assert reviews_of("ex2") == []
    body = {**hpa_v2("ex1"), "apiVersion": "autoscaling/v1"}
    body["spec"] = {"scaleTargetRef": body["spec"]["scaleTargetRef"], "maxReplicas": 3,
                    "targetCPUUtilizationPercentage": 70}
    assert client.post(V1, body).status_code == 201
    (request,) = reviews_of("ex1")
    assert request["kind"]["version"] == request["requestKind"]["version"] == "v1"


def test_a_v1_patch_lands_in_the_v2_object(client, server):  # noqa: F811
    port, ca = server
    post_config(client, "MutatingWebhookConfiguration", webhook_config(
        "MutatingWebhookConfiguration", "cpu.example.com", port, ca, "/cpu50", "Equivalent"))
    resp = client.post(V2, hpa_v2("patched"))
    assert resp.status_code == 201, resp.content
    (metric,) = resp.json()["spec"]["metrics"]
    assert metric["resource"]["target"]["averageUtilization"] == 50
    stored = client.get(f"{V1}/patched").json()
    assert stored["spec"]["targetCPUUtilizationPercentage"] == 50


def _policy(client, name, policy, expression, message_expression=None):
    validation = {"expression": expression}
    if message_expression:
        validation["messageExpression"] = message_expression
    g = "/apis/admissionregistration.k8s.io/v1"
    assert client.post(f"{g}/validatingadmissionpolicies", {
        "metadata": {"name": name},
        "spec": {"matchConstraints": {"resourceRules": HPA_V1_RULES, "matchPolicy": policy},
                 "validations": [validation]}}).status_code == 201
    assert client.post(f"{g}/validatingadmissionpolicybindings", {
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]}}).status_code == 201


def test_a_v1_policy_evaluates_a_v2_request_in_v1_shape(client):
    _policy(client, "cpu-cap", "Equivalent",
            "object.spec.targetCPUUtilizationPercentage <= 80",
            "request.requestKind.version + ' as ' + request.kind.version + ': ' + "
            "string(object.spec.targetCPUUtilizationPercentage)")
    resp = client.post(V2, hpa_v2("hot", 90))
    assert resp.status_code == 422, resp.content
    assert resp.json()["message"] == (
        'horizontalpodautoscalers.autoscaling "hot" is forbidden: ValidatingAdmissionPolicy '
        "'cpu-cap' with binding 'cpu-cap' denied request: v2 as v1: 90")
    assert client.post(V2, hpa_v2("cool", 60)).status_code == 201


def test_an_exact_policy_leaves_other_versions_alone(client):
    _policy(client, "never", "Exact", "false")
    assert client.post(V2, hpa_v2("free")).status_code == 201


def test_a_core_event_policy_sees_events_k8s_io_events_in_core_shape(client):
    # events.k8s.io/v1 Events are core Events in storage, so the two are equivalent
    g = "/apis/admissionregistration.k8s.io/v1"
    rules = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
              "resources": ["events"]}]
    assert client.post(f"{g}/validatingadmissionpolicies", {
        "metadata": {"name": "no-secrets-in-events"},
        "spec": {"matchConstraints": {"resourceRules": rules, "matchPolicy": "Equivalent"},
                 "validations": [{"expression": "!object.message.contains('password')",
                                  "messageExpression": "request.requestKind.group + ' as ' "
                                                       "+ object.kind"}]}}).status_code == 201
    assert client.post(f"{g}/validatingadmissionpolicybindings", {
        "metadata": {"name": "no-secrets-in-events"},
        "spec": {"policyName": "no-secrets-in-events",
                 "validationActions": ["Deny"]}}).status_code == 201
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
             "metadata": {"name": "leak", "namespace": "default"},
             "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.com/c",
             "reportingInstance": "i", "action": "Log", "reason": "Logged", "type": "Normal",
             "note": "the password is hunter2",
             "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}}
    resp = client.post("/apis/events.k8s.io/v1/namespaces/default/events", event)
    assert resp.status_code == 422, resp.content
    assert resp.json()["message"].endswith("denied request: events.k8s.io as Event")
    event["note"] = "nothing to see"
    assert client.post("/apis/events.k8s.io/v1/namespaces/default/events",
                       event).status_code == 201
