"""storage.k8s.io/v1 StorageClass: defaults, validation messages, immutability, the table."""
from __future__ import annotations

import copy

from apiserver.registry.context import RequestContext
from resources.storage.storageclasses import StorageClassStrategy
from tests.resources.storage.conftest import BASE, MERGE, TABLE, meta, texts

S = StorageClassStrategy()
QNAME_MSG = ("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
             "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
             "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?"
             "[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")


def sc(name="fast", **fields):
    obj = {"metadata": meta(name), "provisioner": "ebs.csi.aws.com", **fields}
    S.default(obj)
    return obj


def test_declarations():
    assert (S.group, S.version, S.plural, S.namespaced, S.short_names) == \
        ("storage.k8s.io", "v1", "storageclasses", False, ("sc",))
    assert [c.name for c in S.columns] == ["Name", "Provisioner", "ReclaimPolicy",
                                           "VolumeBindingMode", "AllowVolumeExpansion", "Age"]
    assert S.columns[1].description.startswith("provisioner indicates the type of the provisioner")


def test_defaults_keep_explicit_values():
    assert (sc()["reclaimPolicy"], sc()["volumeBindingMode"]) == ("Delete", "Immediate")
    kept = sc(reclaimPolicy="Retain", volumeBindingMode="WaitForFirstConsumer")
    assert (kept["reclaimPolicy"], kept["volumeBindingMode"]) == ("Retain", "WaitForFirstConsumer")


def test_validation_messages():
    ctx = RequestContext()
    assert S.validate(ctx, sc()) == []
    assert texts(S.validate(ctx, sc(provisioner=""))) == ["provisioner: Required value"]
    assert texts(S.validate(ctx, sc(provisioner="A/B/C"))) == [
        f'provisioner: Invalid value: "a/b/c": {QNAME_MSG}']
    assert texts(S.validate(ctx, sc(reclaimPolicy="Recycle"))) == [
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"']
    assert texts(S.validate(ctx, sc(volumeBindingMode="Later"))) == [
        'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", '
        '"WaitForFirstConsumer"']
    assert texts(S.validate(ctx, sc(parameters={"": "x"}))) == [
        'parameters: Invalid value: "": field can not be empty.']
    assert texts(S.validate(ctx, sc(parameters={"k": "v" * (256 * 1024)}))) == [
        "parameters: Too long: may not be more than 262144 bytes"]
    assert texts(S.validate(ctx, sc(parameters={str(i): "" for i in range(513)}))) == [
        "parameters: Too long: may not be more than 512 bytes"]


def test_allowed_topologies():
    ctx = RequestContext()
    term = {"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["a"]}]}
    assert S.validate(ctx, sc(allowedTopologies=[term])) == []
    assert texts(S.validate(ctx, sc(allowedTopologies=[term, copy.deepcopy(term)]))) == [
        'allowedTopologies[1].matchLabelExpressions: Duplicate value: ""']
    bad = {"matchLabelExpressions": [{"key": "zone", "values": ["a", "a"]},
                                     {"key": "zone", "values": []}]}
    assert texts(S.validate(ctx, sc(allowedTopologies=[bad]))) == [
        'allowedTopologies[0].matchLabelExpressions[0].values[1]: Duplicate value: "a"',
        "allowedTopologies[0].matchLabelExpressions[1].values: Required value",
        'allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value: "zone"']


def test_update_immutable_fields():
    ctx = RequestContext()
    old = sc(parameters={"type": "gp3"})
    assert S.validate_update(ctx, sc(parameters={"type": "gp3"}, allowVolumeExpansion=True,
                                     mountOptions=["ro"]), old) == []
    changed = sc(parameters={"type": "io2"}, provisioner="other.io", reclaimPolicy="Retain",
                 volumeBindingMode="WaitForFirstConsumer")
    assert texts(S.validate_update(ctx, changed, old)) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
        'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable']


def test_table_row_marks_the_default_class():
    plain = sc(allowVolumeExpansion=True)
    assert S.table_row(plain)[:5] == ["fast", "ebs.csi.aws.com", "Delete", "Immediate", True]
    for key in ("storageclass.kubernetes.io/is-default-class",
                "storageclass.beta.kubernetes.io/is-default-class"):
        default = sc("standard")
        default["metadata"]["annotations"] = {key: "true"}
        assert S.table_row(default)[0] == "standard (default)"
    not_default = sc("standard")
    not_default["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "yes"}
    assert S.table_row(not_default)[0] == "standard"
    assert S.table_row(sc())[4] is False


def test_http_create_table_and_forbidden_patch(client):
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}
    created = client.post(BASE + "/storageclasses", body)
    assert created.status_code == 201, created.json()
    assert created.json()["reclaimPolicy"] == "Delete"
    table = client.get(BASE + "/storageclasses", headers={"accept": TABLE}).json()
    (row,) = table["rows"]
    assert row["cells"][:5] == ["standard (default)", "rancher.io/local-path", "Delete",
                                "WaitForFirstConsumer", False]
    resp = client.patch(BASE + "/storageclasses/standard", {"reclaimPolicy": "Retain"}, MERGE)
    assert resp.status_code == 422
    assert resp.json()["message"] == ('StorageClass.storage.k8s.io "standard" is invalid: '
                                      "reclaimPolicy: Forbidden: updates to reclaimPolicy are "
                                      "forbidden.")
    ok = client.patch(BASE + "/storageclasses/standard", {"allowVolumeExpansion": True}, MERGE)
    assert ok.status_code == 200 and ok.json()["allowVolumeExpansion"] is True
