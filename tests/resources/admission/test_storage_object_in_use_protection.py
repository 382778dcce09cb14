"""StorageObjectInUseProtection: new PVs and PVCs get their protection finalizer, once."""
from __future__ import annotations

import orjson
import pytest

from apiserver.admission.base import Attributes
from resources.admission.storage_object_in_use_protection import StorageObjectInUseProtection
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("StorageObjectInUseProtection",))[0].stores


def test_claims_and_volumes_get_finalizers(stores, ctx):
    pvc = orjson.loads(stores.store("", "v1", "persistentvolumeclaims").create("ns1", {
        "metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {
            "requests": {"storage": "1Gi"}}}}, ctx))
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    pv = orjson.loads(stores.store("", "v1", "persistentvolumes").create(None, {
        "metadata": {"name": "v", "finalizers": ["example.com/keep"]},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/tmp/v"}}}, ctx))
    assert pv["metadata"]["finalizers"] == ["example.com/keep", "kubernetes.io/pv-protection"]


def test_once_and_only_on_create():
    plugin = StorageObjectInUseProtection()
    obj = {"metadata": {"finalizers": ["kubernetes.io/pvc-protection"]}}
    plugin.admit(Attributes("CREATE", "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
                            "", "ns1", "c", obj, None))
    assert obj["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert not plugin.handles("UPDATE") and plugin.handles("CREATE")
    status = {"metadata": {}}
    plugin.admit(Attributes("CREATE", "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
                            "status", "ns1", "c", status, None))
    cm = {"metadata": {}}
    plugin.admit(Attributes("CREATE", "", "v1", "ConfigMap", "configmaps", "", "ns1", "c", cm, None))
    assert status == cm == {"metadata": {}}
