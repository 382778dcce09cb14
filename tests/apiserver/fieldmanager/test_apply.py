"""Server-side apply: merge, ownership, pruning and conflicts."""
import copy

import pytest

from apiserver.fieldmanager import apply, merge, owned_by, update_managed_fields
from apiserver.openapi import definitions
from apiserver.runtime import errors

DEPLOY = definitions.get("io.k8s.api.apps.v1.Deployment")
POD = definitions.get("io.k8s.api.core.v1.Pod")
T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-01T00:00:05Z", "2024-01-01T00:00:09Z"


def f(*names):
    return tuple(("f", n) for n in names)


def deploy(replicas=1, labels=None, image="nginx"):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}},
    }


def ssa(live, cfg, manager="kubectl", force=False, now=T1):
    return apply(live, cfg, manager, force, "apps/v1", DEPLOY, now)


def test_create_via_apply_sets_fields_and_one_apply_entry():
    cfg = deploy()
    out = ssa(None, cfg, now=T0)
    assert out["spec"]["replicas"] == 1 and out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {},
                       "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                                      "f:spec": {"f:containers": {'k:{"name":"c"}': {
                                          ".": {}, "f:image": {}, "f:name": {}}}}}}},
    }]
    assert cfg == deploy()  # input untouched


def _live_with_csa_replicas():
    live = ssa(None, deploy(), now=T0)
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 3
    update_managed_fields(live, changed, "kubectl-client-side-apply", "Update", "apps/v1",
                          DEPLOY, now=T1)
    return changed


def test_apply_conflicts_with_other_manager():
    live = _live_with_csa_replicas()
    assert owned_by(live, "kubectl-client-side-apply") == {f("spec", "replicas")}
    with pytest.raises(errors.Conflict) as info:
        ssa(live, deploy(replicas=5), manager="kubectl", now=T2)
    err = info.value
    assert err.code == 409
    assert err.message == ('Apply failed with 1 conflict: conflict with '
                           '"kubectl-client-side-apply" using apps/v1: .spec.replicas')
    assert err.to_status()["details"] == {"causes": [{
        "reason": "FieldManagerConflict",
        "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
        "field": ".spec.replicas"}]}
    assert err.to_status()["reason"] == "Conflict"


def test_force_steals_ownership():
    live = _live_with_csa_replicas()
    out = ssa(live, deploy(replicas=5), force=True, now=T2)
    assert out["spec"]["replicas"] == 5
    managers = [e["manager"] for e in out["metadata"]["managedFields"]]
    assert managers == ["kubectl"]  # the CSA manager lost its only field and was dropped
    assert f("spec", "replicas") in owned_by(out, "kubectl")
    assert out["metadata"]["managedFields"][0]["time"] == T2


def test_same_value_is_shared_not_a_conflict():
    live = _live_with_csa_replicas()
    out = ssa(live, deploy(replicas=3), now=T2)
    assert out["spec"]["replicas"] == 3
    assert f("spec", "replicas") in owned_by(out, "kubectl")
    assert f("spec", "replicas") in owned_by(out, "kubectl-client-side-apply")


def test_multiple_conflicts_message_groups_by_manager():
    live = ssa(None, deploy(), manager="a", now=T0)
    live = apply(live, deploy(), "b", False, "apps/v1", DEPLOY, T0)
    cfg = deploy(replicas=2, image="httpd")
    with pytest.raises(errors.Conflict) as info:
        apply(live, cfg, "c", False, "apps/v1", DEPLOY, T1)
    msg = info.value.message
    assert msg.startswith("Apply failed with 4 conflicts: conflicts with \"a\":\n- .spec.replicas\n"
                          "- .spec.template.spec.containers[name=\"c\"].image\n"
                          "conflicts with \"b\":\n")
    assert len(info.value.causes) == 4
    assert {c.message for c in info.value.causes} == {'conflict with "a"', 'conflict with "b"'}


def test_removing_previously_applied_label_deletes_it():
    live = ssa(None, deploy(labels={"app": "web", "tier": "fe"}), now=T0)
    out = ssa(live, deploy(labels={"app": "web"}), now=T1)
    assert out["metadata"]["labels"] == {"app": "web"}
    assert f("metadata", "labels", "tier") not in owned_by(out, "kubectl")


