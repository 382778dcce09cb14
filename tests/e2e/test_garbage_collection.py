"""Garbage collection end to end: ``manage.py up`` runs the controller manager (and so the
garbage collector) even without nodes; kubectl's cascading deletes and the Python client's
DeleteOptions behave as on a cluster.  No kubelet runs, so pods stay Pending and are removed
at once when deleted."""
from __future__ import annotations

import json
import time
import uuid

import pytest


def _wait(predicate, timeout=60.0, interval=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def _items(kubectl, namespace, *args):
    return json.loads(kubectl("-n", namespace, "get", *args, "-o", "json").stdout)["items"]


def _exists(kubectl, namespace, *args) -> bool:
    cp = kubectl("-n", namespace, "get", *args, "-o", "name", check=False)
    if cp.returncode and "NotFound" not in cp.stderr:
        raise AssertionError(cp.stderr)
    return cp.returncode == 0


def _get(kubectl, namespace, *args) -> dict:
    return json.loads(kubectl("-n", namespace, "get", *args, "-o", "json").stdout)


def _replicaset(name: str, replicas: int = 2) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


def _configmap(name: str, owners=(), finalizers=()) -> str:
    meta = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})


def _ref(obj, block=None) -> dict:
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
           "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}
    if block is not None:
        out["blockOwnerDeletion"] = block
    return out


def test_deleting_a_deployment_removes_its_replicasets_and_pods(kubectl, namespace):
    kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    assert _wait(lambda: len(_items(kubectl, namespace, "pods", "-l", "app=web")) == 2)
    assert len(_items(kubectl, namespace, "rs", "-l", "app=web")) == 1
    kubectl("-n", namespace, "delete", "deployment", "web")        # cascade=background
    assert _wait(lambda: not _items(kubectl, namespace, "rs", "-l", "app=web"))
    assert _wait(lambda: not _items(kubectl, namespace, "pods", "-l", "app=web"))


def test_cascade_orphan_leaves_pods_without_the_owner_reference(kubectl, namespace):
    kubectl("-n", namespace, "apply", "-f", "-", input=_replicaset("orph"))
    assert _wait(lambda: len(_items(kubectl, namespace, "pods", "-l", "app=orph")) == 2)
    kubectl("-n", namespace, "delete", "rs", "orph", "--cascade=orphan")
    assert not _exists(kubectl, namespace, "rs", "orph")          # kubectl waited for it
    pods = _items(kubectl, namespace, "pods", "-l", "app=orph")
    assert len(pods) == 2
    assert all(not p["metadata"].get("ownerReferences") for p in pods)
    time.sleep(2)
    assert len(_items(kubectl, namespace, "pods", "-l", "app=orph")) == 2


def test_cascade_foreground_keeps_the_owner_until_blocking_dependents_are_gone(
        kubectl, namespace):
    owner = json.loads(kubectl("-n", namespace, "create", "-f", "-", "-o", "json",
                               input=_configmap("fg-owner")).stdout)
    kubectl("-n", namespace, "create", "-f", "-",
            input=_configmap("fg-held", [_ref(owner, block=True)], ["example.com/hold"]))
    kubectl("-n", namespace, "delete", "cm", "fg-owner", "--cascade=foreground", "--wait=false")
    marked = _get(kubectl, namespace, "cm", "fg-owner")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert _wait(lambda: _get(kubectl, namespace, "cm", "fg-held")["metadata"].get(
        "deletionTimestamp"))
    time.sleep(1)
    assert _exists(kubectl, namespace, "cm", "fg-owner")          # still held by fg-held
    kubectl("-n", namespace, "patch", "cm", "fg-held", "--type=merge", "-p",
            '{"metadata":{"finalizers":null}}')
    assert _wait(lambda: not _exists(kubectl, namespace, "cm", "fg-owner"))

    # a ReplicaSet: kubectl waits until the owner is gone, and then so are its pods
    kubectl("-n", namespace, "apply", "-f", "-", input=_replicaset("fgrs"))
    assert _wait(lambda: len(_items(kubectl, namespace, "pods", "-l", "app=fgrs")) == 2)
    kubectl("-n", namespace, "delete", "rs", "fgrs", "--cascade=foreground", "--timeout=60s")
    assert not _exists(kubectl, namespace, "rs", "fgrs")
    assert not _items(kubectl, namespace, "pods", "-l", "app=fgrs")


