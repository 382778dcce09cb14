"""admissionregistration.k8s.io/v1 MutatingWebhookConfiguration: what differs from the
validating kind (reinvocationPolicy), and the HTTP surface (Table, discovery categories)."""
from __future__ import annotations

import orjson

from apiserver.registry.context import RequestContext
from resources.admissionregistration.mutatingwebhookconfigurations import (
    MutatingWebhookConfigurationStrategy)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

S = MutatingWebhookConfigurationStrategy()
BASE = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def hook(**extra):
    return {"name": "mutate.example.com", "clientConfig": {"url": "https://h.example.com/m"},
            "sideEffects": "NoneOnDryRun", "admissionReviewVersions": ["v1", "v1beta1"], **extra}


def test_reinvocation_policy_default_and_enum():
    obj = {"metadata": {"name": "m"}, "webhooks": [hook()]}
    S.default(obj)
    assert obj["webhooks"][0]["reinvocationPolicy"] == "Never"
    assert S.validate(RequestContext(), obj) == []
    bad = {"metadata": {"name": "m"}, "webhooks": [hook(reinvocationPolicy="Always")]}
    S.default(bad)
    assert [e.error_text() for e in S.validate(RequestContext(), bad)] == [
        'webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: '
        '"IfNeeded", "Never"']


def test_http_create_table_and_discovery(db):
    ensure_revision_row()
    client = ASGIClient(in_process_app()[1])
    resp = client.post(BASE, {"apiVersion": "admissionregistration.k8s.io/v1",
                              "kind": "MutatingWebhookConfiguration",
                              "metadata": {"name": "m"}, "webhooks": [hook()]})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["webhooks"][0]["timeoutSeconds"] == 10 and body["metadata"]["generation"] == 1
    table = client.get(BASE, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Webhooks", "Age"]
    assert table["rows"][0]["cells"][:2] == ["m", 1]
    bad = client.post(BASE, {"metadata": {"name": "bad"}, "webhooks": [hook(name="x")]})
    assert bad.status_code == 422
    assert bad.json()["details"]["causes"][0] == {
        "reason": "FieldValueInvalid", "field": "webhooks[0].name",
        "message": 'Invalid value: "x": should be a domain with at least three segments separated by dots'}
    found = orjson.loads(client.get("/apis/admissionregistration.k8s.io/v1").content)["resources"]
    entry = next(r for r in found if r["name"] == "mutatingwebhookconfigurations")
    assert entry["categories"] == ["api-extensions"] and entry["namespaced"] is False
