"""Discovery, OpenAPI and routing follow the definitions: entries appear when a definition
is Established, change with it and disappear when it is deleted; another server process
(a second chain over the same storage) converges through the change log.  Upstream:
kubernetes/apiextensions-apiserver:pkg/apiserver/customresource_discovery_controller.go and
pkg/controller/openapi (the v3 document per group-version)."""
from __future__ import annotations

import copy

import orjson
import pytest

from crds.serving import CRD_RESOURCE
from tests.crds.test_serving_support import (CRONTAB_CRD, CRONTABS, GROUP, create_crd, crontab,
                                             serving_world, source_of)

pytestmark = pytest.mark.django_db

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture
def world():
    completed, head, client = serving_world()
    return completed, head, client


def _groups(client) -> dict:
    return {g["name"]: g for g in client.get("/apis").json()["groups"]}


def _aggregated(client) -> dict:
    resp = client.get("/apis", headers={"accept": AGGREGATED})
    assert resp.headers["content-type"] == AGGREGATED
    return {g["metadata"]["name"]: g for g in resp.json()["items"]}


def test_discovery_and_openapi_appear_change_and_disappear(world):
    completed, _, client = world
    assert GROUP not in _groups(client)
    assert client.get(f"/apis/{GROUP}/v1").status_code == 404
    assert client.get(f"/openapi/v3/apis/{GROUP}/v1").status_code == 404

    create_crd(completed.storage)
    group = _groups(client)[GROUP]
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    assert group["preferredVersion"]["version"] == "v1"
    one = client.get(f"/apis/{GROUP}").json()
    assert one["kind"] == "APIGroup" and one["preferredVersion"]["groupVersion"] == f"{GROUP}/v1"
    resources = {r["name"]: r for r in client.get(f"/apis/{GROUP}/v1").json()["resources"]}
    ct = resources["crontabs"]
    assert ct["kind"] == "CronTab" and ct["namespaced"] is True and ct["singularName"] == "crontab"
    assert ct["shortNames"] == ["ct"] and ct["categories"] == ["all"]
    assert sorted(ct["verbs"]) == ["create", "delete", "deletecollection", "get", "list",
                                   "patch", "update", "watch"]
    assert resources["crontabs/status"]["kind"] == "CronTab"
    assert resources["crontabs/scale"]["kind"] == "Scale"
    assert resources["crontabs/scale"]["group"] == "autoscaling"
    beta = client.get(f"/apis/{GROUP}/v1beta1").json()["resources"]
    assert [r["name"] for r in beta] == ["crontabs"]

    agg = _aggregated(client)[GROUP]
    assert [v["version"] for v in agg["versions"]] == ["v1", "v1beta1"]
    subs = {s["subresource"] for s in agg["versions"][0]["resources"][0]["subresources"]}
    assert subs == {"status", "scale"}

    root = client.get("/openapi/v3").json()["paths"]
    assert f"apis/{GROUP}/v1" in root and f"apis/{GROUP}/v1beta1" in root
    doc = client.get(f"/openapi/v3/apis/{GROUP}/v1").json()
    schemas = doc["components"]["schemas"]
    name = "com.example.stable.v1.CronTab"
    assert schemas[name]["properties"]["spec"]["properties"]["replicas"]["type"] == "integer"
    assert schemas[name]["x-kubernetes-group-version-kind"] == [
        {"group": GROUP, "version": "v1", "kind": "CronTab"}]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    patch_types = doc["paths"][f"/apis/{GROUP}/v1/namespaces/{{namespace}}/crontabs/{{name}}"][
        "patch"]["requestBody"]["content"]
    assert "application/strategic-merge-patch+json" not in patch_types
    assert "application/merge-patch+json" in patch_types

    # a change of the definition (a version stops being served) is reflected
    found, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
    changed = orjson.loads(found)
    changed["spec"]["versions"][1]["served"] = False
    completed.storage.update(CRD_RESOURCE, "", f"crontabs.{GROUP}", changed, rv)
    assert [v["version"] for v in _groups(client)[GROUP]["versions"]] == ["v1"]
    assert client.get(f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs").status_code == 404
    assert client.get(CRONTABS).status_code == 200
    assert f"apis/{GROUP}/v1beta1" not in client.get("/openapi/v3").json()["paths"]

    found, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
    completed.storage.delete(CRD_RESOURCE, "", f"crontabs.{GROUP}", rv)
    assert GROUP not in _groups(client)
    assert GROUP not in _aggregated(client)
    assert client.get(CRONTABS).status_code == 404
    assert client.get(f"/openapi/v3/apis/{GROUP}/v1").status_code == 404
    assert f"apis/{GROUP}/v1" not in client.get("/openapi/v3").json()["paths"]


def test_a_definition_committed_here_is_served_to_the_next_request(world):
    completed, head, client = world
    source = source_of(head)
    client.get("/healthz")
    before = source.passes
    create_crd(completed.storage)
    # the very next request, with no poll interval elapsed
    source.poll_seconds = 3600
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    assert source.passes == before + 1
    # nothing new: no further pass for requests of the served group or of built-ins
    assert client.get(CRONTABS).status_code == 200
    assert client.get("/api/v1/namespaces").status_code == 200
    assert source.passes == before + 1


def test_a_second_process_converges_through_the_change_log(world):
    completed, head, client = world
    other_completed, other_head, other = serving_world(storage=completed.storage)
    for source in (source_of(head), source_of(other_head)):
        source.poll_seconds = 0          # "other processes" are heard of by polling
    # the second process cannot hear this commit: a different listener list
    other_completed.storage.listeners = []
    assert other.get(CRONTABS).status_code == 404
    create_crd(completed.storage)
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    got = other.get(f"{CRONTABS}/a")
    assert got.status_code == 200, got.content
    assert GROUP in _groups(other)
    found, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
    completed.storage.delete(CRD_RESOURCE, "", f"crontabs.{GROUP}", rv)
    assert other.get(f"{CRONTABS}/a").status_code == 404
    assert GROUP not in _groups(other)


def test_a_terminating_definition_refuses_creates_but_serves_the_rest(world):
    completed, head, client = world
    # requests of a served group-version see a definition's changes within the poll
    source_of(head).poll_seconds = 0
    create_crd(completed.storage)
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    found, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
    obj = orjson.loads(found)
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z"
    obj["metadata"]["finalizers"] = ["customresourcecleanup.apiextensions.k8s.io"]
    completed.storage.update(CRD_RESOURCE, "", f"crontabs.{GROUP}", obj, rv)
    refused = client.post(CRONTABS, crontab("b"))
    assert refused.status_code == 405
    assert refused.json()["message"] == \
        "create not allowed while custom resource definition is terminating"
    assert client.get(f"{CRONTABS}/a").status_code == 200
    assert client.delete(f"{CRONTABS}/a").status_code == 200


def test_a_kind_clash_serves_the_first_definition_only(world):
    completed, _, client = world
    create_crd(completed.storage)
    clash = copy.deepcopy(CRONTAB_CRD)
    clash["metadata"] = {"name": f"crontabs2.{GROUP}"}
    clash["spec"]["names"]["plural"] = clash["status"]["acceptedNames"]["plural"] = "crontabs2"
    create_crd(completed.storage, clash)
    assert client.get(CRONTABS).status_code == 200
    assert client.get(f"/apis/{GROUP}/v1/namespaces/default/crontabs2").status_code == 404


def test_concurrent_requests_share_one_pass(world):
    import time

    completed, head, client = world
    source = source_of(head)
    source.ensure_running()                 # hears of this process's commits
    source.sync()
    before = source.passes
    asked = time.monotonic() - 1            # asked before the last pass started
    assert source.sync(asked) == 0 and source.passes == before
    create_crd(completed.storage)           # heard of: a pass is due again
    assert source.sync(asked) == 1 and source.passes == before + 1
