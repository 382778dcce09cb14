"""CustomResourceDefinitions over in-process HTTP through the whole handler chain (served by
the APIExtensionsServer): create, get, list, the Table, discovery, a 422 Invalid Status,
the status subresource and a DELETE that waits for the finalizer."""
from __future__ import annotations

import pytest

from tests.asgi import ASGIClient, in_process_app
from tests.crds.test_crd_support import crd

pytestmark = pytest.mark.django_db

BASE = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TABLE = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


@pytest.fixture
def client():
    return ASGIClient(in_process_app()[1])


def test_create_get_list_and_table(client):
    made = client.post(BASE, crd())
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["apiVersion"], body["kind"]) == ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert body["spec"]["names"]["listKind"] == "WidgetList"
    assert body["spec"]["conversion"] == {"strategy": "None"}
    assert body["status"]["storedVersions"] == ["v1"]
    got = client.get(BASE + "/widgets.example.com")
    assert got.status_code == 200 and got.json()["metadata"]["uid"] == body["metadata"]["uid"]
    listed = client.get(BASE).json()
    assert listed["kind"] == "CustomResourceDefinitionList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["widgets.example.com"]
    table = client.get(BASE, headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["widgets.example.com", body["metadata"]["creationTimestamp"]]


def test_invalid_is_a_422_status(client):
    bad = crd()
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].pop("type")
    bad["spec"]["scope"] = "Global"
    resp = client.post(BASE, bad)
    assert resp.status_code == 422
    status = resp.json()
    assert (status["kind"], status["status"], status["reason"], status["code"]) == (
        "Status", "Failure", "Invalid", 422)
    assert status["details"] == {
        "name": "widgets.example.com", "group": "apiextensions.k8s.io",
        "kind": "CustomResourceDefinition",
        "causes": [
            {"reason": "FieldValueNotSupported",
             "message": 'Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
             "field": "spec.scope"},
            {"reason": "FieldValueRequired",
             "message": "Required value: must not be empty for specified object fields",
             "field": "spec.validation.openAPIV3Schema.properties[spec].type"}]}
    assert status["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: '
        '[spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced", '
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be "
        "empty for specified object fields]")


def test_discovery_lists_the_kind(client):
    resources = client.get("/apis/apiextensions.k8s.io/v1").json()["resources"]
    by_name = {r["name"]: r for r in resources}
    crds = by_name["customresourcedefinitions"]
    assert (crds["kind"], crds["namespaced"], crds["shortNames"], crds["categories"]) == (
        "CustomResourceDefinition", False, ["crd", "crds"], ["api-extensions"])
    assert "customresourcedefinitions/status" in by_name


def test_status_write_and_delete_with_finalizer(client):
    made = client.post(BASE, crd()).json()
    made["status"]["acceptedNames"] = {"plural": "widgets", "kind": "Widget"}
    resp = client.put(BASE + "/widgets.example.com/status", made)
    assert resp.status_code == 200, resp.json()
    assert resp.json()["status"]["acceptedNames"] == {"plural": "widgets", "kind": "Widget"}
    bad = resp.json()
    bad["status"]["acceptedNames"]["kind"] = "Bad_Kind"
    resp = client.put(BASE + "/widgets.example.com/status", bad)
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["field"] == "status.acceptedNames.kind"
    gone = client.delete(BASE + "/widgets.example.com")
    assert gone.status_code == 200
    body = gone.json()
    assert body["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert body["metadata"]["deletionTimestamp"]


@pytest.mark.parametrize("content_type", ["application/strategic-merge-patch+json",
                                          "application/merge-patch+json"])
def test_patches_as_kubectl_sends_them(client, content_type):
    client.post(BASE, crd())
    patch = {"spec": {"names": {"shortNames": ["wd"]},
                      "versions": [{"name": "v1", "served": True, "storage": True,
                                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    resp = client.patch(BASE + "/widgets.example.com", patch, content_type)
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["spec"]["names"]["shortNames"] == ["wd"]
    assert body["spec"]["versions"][0]["schema"] == {"openAPIV3Schema": {"type": "object"}}
    assert body["metadata"]["generation"] == 2


def test_server_side_apply_creates_and_updates(client):
    body = crd()
    resp = client.patch(BASE + "/widgets.example.com", body, "application/apply-patch+yaml",
                        query={"fieldManager": "kubectl"})
    assert resp.status_code == 201, resp.json()
    body["spec"]["names"]["categories"] = ["all"]
    resp = client.patch(BASE + "/widgets.example.com", body, "application/apply-patch+yaml",
                        query={"fieldManager": "kubectl"})
    assert resp.status_code == 200, resp.json()
    assert resp.json()["spec"]["names"]["categories"] == ["all"]
