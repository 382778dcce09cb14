"""PersistentVolume: defaults, validation messages (upstream wording), update rules, the
status subresource's phase-transition time, and the ``kubectl get pv`` row.

Upstream: kubernetes/kubernetes:pkg/apis/core/v1/defaults.go, pkg/apis/core/validation/
validation.go (ValidatePersistentVolumeSpec/Update), pkg/registry/core/persistentvolume/
strategy.go and pkg/printers/internalversion/printers.go (printPersistentVolume).
"""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.core.persistentvolumes import PersistentVolumeStrategy, validate_spec
from tests.apiserver.storage.support import ensure_revision_row

S = PersistentVolumeStrategy()


def texts(errs):
    return [e.error_text() for e in errs]


def pv(name="vol", **spec):
    base = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/data"}}
    base.update(spec)
    return {"metadata": {"name": name}, "spec": {k: v for k, v in base.items() if v is not None}}


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("", "v1", "persistentvolumes")


def test_declarations():
    assert (S.namespaced, S.short_names, S.subresource_names()) == (False, ("pv",), ("status",))
    assert [c.name for c in S.columns] == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age", "VolumeMode"]
    assert [c.priority for c in S.columns] == [0] * 10 + [1]
    assert S.columns[6].description == "StorageClass of the pv"


def test_create_defaults_and_pending_status(store, ctx):
    obj = pv(volumeAttributesClassName="gold")
    obj["status"] = {"phase": "Bound"}
    got = orjson.loads(store.create(None, obj, ctx))
    spec = got["spec"]
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["volumeMode"] == "Filesystem"
    assert spec["hostPath"] == {"path": "/data", "type": ""}
    assert "volumeAttributesClassName" not in spec     # the 1.32 feature gate is off
    assert got["status"]["phase"] == "Pending"
    assert got["status"]["lastPhaseTransitionTime"].endswith("Z")


def test_source_defaults_shared_with_pod_volumes():
    obj = pv(hostPath=None, rbd={"monitors": ["m"], "image": "i"})
    S.default(obj)
    assert obj["spec"]["rbd"] == {"monitors": ["m"], "image": "i", "pool": "rbd",
                                  "user": "admin", "keyring": "/etc/ceph/keyring"}


def test_capacity_is_stored_canonical(store, ctx):
    got = orjson.loads(store.create(None, pv(capacity={"storage": "1024Mi"}), ctx))
    assert got["spec"]["capacity"] == {"storage": "1Gi"}


def test_validation_messages():
    assert texts(validate_spec(pv(accessModes=None, capacity=None, hostPath=None)["spec"])) == [
        "spec.accessModes: Required value",
        "spec.capacity: Required value",
        'spec.capacity: Unsupported value: core.ResourceList(nil): supported values: "storage"',
        "spec: Required value: must specify a volume type"]
    assert texts(validate_spec(pv(accessModes=["ReadWriteOncePod", "ReadOnlyMany", "Sometimes"])["spec"])) == [
        'spec.accessModes: Unsupported value: "Sometimes": supported values: "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]
    assert texts(validate_spec(pv(capacity={"storage": "0"})["spec"])) == [
        'spec.capacity[storage]: Invalid value: "0": must be greater than zero']
    assert texts(validate_spec(pv(persistentVolumeReclaimPolicy="Keep", volumeMode="Raw")["spec"])) == [
        'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: '
        '"Delete", "Recycle", "Retain"',
        'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"']


def test_volume_sources():
    two = pv(nfs={"server": "nfs.local", "path": "/exports"})["spec"]
    assert texts(validate_spec(two)) == ["spec.nfs: Forbidden: may not specify more than 1 volume type"]
    assert texts(validate_spec(pv(hostPath=None, nfs={"path": "exports"})["spec"])) == [
        "spec.nfs.server: Required value",
        'spec.nfs.path: Invalid value: "exports": must be an absolute path']
    assert texts(validate_spec(pv(hostPath={"path": "/a/../b", "type": "Pipe"})["spec"])) == [
        "spec.hostPath.path: Invalid value: \"/a/../b\": must not contain '..'",
        'spec.hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", '
        '"CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"']
    # upstream validates a GCE disk under "persistentDisk"
    assert texts(validate_spec(pv(hostPath=None, gcePersistentDisk={})["spec"])) == [
        "spec.persistentDisk.pdName: Required value"]
    assert texts(validate_spec(pv(hostPath=None, csi={"driver": "Bad_Driver"})["spec"])) == [
        'spec.csi.driver: Invalid value: "Bad_Driver": a lowercase RFC 1123 subdomain must consist '
        "of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        "spec.csi.volumeHandle: Required value"]
    assert validate_spec(pv(hostPath=None, csi={"driver": "ebs.csi.aws.com", "volumeHandle": "v"})["spec"]) == []
    assert texts(validate_spec(pv(persistentVolumeReclaimPolicy="Recycle", hostPath={"path": "/"})["spec"])) == [
        "spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"]


def test_local_volume_needs_node_affinity():
    assert texts(validate_spec(pv(hostPath=None, local={"path": "/mnt/disk"})["spec"])) == [
        "spec.nodeAffinity: Required value: Local volume requires node affinity"]
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                  "values": ["node-1"]}]}
    ok = pv(hostPath=None, local={"path": "/mnt/disk"},
            nodeAffinity={"required": {"nodeSelectorTerms": [term]}})
    assert validate_spec(ok["spec"]) == []
    bad = pv(nodeAffinity={"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In"},
                              {"key": "zone", "operator": "Near", "values": ["a"]}]}]}})
    assert texts(validate_spec(bad["spec"])) == [
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Required "
        "value: must be specified when `operator` is 'In' or 'NotIn'",
        'spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[1].operator: Invalid '
        'value: "Near": not a valid selector operator']
    assert texts(validate_spec(pv(nodeAffinity={})["spec"])) == [
        "spec.nodeAffinity.required: Required value: must specify required node constraints"]


