"""Strategic merge patch engine, driven by the Kubernetes 1.32 definitions."""
import copy

import pytest

from apiserver.endpoints.patch.strategic import apply_strategic_merge_patch as smp
from apiserver.openapi import definitions
from apiserver.runtime import errors

POD = definitions.get("io.k8s.api.core.v1.Pod")
DEPLOYMENT = definitions.get("io.k8s.api.apps.v1.Deployment")
DIRECTIVE_PREFIXES = ("$patch", "$retainKeys", "$setElementOrder", "$deleteFromPrimitiveList")


def _pod(**spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                         "finalizers": ["a.example.com/x", "b.example.com/y"]},
            "spec": {"containers": [
                {"name": "app", "image": "nginx:1.26",
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "sidecar", "image": "busybox"}], **spec}}


def _directive_keys(value, path=""):
    """Every directive key anywhere in ``value`` (must be empty for stored objects)."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k.startswith(DIRECTIVE_PREFIXES):
                found.append(f"{path}/{k}")
            found += _directive_keys(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _directive_keys(v, f"{path}/{i}")
    return found


def test_kubectl_apply_body_updates_container_by_name():
    live = _pod()
    body = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                     "containers": [{"image": "nginx:1.27", "name": "app"}]}}
    out = smp(live, body, POD)
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert [c["name"] for c in out["spec"]["containers"]] == ["app", "sidecar"]
    app = out["spec"]["containers"][0]
    assert app["image"] == "nginx:1.27"
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert out["spec"]["containers"][1] == {"name": "sidecar", "image": "busybox"}
    assert _directive_keys(out) == []


def test_env_merged_by_name_inside_a_container():
    out = smp(_pod(), {"spec": {"containers": [
        {"name": "app", "env": [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}]}]}}, POD)
    env = out["spec"]["containers"][0]["env"]
    # A (server-only) precedes B because both are in the live list and A is earlier there.
    assert env == [{"name": "A", "value": "1"}, {"name": "B", "value": "22"},
                   {"name": "C", "value": "3"}]


def test_new_container_is_added_and_existing_ones_kept():
    # Upstream's interleave lets a server-only item go first only when both items are in the live
    # list, so an item new to the list lands before the server-only ones (kubectl apply avoids
    # this by sending $setElementOrder).
    out = smp(_pod(), {"spec": {"containers": [{"name": "extra", "image": "redis"}]}}, POD)
    assert [c["name"] for c in out["spec"]["containers"]] == ["extra", "app", "sidecar"]
    assert out["spec"]["containers"][1]["image"] == "nginx:1.26"


def test_set_element_order_reorders_merged_list():
    body = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                     "containers": [{"name": "app", "image": "nginx:1.27"}]}}
    out = smp(_pod(), body, POD)
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == \
        [("sidecar", "busybox"), ("app", "nginx:1.27")]


def test_set_element_order_adds_new_item_where_listed():
    order = [{"name": "app"}, {"name": "new"}, {"name": "sidecar"}]
    body = {"spec": {"$setElementOrder/containers": order,
                     "containers": [{"name": "new", "image": "redis"}]}}
    out = smp(_pod(), body, POD)
    assert [c["name"] for c in out["spec"]["containers"]] == ["app", "new", "sidecar"]


def test_set_element_order_without_list_only_reorders():
    order = [{"name": "sidecar"}, {"name": "app"}]
    out = smp(_pod(), {"spec": {"$setElementOrder/containers": order}}, POD)
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar", "app"]
    assert out["spec"]["containers"][1]["image"] == "nginx:1.26"


def test_set_element_order_must_agree_with_patch_list():
    body = {"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                     "containers": [{"name": "sidecar", "image": "x"}, {"name": "app", "image": "y"}]}}
    with pytest.raises(errors.BadRequest) as info:
        smp(_pod(), body, POD)
    assert "doesn't match $setElementOrder list" in info.value.message


def test_patch_delete_removes_container_by_merge_key():
    out = smp(_pod(), {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}, POD)
    assert [c["name"] for c in out["spec"]["containers"]] == ["app"]
    assert _directive_keys(out) == []


def test_patch_delete_of_unknown_item_is_noop():
    out = smp(_pod(), {"spec": {"containers": [{"name": "ghost", "$patch": "delete"}]}}, POD)
    assert [c["name"] for c in out["spec"]["containers"]] == ["app", "sidecar"]


def test_patch_replace_on_a_map():
    out = smp(_pod(), {"metadata": {"labels": {"$patch": "replace", "only": "me"}}}, POD)
    assert out["metadata"]["labels"] == {"only": "me"}


def test_patch_replace_on_a_list():
    body = {"spec": {"containers": [{"name": "solo", "image": "alpine"}, {"$patch": "replace"}]}}
    out = smp(_pod(), body, POD)
    assert out["spec"]["containers"] == [{"name": "solo", "image": "alpine"}]


def test_patch_delete_on_a_map_empties_it_like_upstream():
    live = _pod(securityContext={"runAsUser": 1000})
    out = smp(live, {"spec": {"securityContext": {"$patch": "delete"}}}, POD)
    assert out["spec"]["securityContext"] == {}


def test_unknown_patch_directive_is_400():
    with pytest.raises(errors.BadRequest) as info:
        smp(_pod(), {"metadata": {"labels": {"$patch": "explode"}}}, POD)
    assert info.value.code == 400
    assert info.value.message == "unknown patch type: explode in map: map[$patch:explode]"
    with pytest.raises(errors.BadRequest):
        smp(_pod(), {"spec": {"containers": [{"name": "app", "$patch": "explode"}]}}, POD)


def test_patch_merge_inside_list_is_rejected():
    with pytest.raises(errors.BadRequest) as info:
        smp(_pod(), {"spec": {"containers": [{"$patch": "merge"}]}}, POD)
    assert info.value.message == "merging lists cannot yet be specified in the patch"


def test_missing_merge_key_is_400():
    with pytest.raises(errors.BadRequest) as info:
        smp(_pod(), {"spec": {"containers": [{"image": "x"}]}}, POD)
    assert info.value.message == "map: map[image:x] does not contain declared merge key: name"


def test_null_deletes_a_label():
    out = smp(_pod(), {"metadata": {"labels": {"tier": None}}}, POD)
    assert out["metadata"]["labels"] == {"app": "web"}


def test_null_deletes_a_field_and_null_for_absent_field_is_dropped():
    out = smp(_pod(), {"spec": {"containers": [{"name": "app", "ports": None}], "hostname": None}}, POD)
    assert "ports" not in out["spec"]["containers"][0]
    assert "hostname" not in out["spec"]


def test_primitive_merge_list_is_unioned():
    # metadata.finalizers has patch strategy "merge" without a merge key.
    out = smp(_pod(), {"metadata": {"finalizers": ["b.example.com/y", "c.example.com/z"]}}, POD)
    assert out["metadata"]["finalizers"] == ["a.example.com/x", "b.example.com/y", "c.example.com/z"]


def test_delete_from_primitive_list_removes_finalizer():
    body = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x", "nope"]}}
    out = smp(_pod(), body, POD)
    assert out["metadata"]["finalizers"] == ["b.example.com/y"]
    assert _directive_keys(out) == []


def test_delete_from_primitive_list_on_missing_list_adds_nothing():
    live = _pod()
    del live["metadata"]["finalizers"]
    out = smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}, POD)
    assert "finalizers" not in out["metadata"]


def test_malformed_delete_from_primitive_list_key_is_400():
    with pytest.raises(errors.BadRequest) as info:
        smp(_pod(), {"metadata": {"$deleteFromPrimitiveListfinalizers": ["x"]}}, POD)
    assert info.value.message == "invalid patch format of primitive list"


def test_atomic_list_is_replaced():
    live = _pod(tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}])
    out = smp(live, {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}, POD)
    assert out["spec"]["tolerations"] == [{"key": "c", "operator": "Exists"}]
    out = smp(_pod(), {"spec": {"containers": [{"name": "app", "args": ["x"]}]}}, POD)
    assert out["spec"]["containers"][0]["args"] == ["x"]


def test_ports_merge_on_container_port():
    out = smp(_pod(), {"spec": {"containers": [{"name": "app", "ports": [
        {"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}]}]}}, POD)
    assert out["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 443, "name": "https"}]


def test_volume_mounts_merge_on_mount_path():
    out = smp(_pod(), {"spec": {"containers": [{"name": "app", "volumeMounts": [
        {"mountPath": "/data", "readOnly": True}]}]}}, POD)
    assert out["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "data", "mountPath": "/data", "readOnly": True}]


def test_owner_references_merge_on_uid():
    live = _pod()
    live["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                            "uid": "u1"}]
    out = smp(live, {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True},
                                                      {"uid": "u2", "kind": "Job", "name": "j",
                                                       "apiVersion": "batch/v1"}]}}, POD)
    assert out["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": True},
        {"uid": "u2", "kind": "Job", "name": "j", "apiVersion": "batch/v1"}]


def test_status_conditions_merge_on_type():
    live = {"status": {"conditions": [{"type": "Ready", "status": "False"},
                                      {"type": "Initialized", "status": "True"}]}}
    out = smp(live, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD)
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "Initialized", "status": "True"}]


def test_retain_keys_clears_unlisted_fields_of_deployment_strategy():
    live = {"spec": {"replicas": 2, "strategy": {"type": "RollingUpdate",
                                                 "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}
    out = smp(live, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOYMENT)
    assert out == {"spec": {"replicas": 2, "strategy": {"type": "Recreate"}}}


def test_retain_keys_on_volume_switches_source():
    live = _pod(volumes=[{"name": "data", "emptyDir": {}}, {"name": "other", "emptyDir": {}}])
    out = smp(live, {"spec": {"volumes": [{"name": "data", "$retainKeys": ["configMap", "name"],
                                           "configMap": {"name": "cm"}}]}}, POD)
    assert out["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}},
                                      {"name": "other", "emptyDir": {}}]


def test_retain_keys_must_cover_patched_fields():
    with pytest.raises(errors.BadRequest) as info:
        smp({"spec": {"strategy": {"type": "Recreate"}}},
            {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, DEPLOYMENT)
    assert info.value.message == "invalid patch format of retainKeys"
    with pytest.raises(errors.BadRequest):
        smp({"spec": {"strategy": {}}}, {"spec": {"strategy": {"$retainKeys": "type"}}}, DEPLOYMENT)


def test_deployment_template_patch():
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.26",
                                                           "env": [{"name": "X", "value": "1"}]}]}}}}
    body = {"spec": {"replicas": 3, "template": {
        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}},
        "spec": {"$setElementOrder/containers": [{"name": "c"}],
                 "containers": [{"name": "c", "image": "nginx:1.27",
                                 "$setElementOrder/env": [{"name": "X"}, {"name": "Y"}],
                                 "env": [{"name": "Y", "value": "2"}]}]}}}}
    out = smp(live, body, DEPLOYMENT)
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    assert out["spec"]["template"]["metadata"] == {
        "labels": {"app": "d"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "c", "image": "nginx:1.27",
         "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]
    assert _directive_keys(out) == []


def test_directives_never_leak_from_values_copied_as_is():
    live = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x"}]}}
    body = {"metadata": {"labels": {"$patch": "replace", "a": "1"},
                         "annotations": {"k": "v", "gone": None}},
            "spec": {"containers": [{"name": "new", "image": "y",
                                     "$setElementOrder/env": [{"name": "E"}],
                                     "env": [{"name": "E", "value": "1"},
                                             {"name": "Z", "$patch": "delete"}],
                                     "$deleteFromPrimitiveList/args": ["q"]}],
                     "initContainers": [{"name": "i", "image": "z", "$retainKeys": ["name", "image"]}]}}
    out = smp(live, body, POD)
    assert _directive_keys(out) == []
    assert out["metadata"]["annotations"] == {"k": "v"}
    new = next(c for c in out["spec"]["containers"] if c["name"] == "new")
    assert new == {"name": "new", "image": "y", "env": [{"name": "E", "value": "1"}]}
    assert out["spec"]["initContainers"] == [{"name": "i", "image": "z"}]
    # upstream's removeDirectives drops a brand-new map that carries $patch
    assert "labels" not in out["metadata"]


def test_unknown_fields_behave_like_merge_patch():
    live = {"spec": {"group": {"a": 1, "b": {"c": 2}}, "items": [1, 2, 3], "$ref": "#/x"}}
    out = smp(live, {"spec": {"group": {"b": {"d": 3}, "a": None}, "items": [9]}}, None)
    assert out == {"spec": {"group": {"b": {"c": 2, "d": 3}}, "items": [9], "$ref": "#/x"}}
    out = smp(_pod(), {"spec": {"madeUp": [{"name": "x"}]}}, POD)
    assert out["spec"]["madeUp"] == [{"name": "x"}]
    out = smp({"spec": {"madeUp": [{"name": "a"}]}}, {"spec": {"madeUp": [{"name": "x"}]}}, POD)
    assert out["spec"]["madeUp"] == [{"name": "x"}]


def test_lists_of_lists_are_422():
    with pytest.raises(errors.Invalid) as info:
        smp({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, POD)
    assert info.value.code == 422


def test_input_documents_are_not_mutated():
    live, body = _pod(), {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                                   "containers": [{"name": "app", "image": "i", "env": None}]}}
    live_before, body_before = copy.deepcopy(live), copy.deepcopy(body)
    out = smp(live, body, POD)
    assert live == live_before and body == body_before
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar", "app"]
    assert "env" not in out["spec"]["containers"][1]
    out["spec"]["containers"][0]["image"] = "changed"
    assert live["spec"]["containers"][1]["image"] == "busybox"


def test_any_list_item_with_patch_replace_replaces_the_whole_list():
    body = {"spec": {"containers": [{"name": "app", "$patch": "replace", "image": "i"},
                                    {"name": "solo", "image": "alpine"}]}}
    assert smp(_pod(), body, POD)["spec"]["containers"] == [{"name": "solo", "image": "alpine"}]


def test_null_and_non_object_patches():
    assert smp(_pod(), None, POD) == _pod()
    assert smp(_pod(), {}, POD) == _pod()
    with pytest.raises(errors.BadRequest) as info:
        smp(_pod(), [{"op": "add"}], POD)
    assert info.value.message == \
        "json: cannot unmarshal array into Go value of type map[string]interface {}"


def test_replace_strategy_map_is_replaced_wholesale():
    # PodDisruptionBudgetSpec.selector carries x-kubernetes-patch-strategy: replace.
    pdb = definitions.get("io.k8s.api.policy.v1.PodDisruptionBudget")
    live = {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a", "tier": "t"}}}}
    out = smp(live, {"spec": {"selector": {"matchLabels": {"app": "b"}}}}, pdb)
    assert out == {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "b"}}}}
    # the same patch on a Deployment selector (no strategy) merges instead
    out = smp(live, {"spec": {"selector": {"matchLabels": {"app": "b"}}}}, DEPLOYMENT)
    assert out["spec"]["selector"] == {"matchLabels": {"app": "b", "tier": "t"}}
