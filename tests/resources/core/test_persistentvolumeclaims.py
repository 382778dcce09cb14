"""PersistentVolumeClaim: defaults, validation messages, the immutable spec (what may change
and when), status writes and the ``kubectl get pvc`` row.

Upstream: kubernetes/kubernetes:pkg/apis/core/v1/defaults.go, pkg/apis/core/validation/
validation.go (ValidatePersistentVolumeClaimSpec/Update/StatusUpdate),
pkg/registry/core/persistentvolumeclaim/strategy.go and printPersistentVolumeClaim in
pkg/printers/internalversion/printers.go.
"""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.core.persistentvolumeclaims import (IMMUTABLE_SPEC, PersistentVolumeClaimStrategy,
                                                   validate_spec, validate_status)
from tests.apiserver.storage.support import ensure_revision_row

S = PersistentVolumeClaimStrategy()


def texts(errs):
    return [e.error_text() for e in errs]


def pvc(name="data", storage="1Gi", **spec):
    base = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    base.update(spec)
    return {"metadata": {"name": name}, "spec": {k: v for k, v in base.items() if v is not None}}


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("", "v1", "persistentvolumeclaims")


def status_ctx(ctx):
    return RequestContext(user=ctx.user, field_manager="tests", subresource="status")


def test_declarations():
    assert (S.namespaced, S.short_names, S.subresource_names()) == (True, ("pvc",), ("status",))
    assert [c.name for c in S.columns] == [
        "Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
        "VolumeAttributesClass", "Age", "VolumeMode"]
    assert [c.priority for c in S.columns] == [0] * 8 + [1]