def test_update_keeps_source_and_mode(store, ctx):
    created = orjson.loads(store.create(None, pv(), ctx))
    changed = copy.deepcopy(created)
    changed["spec"]["hostPath"]["path"] = "/elsewhere"
    changed["spec"]["volumeMode"] = "Block"
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "vol", changed, ctx)
    fields = [c.field for c in exc.value.causes]
    assert fields == ["spec.persistentvolumesource", "volumeMode"]
    assert "spec.persistentvolumesource is immutable after creation" in exc.value.message
    assert 'volumeMode: Invalid value: "Block": field is immutable' in exc.value.message
    # capacity, reclaim policy and the claim may change
    changed = copy.deepcopy(created)
    changed["spec"]["capacity"]["storage"] = "2Gi"
    changed["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    got = orjson.loads(store.update(None, "vol", changed, ctx)[0])
    assert got["spec"]["capacity"]["storage"] == "2Gi" and got["status"] == created["status"]


def test_status_write_moves_transition_time_only_on_phase_change(store, ctx):
    created = orjson.loads(store.create(None, pv(), ctx))
    status_ctx = RequestContext(user=ctx.user, field_manager="tests", subresource="status")
    new = copy.deepcopy(created)
    new["status"] = {"phase": "Pending", "message": "waiting"}
    new["spec"]["capacity"]["storage"] = "5Gi"                   # ignored on /status
    got = orjson.loads(store.update(None, "vol", new, status_ctx)[0])
    assert got["spec"] == created["spec"]
    assert got["status"]["lastPhaseTransitionTime"] == created["status"]["lastPhaseTransitionTime"]
    new = copy.deepcopy(got)
    new["status"] = {"phase": "Available", "lastPhaseTransitionTime": "2000-01-01T00:00:00Z"}
    got = orjson.loads(store.update(None, "vol", new, status_ctx)[0])
    assert got["status"]["lastPhaseTransitionTime"] == "2000-01-01T00:00:00Z"   # the client's
    new = copy.deepcopy(got)
    new["status"] = {"phase": "Bound", "lastPhaseTransitionTime": "2000-01-01T00:00:00Z"}
    got = orjson.loads(store.update(None, "vol", new, status_ctx)[0])
    assert got["status"]["lastPhaseTransitionTime"] != "2000-01-01T00:00:00Z"   # moved to now


def test_field_selector_name(store, ctx):
    store.create(None, pv("a"), ctx)
    store.create(None, pv("b"), ctx)
    page = store.list(None, field_selector="name=b")
    assert [orjson.loads(d)["metadata"]["name"] for d in page["items"]] == ["b"]


def test_table_row():
    obj = pv(accessModes=["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce", "ReadOnlyMany"],
             storageClassName="fast",
             claimRef={"namespace": "default", "name": "data"})
    obj["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    S.default(obj)
    obj["status"]["reason"] = "Recycled"
    row = S.table_row(obj)
    assert row[:9] == ["vol", "1Gi", "RWO,ROX,RWX", "Retain", "Pending", "default/data", "fast",
                       "<unset>", "Recycled"]
    assert row[10] == "Filesystem" and len(row) == len(S.columns)
    obj["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "beta"}
    obj["metadata"]["deletionTimestamp"] = "2024-01-02T00:00:00Z"
    obj["spec"].pop("capacity")
    row = S.table_row(obj)
    assert (row[1], row[4], row[6]) == ("0", "Terminating", "beta")