def test_shared_ownership_keeps_label():
    live = ssa(None, deploy(labels={"app": "web", "tier": "fe"}), now=T0)
    live = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "web", "labels": {"tier": "fe"}}},
                 "other", False, "apps/v1", DEPLOY, T1)
    out = ssa(live, deploy(labels={"app": "web"}), now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert owned_by(out, "other") == {f("metadata", "labels", "tier")}


def test_label_owned_by_updater_is_not_pruned():
    live = ssa(None, deploy(labels={"app": "web", "tier": "fe"}), now=T0)
    changed = copy.deepcopy(live)
    changed["metadata"]["labels"]["tier"] = "be"
    update_managed_fields(live, changed, "kubectl-label", "Update", "apps/v1", DEPLOY, now=T1)
    out = ssa(changed, deploy(labels={"app": "web"}), now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "be"}


def test_omitting_a_container_removes_it_and_its_fields():
    cfg = deploy()
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = ssa(None, cfg, now=T0)
    out = ssa(live, deploy(), now=T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["c"]


def test_omitting_a_whole_section_removes_it():
    cfg = deploy()
    cfg["spec"]["strategy"] = {"type": "Recreate"}
    live = ssa(None, cfg, now=T0)
    out = ssa(live, deploy(), now=T1)
    assert "strategy" not in out["spec"]


def test_merge_rules_list_map_set_atomic_and_maps():
    live = {"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "a", "image": "i1", "args": ["1", "2"]},
                                    {"name": "b", "image": "i2"}]}}
    cfg = {"metadata": {"labels": {"b": "2"}, "finalizers": ["y"]},
           "spec": {"containers": [{"name": "b", "image": "j2"},
                                   {"name": "a", "args": ["3"]},
                                   {"name": "n", "image": "new"}]}}
    out = merge(live, cfg, POD)
    assert out["metadata"] == {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]}
    assert out["spec"]["containers"] == [{"name": "b", "image": "j2"},
                                         {"name": "a", "image": "i1", "args": ["3"]},
                                         {"name": "n", "image": "new"}]
    assert live["spec"]["containers"][0]["args"] == ["1", "2"]


def test_multi_key_ports_merge_by_both_keys():
    live = {"spec": {"containers": [{"name": "c", "ports": [
        {"containerPort": 53, "protocol": "UDP", "name": "dns-udp"}]}]}}
    cfg = {"spec": {"containers": [{"name": "c", "ports": [
        {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"},
        {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}]}]}}
    ports = merge(live, cfg, POD)["spec"]["containers"][0]["ports"]
    assert {(p["containerPort"], p["protocol"]): p for p in ports} == {
        (53, "UDP"): {"containerPort": 53, "protocol": "UDP", "name": "dns-udp",
                      "hostPort": 5353},
        (53, "TCP"): {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}}


def test_unchanged_reapply_keeps_time():
    live = ssa(None, deploy(), now=T0)
    out = ssa(live, deploy(), now=T2)
    assert out == live


def test_manager_validation():
    with pytest.raises(errors.Invalid) as info:
        ssa(None, deploy(), manager="")
    assert info.value.code == 422
    assert info.value.message == ('PatchOptions.meta.k8s.io "" is invalid: '
                                  'fieldManager: Required value: is required for apply patch')
    with pytest.raises(errors.Invalid) as info:
        ssa(None, deploy(), manager="m" * 129)
    assert info.value.causes[0].reason == "FieldValueTooLong"
    ssa(None, deploy(), manager="m" * 128)


def test_patch_shape_errors():
    with pytest.raises(errors.BadRequest) as info:
        apply(None, deploy(), "kubectl", False, "apps/v1beta1", DEPLOY, T0)
    assert info.value.message == ("Incorrect version specified in apply patch. Specified patch "
                                  "version: apps/v1, expected: apps/v1beta1")
    cfg = deploy()
    cfg["metadata"]["managedFields"] = []
    with pytest.raises(errors.BadRequest, match="metadata.managedFields must be nil"):
        ssa(None, cfg)
    dup = deploy()
    dup["spec"]["template"]["spec"]["containers"].append({"name": "c", "image": "x"})
    with pytest.raises(errors.BadRequest, match="duplicate entries"):
        ssa(None, dup)


def test_untyped_custom_resource_apply():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
          "spec": {"size": 1, "tags": ["a"], "extra": {"k": "v"}}}
    live = apply(None, cr, "me", False, "example.com/v1", None, T0)
    assert live["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {".": {}, "f:extra": {".": {}, "f:k": {}}, "f:size": {}, "f:tags": {}}}
    cfg = copy.deepcopy(cr)
    cfg["spec"] = {"size": 2, "tags": ["b"]}
    out = apply(live, cfg, "me", False, "example.com/v1", None, T1)
    assert out["spec"] == {"size": 2, "tags": ["b"]}


def test_kubectl_syncs_last_applied_annotation_when_present():
    live = ssa(None, deploy(), now=T0)
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": '{"old":true}'}
    out = ssa(live, deploy(replicas=1), now=T1)
    text = out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert '"replicas":1' in text and "old" not in text
