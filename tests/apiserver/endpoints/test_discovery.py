"""Discovery documents as kubectl reads them (kubernetes/client-go:discovery/
aggregated_discovery.go), served in-process through the filters and the server chain."""
import orjson
import pytest

from tests.asgi import ASGIClient, in_process_app

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = (AGG_V2 + ",application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                  "as=APIGroupDiscoveryList,application/json")


@pytest.fixture
def client(db):
    return ASGIClient(in_process_app()[1])


def test_anonymous_discovery_is_401(db):
    resp = ASGIClient(in_process_app()[1], subject=None).get("/api")
    assert resp.status_code == 401 and resp.json()["reason"] == "Unauthorized"


def test_aggregated_api_has_exact_content_type_and_core_resources(client):
    resp = client.get("/api", {"accept": KUBECTL_ACCEPT})
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
    first = client.get("/api", {"accept": KUBECTL_ACCEPT})
    again = client.get("/api", {"accept": KUBECTL_ACCEPT, "if-none-match": first["ETag"]})
    assert again.status_code == 304
    assert again["Content-Type"] == AGG_V2


def test_legacy_discovery_without_aggregated_accept(client):
    resp = client.get("/api", {"accept": "application/json"})
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
