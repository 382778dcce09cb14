"""storage.k8s.io/v1 CSIDriver: 1.32 defaults, validation, immutability, generation, table."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.storage.csidrivers import CSIDriverStrategy
from tests.apiserver.storage.support import ensure_revision_row
from tests.resources.storage.conftest import BASE, TABLE, meta, texts

S = CSIDriverStrategy()


def driver(name="ebs.csi.aws.com", **spec):
    obj = {"metadata": meta(name), "spec": spec}
    S.default(obj)
    return obj


def test_declarations():
    assert (S.group, S.plural, S.namespaced, S.tracks_generation) == \
        ("storage.k8s.io", "csidrivers", False, True)
    assert [(c.name, c.type) for c in S.columns] == [
        ("Name", "string"), ("AttachRequired", "boolean"), ("PodInfoOnMount", "boolean"),
        ("StorageCapacity", "boolean"), ("TokenRequests", "string"),
        ("RequiresRepublish", "boolean"), ("Modes", "string"), ("Age", "string")]


def test_defaults():
    assert driver()["spec"] == {
        "attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
        "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": False,
        "seLinuxMount": False, "volumeLifecycleModes": ["Persistent"]}
    no_spec = {"metadata": meta("x")}
    S.default(no_spec)
    assert no_spec["spec"]["attachRequired"] is True
    kept = driver(attachRequired=False, fsGroupPolicy="File", volumeLifecycleModes=["Ephemeral"])
    assert (kept["spec"]["attachRequired"], kept["spec"]["fsGroupPolicy"],
            kept["spec"]["volumeLifecycleModes"]) == (False, "File", ["Ephemeral"])


def test_validation_messages():
    ctx = RequestContext()
    assert S.validate(ctx, driver()) == []
    assert texts(S.validate(ctx, driver(fsGroupPolicy="Sometimes"))) == [
        'spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "File", "None", '
        '"ReadWriteOnceWithFSType"']
    assert texts(S.validate(ctx, driver(volumeLifecycleModes=["Persistent", "Forever"]))) == [
        'spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: '
        '"Persistent", "Ephemeral"']
    tokens = [{"audience": "vault", "expirationSeconds": 60},
              {"audience": "vault"},
              {"audience": "", "expirationSeconds": 2 ** 33}]
    assert texts(S.validate(ctx, driver(tokenRequests=tokens))) == [
        "spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration "
        "less than 10 minutes",
        'spec.tokenRequests[1].audience: Duplicate value: "vault"',
        "spec.tokenRequests[2].expirationSeconds: Invalid value: 8589934592: may not specify a "
        "duration larger than 2^32 seconds"]
    unset = {"metadata": meta("x"), "spec": {}}
    assert texts(S.validate(ctx, unset)) == [
        "spec.attachedRequired: Required value", "spec.podInfoOnMount: Required value",
        "spec.storageCapacity: Required value", "spec.seLinuxMount: Required value"]


def test_update_immutability_in_1_32():
    ctx = RequestContext()
    old = driver()
    mutable = driver(podInfoOnMount=True, fsGroupPolicy="None", storageCapacity=True,
                     requiresRepublish=True, tokenRequests=[{"audience": "a"}])
    assert S.validate_update(ctx, mutable, old) == []
    changed = driver(attachRequired=False, volumeLifecycleModes=["Persistent", "Ephemeral"])
    assert texts(S.validate_update(ctx, changed, old)) == [
        "spec.attachedRequired: Invalid value: false: field is immutable",
        'spec.volumeLifecycleModes: Invalid value: []storage.VolumeLifecycleMode{"Persistent", '
        '"Ephemeral"}: field is immutable']


def test_table_row():
    row = S.table_row(driver(tokenRequests=[{"audience": "a"}, {"audience": "b"}],
                             volumeLifecycleModes=["Persistent", "Ephemeral"]))
    assert row[:7] == ["ebs.csi.aws.com", True, False, False, "a,b", False, "Persistent,Ephemeral"]
    bare = {"metadata": meta("x"), "spec": {}}
    assert S.table_row(bare)[:7] == ["x", True, False, False, "<unset>", False, "<none>"]


def test_generation_starts_at_one_and_follows_the_spec(stores, ctx):
    ensure_revision_row()
    store = stores.store("storage.k8s.io", "v1", "csidrivers")
    created = orjson.loads(store.create(None, {"metadata": {"name": "d.example.com"}}, ctx))
    assert created["metadata"]["generation"] == 1
    labelled, _ = store.guaranteed_update(
        None, "d.example.com", lambda o: {**o, "metadata": {**o["metadata"], "labels": {"a": "b"}}}, ctx)
    assert orjson.loads(labelled)["metadata"]["generation"] == 1
    bumped, _ = store.guaranteed_update(
        None, "d.example.com", lambda o: {**o, "spec": {**o["spec"], "podInfoOnMount": True}}, ctx)
    assert orjson.loads(bumped)["metadata"]["generation"] == 2
    with pytest.raises(errors.Invalid) as exc:
        store.guaranteed_update(
            None, "d.example.com", lambda o: {**o, "spec": {**o["spec"], "attachRequired": False}}, ctx)
    assert [c.field for c in exc.value.causes] == ["spec.attachedRequired"]


def test_unconditional_put_is_refused(client):
    client.post(BASE + "/csidrivers", {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
                                       "metadata": {"name": "d.example.com"}, "spec": {}})
    resp = client.put(BASE + "/csidrivers/d.example.com",
                      {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
                       "metadata": {"name": "d.example.com"}, "spec": {}})
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["field"] == "metadata.resourceVersion"
    table = client.get(BASE + "/csidrivers", headers={"accept": TABLE}).json()
    assert table["rows"][0]["cells"][:7] == ["d.example.com", True, False, False, "<unset>",
                                             False, "Persistent"]