def test_python_client_configmap_owned_by_a_configmap(client, namespace):
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(client)
    owner = core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(
        metadata=k8s.V1ObjectMeta(name="py-owner")))
    core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(
        name="py-child", owner_references=[k8s.V1OwnerReference(
            api_version="v1", kind="ConfigMap", name="py-owner", uid=owner.metadata.uid)])))
    core.delete_namespaced_config_map("py-owner", namespace)

    def child_gone():
        try:
            core.read_namespaced_config_map("py-child", namespace)
            return False
        except k8s.ApiException as exc:
            return exc.status == 404
    assert _wait(child_gone)
    # the legacy field: orphanDependents=true orphans, and it may not be combined
    owner = core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(
        metadata=k8s.V1ObjectMeta(name="py-owner2")))
    core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(
        name="py-kept", owner_references=[k8s.V1OwnerReference(
            api_version="v1", kind="ConfigMap", name="py-owner2", uid=owner.metadata.uid)])))
    with pytest.raises(k8s.ApiException) as exc:
        core.delete_namespaced_config_map("py-owner2", namespace, body=k8s.V1DeleteOptions(
            orphan_dependents=True, propagation_policy="Foreground"))
    assert exc.value.status == 422
    assert "orphanDependents and deletionPropagation cannot be both set" in exc.value.body
    core.delete_namespaced_config_map("py-owner2", namespace,
                                      body=k8s.V1DeleteOptions(orphan_dependents=True))

    def orphaned():
        try:
            core.read_namespaced_config_map("py-owner2", namespace)
            return False
        except k8s.ApiException as exc:
            if exc.status != 404:
                raise
        return not core.read_namespaced_config_map("py-kept", namespace).metadata.owner_references
    assert _wait(orphaned)


def test_custom_resources_and_configmaps_own_each_other(kubectl, client, namespace):
    from kubernetes import client as k8s

    group = f"gc{uuid.uuid4().hex[:6]}.example.com"
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}}}]}}))
    try:
        kubectl("wait", "--for=condition=Established", f"crd/gadgets.{group}", "--timeout=30s")
        custom = k8s.CustomObjectsApi(client)
        core = k8s.CoreV1Api(client)
        owner_cm = core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name="cm-owner")))
        gadget = _wait(lambda: _create_gadget(custom, group, namespace, {
            "apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {
                "name": "owned", "ownerReferences": [{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "cm-owner",
                    "uid": owner_cm.metadata.uid}]}}))
        owner_gadget = custom.create_namespaced_custom_object(group, "v1", namespace, "gadgets", {
            "apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "owner"}})
        kubectl("-n", namespace, "create", "-f", "-", input=_configmap("cm-owned", [_ref(
            owner_gadget)]))
        assert gadget["metadata"]["uid"]
        kubectl("-n", namespace, "delete", "cm", "cm-owner")
        kubectl("-n", namespace, "delete", f"gadgets.{group}", "owner")
        # the collector finds the new kind at its next discovery (30 s, as upstream)
        assert _wait(lambda: not _exists(kubectl, namespace, f"gadgets.{group}", "owned"),
                     timeout=90)
        assert _wait(lambda: not _exists(kubectl, namespace, "cm", "cm-owned"), timeout=90)
    finally:
        kubectl("delete", "crd", f"gadgets.{group}", "--wait=false", check=False)


def _create_gadget(custom, group, namespace, body):
    from kubernetes import client as k8s

    try:
        return custom.create_namespaced_custom_object(group, "v1", namespace, "gadgets", body)
    except k8s.ApiException as exc:
        if exc.status == 404:       # the new group is not served yet
            return None
        raise
