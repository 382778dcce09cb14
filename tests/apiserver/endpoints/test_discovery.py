"""Discovery documents as kubectl reads them (API-CONTRACT.md §1.1, §2.1, §2.2)."""
import orjson
import pytest
from django.test import Client

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = (AGG_V2 + ",application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                  "as=APIGroupDiscoveryList,application/json")


@pytest.fixture
def client():
    return Client()


def test_aggregated_api_has_exact_content_type_and_core_resources(client):
    resp = client.get("/api", HTTP_ACCEPT=KUBECTL_ACCEPT)
    assert resp.status_code == 200
    assert resp["Content-Type"] == AGG_V2
    doc = orjson.loads(resp.content)
    assert doc["kind"] == "APIGroupDiscoveryList"
    (core,) = doc["items"]
    assert core["metadata"] == {}
    names = {r["resource"]: r for r in core["versions"][0]["resources"]}
    assert names["configmaps"]["shortNames"] == ["cm"]
    assert names["namespaces"]["scope"] == "Cluster"


def test_not_modified_keeps_the_aggregated_content_type(client):
    """kubectl's HTTP cache copies a 304's headers onto the cached body; a wrong type there
    makes kubectl treat discovery as legacy and lose every resource."""
    first = client.get("/api", HTTP_ACCEPT=KUBECTL_ACCEPT)
    again = client.get("/api", HTTP_ACCEPT=KUBECTL_ACCEPT, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["Content-Type"] == AGG_V2


def test_legacy_discovery_without_aggregated_accept(client):
    resp = client.get("/api", HTTP_ACCEPT="application/json")
    assert orjson.loads(resp.content) == {**orjson.loads(resp.content), "kind": "APIVersions",
                                          "versions": ["v1"]}
    res = orjson.loads(client.get("/api/v1").content)
    assert res["groupVersion"] == "v1"
    assert {"name": "namespaces/status", "singularName": "", "namespaced": False,
            "kind": "Namespace", "verbs": ["get", "patch", "update"]} in res["resources"]


def test_unknown_group_is_a_status_404(client):
    resp = client.get("/apis/nope.example.com/v1")
    assert resp.status_code == 404
    assert orjson.loads(resp.content)["reason"] == "NotFound"
