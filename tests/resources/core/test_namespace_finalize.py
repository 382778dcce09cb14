"""``PUT /api/v1/namespaces/{name}/finalize``: replaces ``spec.finalizers``, keeps the status,
checks the finalizer names; removing the last one from a Terminating namespace removes it.

Upstream: kubernetes/kubernetes:pkg/registry/core/namespace/storage/storage.go (FinalizeREST,
an Updater only), strategy.go (namespaceFinalizeStrategy) and pkg/apis/core/validation/
validation.go (ValidateNamespaceFinalizeUpdate, ValidateNamespace).
"""
from __future__ import annotations

import pytest

from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

NS = "/api/v1/namespaces"


@pytest.fixture
def client(db):
    ensure_revision_row()
    return ASGIClient(in_process_app()[1])


def namespace(name="fin", finalizers=("kubernetes", "example.com/hold")):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
            "spec": {"finalizers": list(finalizers)}}


def test_finalize_replaces_finalizers_and_keeps_status(client):
    created = client.post(NS, namespace()).json()
    body = dict(created, spec={"finalizers": ["example.com/hold"]}, status={"phase": "Terminating"})
    resp = client.put(f"{NS}/fin/finalize", body)
    assert resp.status_code == 200
    got = resp.json()
    assert got["spec"]["finalizers"] == ["example.com/hold"]
    assert got["status"] == {"phase": "Active"}
    assert client.get(f"{NS}/fin").json()["spec"]["finalizers"] == ["example.com/hold"]


def test_finalize_checks_names(client):
    created = client.post(NS, namespace()).json()
    body = dict(created, spec={"finalizers": ["kubernetes", "custom"]})
    resp = client.put(f"{NS}/fin/finalize", body)
    assert resp.status_code == 422
    cause = resp.json()["details"]["causes"][0]
    assert cause == {"reason": "FieldValueInvalid", "field": "spec.finalizers[1]",
                     "message": 'Invalid value: "custom": name is neither a standard finalizer '
                                "name nor is it fully qualified"}


def test_create_checks_finalizer_names(client):
    resp = client.post(NS, namespace("bad", ["custom"]))
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["field"] == "spec.finalizers"


def test_last_finalizer_removed_from_terminating_namespace_deletes_it(client):
    created = client.post(NS, namespace("gone", ["kubernetes"])).json()
    deleted = client.delete(f"{NS}/gone")
    assert deleted.status_code == 200 and deleted.json()["status"]["phase"] == "Terminating"
    current = client.get(f"{NS}/gone").json()
    assert current["metadata"]["uid"] == created["metadata"]["uid"]
    resp = client.put(f"{NS}/gone/finalize", dict(current, spec={"finalizers": []}))
    assert resp.status_code == 200
    assert client.get(f"{NS}/gone").status_code == 404


def test_finalize_is_update_only(client):
    client.post(NS, namespace())
    assert client.get(f"{NS}/fin/finalize").status_code == 405
    patch = client.patch(f"{NS}/fin/finalize", {"spec": {"finalizers": []}},
                         "application/merge-patch+json")
    assert patch.status_code == 405


def test_discovery_lists_finalize(client):
    resources = {r["name"]: r for r in client.get("/api/v1").json()["resources"]}
    assert resources["namespaces/finalize"]["verbs"] == ["update"]
    assert resources["namespaces/finalize"]["kind"] == "Namespace"
    assert resources["componentstatuses"]["verbs"] == ["get", "list"]
    assert resources["replicationcontrollers/scale"]["kind"] == "Scale"