def test_create_defaults(store, ctx):
    obj = pvc(storage="2048Mi", volumeAttributesClassName="gold",
              dataSource={"kind": "PersistentVolumeClaim", "name": "src"})
    obj["status"] = {"phase": "Bound", "capacity": {"storage": "9Gi"}}
    got = orjson.loads(store.create("default", obj, ctx))
    assert got["status"] == {"phase": "Pending"}
    assert got["spec"]["volumeMode"] == "Filesystem"
    assert got["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert "volumeAttributesClassName" not in got["spec"]
    # NormalizeDataSources mirrors dataSource into dataSourceRef
    assert got["spec"]["dataSourceRef"] == {"kind": "PersistentVolumeClaim", "name": "src"}


def test_validation_messages():
    assert texts(validate_spec(pvc(accessModes=None, resources=None)["spec"])) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value"]
    assert texts(validate_spec(pvc(storage="0", accessModes=["ReadWriteOncePod", "ReadWriteMany"])["spec"])) == [
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
        'spec.resources[storage]: Invalid value: "0": must be greater than zero']
    assert texts(validate_spec(pvc(volumeMode="Raw", storageClassName="Fast!")["spec"]))[1] == \
        'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"'
    assert texts(validate_spec(pvc(dataSource={"kind": "Snapshot", "name": "s"})["spec"])) == [
        'spec.dataSource: Invalid value: "Snapshot": must be \'PersistentVolumeClaim\' when '
        'referencing the default apiGroup']
    mismatch = pvc(dataSource={"kind": "PersistentVolumeClaim", "name": "a"},
                   dataSourceRef={"kind": "PersistentVolumeClaim", "name": "b"})
    assert texts(validate_spec(mismatch["spec"])) == [
        "spec: Invalid value: spec.dataSource: must match dataSourceRef"]
    assert texts(validate_spec(pvc(selector={"matchLabels": {"bad key!": "x"}})["spec"]))[0].startswith(
        'spec.selector.matchLabels: Invalid value: "bad key!"')


def test_spec_is_immutable_for_unbound_claims(store, ctx):
    created = orjson.loads(store.create("default", pvc(), ctx))
    grown = copy.deepcopy(created)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    grown["spec"]["accessModes"] = ["ReadWriteMany"]
    with pytest.raises(errors.Invalid) as exc:
        store.update("default", "data", grown, ctx)
    assert [c.field for c in exc.value.causes] == ["spec"]
    assert exc.value.causes[0].message.startswith("Forbidden: " + IMMUTABLE_SPEC + "\n")
    # volumeName may be set once; an equal quantity in another spelling is no change
    bound = copy.deepcopy(created)
    bound["spec"]["volumeName"] = "pv-1"
    bound["spec"]["resources"]["requests"]["storage"] = "1024Mi"
    got = orjson.loads(store.update("default", "data", bound, ctx)[0])
    assert got["spec"]["volumeName"] == "pv-1"
    again = copy.deepcopy(got)
    again["spec"]["volumeName"] = "pv-2"
    with pytest.raises(errors.Invalid):
        store.update("default", "data", again, ctx)


def test_bound_claim_may_grow_not_shrink_below_capacity(store, ctx):
    created = orjson.loads(store.create("default", pvc(storage="2Gi", volumeName="pv-1"), ctx))
    status = copy.deepcopy(created)
    status["status"] = {"phase": "Bound", "capacity": {"storage": "2Gi"},
                        "accessModes": ["ReadWriteOnce"]}
    store.update("default", "data", status, status_ctx(ctx))
    current = orjson.loads(store.get("default", "data"))
    grow = copy.deepcopy(current)
    grow["spec"]["resources"]["requests"]["storage"] = "5Gi"
    got = orjson.loads(store.update("default", "data", grow, ctx)[0])
    assert got["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert got["status"]["phase"] == "Bound"
    shrink = copy.deepcopy(got)
    shrink["spec"]["resources"]["requests"]["storage"] = "1Gi"
    with pytest.raises(errors.Invalid) as exc:
        store.update("default", "data", shrink, ctx)
    assert [c.field for c in exc.value.causes] == ["spec.resources.requests.storage"]
    assert exc.value.causes[0].message == "Forbidden: field can not be less than status.capacity"
    # recovering from a failed expansion: lower, but still above status.capacity
    recover = copy.deepcopy(got)
    recover["spec"]["resources"]["requests"]["storage"] = "3Gi"
    store.update("default", "data", recover, ctx)
    mode = copy.deepcopy(orjson.loads(store.get("default", "data")))
    mode["spec"]["volumeMode"] = "Block"
    with pytest.raises(errors.Invalid) as exc:
        store.update("default", "data", mode, ctx)
    assert "volumeMode" in [c.field for c in exc.value.causes]


def test_storage_class_upgrade_from_unset(store, ctx):
    created = orjson.loads(store.create("default", pvc(), ctx))
    upgrade = copy.deepcopy(created)
    upgrade["spec"]["storageClassName"] = "standard"
    got = orjson.loads(store.update("default", "data", upgrade, ctx)[0])
    assert got["spec"]["storageClassName"] == "standard"
    change = copy.deepcopy(got)
    change["spec"]["storageClassName"] = "fast"
    with pytest.raises(errors.Invalid):
        store.update("default", "data", change, ctx)


def test_status_validation():
    assert texts(validate_status({"allocatedResourceStatuses": {"storage": "Resizing"},
                                  "allocatedResources": {"cpu": "1"}})) == [
        'status.allocatedResourceStatus: Unsupported value: "storage": supported values: '
        '"ControllerResizeInProgress", "ControllerResizeInfeasible", "NodeResizeInProgress", '
        '"NodeResizeInfeasible", "NodeResizePending"',
        'status.allocatedResources: Unsupported value: "cpu": supported values: "storage"']


def test_table_row():
    obj = pvc(storageClassName="fast")
    obj["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    S.default(obj)
    row = S.table_row(obj)
    assert row[:7] == ["data", "Pending", "", "", "", "fast", "<unset>"]
    assert row[8] == "Filesystem" and len(row) == len(S.columns)
    obj["spec"]["volumeName"] = "pv-1"
    obj["status"] = {"phase": "Bound", "capacity": {"storage": "10Gi"},
                     "accessModes": ["ReadOnlyMany", "ReadWriteOnce"]}
    row = S.table_row(obj)
    assert row[1:5] == ["Bound", "pv-1", "10Gi", "RWO,ROX"]
