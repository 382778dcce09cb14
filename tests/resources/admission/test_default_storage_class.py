"""DefaultStorageClass: a claim without a class gets the default StorageClass (the newest
when several are marked, ties by name); explicit classes, even "", are kept."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import system_context
from resources.admission.default_storage_class import newest_first
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server

DEFAULT = "storageclass.kubernetes.io/is-default-class"


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("DefaultStorageClass",))[0].stores


def storage_class(stores, name, annotations=None):
    stores.store("storage.k8s.io", "v1", "storageclasses").create(None, {
        "metadata": {"name": name, "annotations": annotations or {}},
        "provisioner": "example.com/p"}, system_context("tests"))


def claim(name="c", annotations=None, **spec):
    return {"metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}, **spec}}


def create(stores, ctx, obj):
    made = stores.store("", "v1", "persistentvolumeclaims").create("ns1", obj, ctx)
    return orjson.loads(made)["spec"].get("storageClassName")


def test_no_default_leaves_the_claim_alone(stores, ctx):
    storage_class(stores, "plain", {DEFAULT: "false"})
    assert create(stores, ctx, claim()) is None


def test_default_class_is_set(stores, ctx):
    storage_class(stores, "fast", {DEFAULT: "true"})
    storage_class(stores, "beta", {"storageclass.beta.kubernetes.io/is-default-class": "yes"})
    assert create(stores, ctx, claim("a")) == "fast"
    assert create(stores, ctx, claim("b", storageClassName="other")) == "other"
    assert create(stores, ctx, claim("c", storageClassName="")) == ""       # explicitly none
    assert create(stores, ctx, claim("d", {"volume.beta.kubernetes.io/storage-class": "x"})) is None


def test_beta_annotation_marks_a_default(stores, ctx):
    storage_class(stores, "old", {"storageclass.beta.kubernetes.io/is-default-class": "true"})
    assert create(stores, ctx, claim()) == "old"


def test_newest_default_wins():
    def sc(name, ts):
        return {"metadata": {"name": name, "creationTimestamp": ts}}
    ordered = newest_first([sc("b", "2026-01-01T00:00:00Z"), sc("z", "2026-01-02T00:00:00Z"),
                            sc("a", "2026-01-01T00:00:00Z")])
    assert [c["metadata"]["name"] for c in ordered] == ["z", "a", "b"]


def test_over_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("DefaultStorageClass",))
    client = ASGIClient(app)
    client.post("/apis/storage.k8s.io/v1/storageclasses", {
        "metadata": {"name": "one", "annotations": {DEFAULT: "true"}}, "provisioner": "x/y"})
    client.post("/apis/storage.k8s.io/v1/storageclasses", {
        "metadata": {"name": "two", "annotations": {DEFAULT: "true"}}, "provisioner": "x/y"})
    client.post("/api/v1/namespaces", {"metadata": {"name": "web"}})
    r = client.post("/api/v1/namespaces/web/persistentvolumeclaims", claim())
    assert r.status_code == 201, r.content
    # created within the same second: the tie goes to the first name
    assert r.json()["spec"]["storageClassName"] in ("one", "two")
