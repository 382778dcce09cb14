"""The pvc/pv-protection controllers (resources/controllers/storage_protection.py) with the
StorageObjectInUseProtection plugin: a deleted claim stays while a pod that is not done uses
it and goes once none does; a deleted volume stays while Bound; an idle pass reads nothing
more than the change log."""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from resources.controllers.storage_protection import StorageProtectionController
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server


def stores_with_protection():
    return build_server(admission_plugins=("StorageObjectInUseProtection",))[0].stores


def pvc(name):
    return {"metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}


def pod(name, claim):
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "data",
                                  "persistentVolumeClaim": {"claimName": claim}}]}}


def test_a_claim_in_use_stays_until_its_pod_is_done(db, ctx):
    ensure_revision_row()
    stores = stores_with_protection()
    claims, pods = stores.store("", "v1", "persistentvolumeclaims"), stores.store("", "v1", "pods")
    made = orjson.loads(claims.create("default", pvc("data"), ctx))
    assert made["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    claims.create("default", pvc("idle"), ctx)
    pods.create("default", pod("user", "data"), ctx)
    claims.delete("default", "data", {}, ctx)
    claims.delete("default", "idle", {}, ctx)
    controller = StorageProtectionController(stores)
    assert controller.sync() == 1                      # idle goes, data is still used
    with pytest.raises(errors.NotFound):
        claims.load("default", "idle")
    assert claims.load("default", "data")[0]["metadata"]["deletionTimestamp"]
    assert controller.sync() == 0                      # nothing changed: nothing read or done

    def finished(p):
        p.setdefault("status", {})["phase"] = "Succeeded"
        return p
    pods.guaranteed_update("default", "user", finished, ctx.for_subresource("status"))
    assert controller.sync() == 1
    with pytest.raises(errors.NotFound):
        claims.load("default", "data")


def test_a_bound_volume_stays(db, ctx):
    ensure_revision_row()
    stores = stores_with_protection()
    volumes = stores.store("", "v1", "persistentvolumes")
    volumes.create(None, {"metadata": {"name": "pv1"},
                          "spec": {"capacity": {"storage": "1Gi"},
                                   "accessModes": ["ReadWriteOnce"],
                                   "hostPath": {"path": "/tmp/pv1"}}}, ctx)

    def bound(v):
        v.setdefault("status", {})["phase"] = "Bound"
        return v
    volumes.guaranteed_update(None, "pv1", bound, ctx.for_subresource("status"))
    volumes.delete(None, "pv1", {}, ctx)
    controller = StorageProtectionController(stores)
    assert controller.sync() == 0
    assert volumes.load(None, "pv1")[0]["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]

    def released(v):
        v["status"]["phase"] = "Released"
        return v
    volumes.guaranteed_update(None, "pv1", released, ctx.for_subresource("status"))
    assert controller.sync() == 1
    with pytest.raises(errors.NotFound):
        volumes.load(None, "pv1")
