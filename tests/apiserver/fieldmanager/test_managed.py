"""update_managed_fields: ownership bookkeeping for non-apply writes."""
import copy

import pytest

from apiserver.fieldmanager import decode_managed_fields, owned_by, \
    update_managed_fields
from apiserver.openapi import definitions

POD = definitions.get("io.k8s.api.core.v1.Pod")
CM = definitions.get("io.k8s.api.core.v1.ConfigMap")
T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-01T00:00:05Z", "2024-01-01T00:00:09Z"


def f(*names):
    return tuple(("f", n) for n in names)


def created(obj, manager="kubectl-create", schema=CM):
    obj = copy.deepcopy(obj)
    update_managed_fields(None, obj, manager, "Update", "v1", schema, now=T0)
    return obj


def cm(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "labels": {"app": "x"}},
            "data": dict(data)}


def test_create_records_one_update_entry_with_upstream_dot_markers():
    obj = created(cm(a="1"))
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}},
                     "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
    }]


def test_create_of_typed_spec_does_not_own_spec_itself():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    obj = created(pod, schema=POD)
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}}}


def test_label_change_by_kubectl_label_moves_ownership():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["app"] = "y"
    new["metadata"]["labels"]["tier"] = "web"
    update_managed_fields(old, new, "kubectl-label", "Update", "v1", CM, now=T1)
    entries = new["metadata"]["managedFields"]
    assert [(e["manager"], e["time"]) for e in entries] == \
        [("kubectl-create", T0), ("kubectl-label", T1)]
    assert entries[1]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}}
    assert owned_by(new, "kubectl-create") == {f("data"), f("data", "a"),
                                               f("metadata", "labels")}


def test_removed_field_leaves_every_manager_and_empty_managers_are_dropped():
    old = created(cm(a="1"))
    mid = copy.deepcopy(old)
    mid["data"]["b"] = "2"
    update_managed_fields(old, mid, "editor", "Update", "v1", CM, now=T1)
    new = copy.deepcopy(mid)
    del new["data"]["b"]
    update_managed_fields(mid, new, "other", "Update", "v1", CM, now=T2)
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["kubectl-create"]


def test_no_change_keeps_entries_and_times():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    update_managed_fields(old, new, "kubectl-edit", "Update", "v1", CM, now=T1)
    assert new["metadata"]["managedFields"] == old["metadata"]["managedFields"]


def test_same_manager_entries_merge_and_time_updates():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    new["data"]["b"] = "2"
    update_managed_fields(old, new, "kubectl-create", "Update", "v1", CM, now=T1)
    entries = new["metadata"]["managedFields"]
    assert len(entries) == 1 and entries[0]["time"] == T1
    assert entries[0]["fieldsV1"]["f:data"] == {".": {}, "f:a": {}, "f:b": {}}


def test_subresource_and_api_version_make_separate_entries():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    update_managed_fields(old, new, "kubectl-create", "Update", "v2", CM, subresource="status",
                          now=T1)
    entries = new["metadata"]["managedFields"]
    assert [(e["apiVersion"], e.get("subresource")) for e in entries] == \
        [("v1", None), ("v2", "status")]


def test_client_reset_with_empty_list_clears_tracking():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = []
    update_managed_fields(old, new, "kubectl-edit", "Update", "v1", CM, now=T1)
    assert "managedFields" not in new["metadata"]


def test_client_supplied_valid_list_replaces_stored_one():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = [{
        "manager": "someone", "operation": "Update", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}]
    update_managed_fields(old, new, "kubectl-edit", "Update", "v1", CM, now=T1)
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["someone"]


def test_client_supplied_invalid_list_falls_back_to_stored_one():
    old = created(cm(a="1"))
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus"}]
    new["data"]["b"] = "2"
    update_managed_fields(old, new, "kubectl-edit", "Update", "v1", CM, now=T1)
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == \
        ["kubectl-create", "kubectl-edit"]


def test_ignored_paths_are_never_owned():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"phase": "Running"}}
    update_managed_fields(None, pod, "creator", "Update", "v1", POD, now=T0,
                          ignored_paths={f("status")})
    assert "f:status" not in pod["metadata"]["managedFields"][0]["fieldsV1"]


def test_update_managers_are_capped_into_ancient_changes():
    obj = created(cm(a="0"))
    for i in range(1, 13):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = str(i)
        update_managed_fields(obj, new, f"m{i:02d}", "Update", "v1", CM,
                              now=f"2024-01-01T00:01:{i:02d}Z")
        obj = new
    names = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(names) == 10 and "ancient-changes" in names and "kubectl-create" not in names
    assert "m12" in names


def test_rejects_apply_operation_and_decodes_entries():
    with pytest.raises(ValueError):
        update_managed_fields(None, cm(), "x", "Apply", "v1", CM, now=T0)
    with pytest.raises(ValueError):
        decode_managed_fields([{"manager": "x", "operation": "Update", "apiVersion": "v1",
                                "fieldsType": "FieldsV2"}])


def test_empty_manager_is_unknown():
    obj = cm(a="1")
    update_managed_fields(None, obj, "", "Update", "v1", CM, now=T0)
    assert obj["metadata"]["managedFields"][0]["manager"] == "unknown"
