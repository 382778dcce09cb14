"""The whole path over in-process HTTP: a CustomResourceDefinition created through the API,
named and established by the apiextensions controllers (run inline here), its custom
resources served at once, and deleted again with the definition (kubectl's sequence:
apply the CRD, wait for Established, use the resource)."""
from __future__ import annotations

import copy

import pytest

from tests.crds.test_serving_support import CRONTAB_CRD, CRONTABS, GROUP, crontab, serving_world, \
    source_of

pytestmark = pytest.mark.django_db

controllers = pytest.importorskip("crds.controllers")
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _run_controllers(stores):
    for cls in controllers.CONTROLLERS:
        cls(stores).sync()


def test_create_establish_use_and_delete_a_definition():
    completed, head, client = serving_world()
    body = copy.deepcopy({k: v for k, v in CRONTAB_CRD.items() if k != "status"})
    # identical schemas are hoisted in the internal version (crds/validation.py, as
    # upstream), so per-version selectable fields must then be identical too
    body["spec"]["versions"][1]["selectableFields"] = [{"jsonPath": ".spec.color"}]
    made = client.post(CRDS, body)
    assert made.status_code == 201, made.json()["details"]
    assert client.get(CRONTABS).status_code == 404          # not Established yet
    _run_controllers(completed.stores)
    crd = client.get(f"{CRDS}/crontabs.{GROUP}").json()
    established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert established.get("Established") == "True", crd["status"]

    assert client.post(CRONTABS, crontab("a")).status_code == 201
    resources = {g["metadata"]["name"] for g in client.get("/apis", headers={
        "accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
        .json()["items"]}
    assert GROUP in resources

    deleted = client.delete(f"{CRDS}/crontabs.{GROUP}")
    assert deleted.status_code == 200, deleted.content
    _run_controllers(completed.stores)                         # the finalizer deletes the CRs
    assert client.get(f"{CRDS}/crontabs.{GROUP}").status_code == 404
    assert client.get("/apis/stable.example.com/v1").status_code == 404    # discovery at once
    # requests of a group-version still served see a deletion within the poll interval
    source_of(head).poll_seconds = 0
    assert client.get(CRONTABS).status_code == 404
    assert GROUP not in {g["name"] for g in client.get("/apis").json()["groups"]}
