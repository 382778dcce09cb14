"""storage.k8s.io/v1 CSIStorageCapacity: validation, immutable inputs, quantities, table."""
from __future__ import annotations

from apiserver.registry.context import RequestContext
from resources.storage.csistoragecapacities import CSIStorageCapacityStrategy
from tests.resources.storage.conftest import BASE, TABLE, meta, texts

S = CSIStorageCapacityStrategy()
TOPOLOGY = {"matchLabels": {"topology.kubernetes.io/zone": "a"}}


def cap(name="csisc-1", **fields):
    return {"metadata": meta(name, namespace="kube-system"), "storageClassName": "fast",
            "nodeTopology": TOPOLOGY, **fields}


def test_declarations():
    assert (S.plural, S.namespaced, S.allow_unconditional_update) == \
        ("csistoragecapacities", True, False)
    # upstream's table has no Age column for this kind
    assert [c.name for c in S.columns] == ["Name", "StorageClassName", "Capacity"]


def test_validation_messages():
    ctx = RequestContext()
    assert S.validate(ctx, cap(capacity="10Gi", maximumVolumeSize="1Gi")) == []
    assert S.validate(ctx, cap(nodeTopology=None)) == []
    (empty,) = texts(S.validate(ctx, cap(storageClassName="")))
    assert empty.startswith('storageClassName: Invalid value: "": a lowercase RFC 1123 subdomain')
    assert texts(S.validate(ctx, cap(capacity="-1Gi"))) == [
        'capacity: Invalid value: "-1Gi": must be greater than or equal to 0']
    # upstream does not check maximumVolumeSize
    assert S.validate(ctx, cap(maximumVolumeSize="-1")) == []
    assert texts(S.validate(ctx, cap(nodeTopology={"matchExpressions": [
        {"key": "zone", "operator": "In"}]}))) == [
        "nodeTopology.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'"]


def test_inputs_are_immutable():
    ctx = RequestContext()
    old = cap(capacity="10Gi")
    assert S.validate_update(ctx, cap(capacity="5Gi", maximumVolumeSize="1Gi"), old) == []
    assert texts(S.validate_update(ctx, cap(storageClassName="slow"), old)) == [
        'storageClassName: Invalid value: "slow": field is immutable']
    assert texts(S.validate_update(ctx, cap(nodeTopology={"matchLabels": {"zone": "b"}}), old)) == [
        'nodeTopology: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"zone":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
    assert [e.field for e in S.validate_update(ctx, cap(nodeTopology=None), old)] == ["nodeTopology"]
    same = cap(nodeTopology={**TOPOLOGY, "matchExpressions": []})
    assert S.validate_update(ctx, same, old) == []


def test_quantities_canonical_and_table():
    obj = cap(capacity="1024Mi", maximumVolumeSize=5000)
    S.canonicalize(obj)
    assert (obj["capacity"], obj["maximumVolumeSize"]) == ("1Gi", "5k")
    assert S.table_row(obj) == ["csisc-1", "fast", "1Gi"]
    assert S.table_row(cap()) == ["csisc-1", "fast", "<unset>"]


def test_http_create_and_table(client):
    path = BASE + "/namespaces/default/csistoragecapacities"
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity",
            "metadata": {"name": "csisc-a"}, "storageClassName": "fast", "capacity": "2048Mi"}
    created = client.post(path, body)
    assert created.status_code == 201, created.json()
    assert created.json()["capacity"] == "2Gi"
    table = client.get(path, headers={"accept": TABLE}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "StorageClassName", "Capacity"]
    assert table["rows"][0]["cells"] == ["csisc-a", "fast", "2Gi"]
