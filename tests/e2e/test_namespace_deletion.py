"""Deleting a namespace with kubectl on the session server: the controller manager's
namespace controller (workers/controllers/namespace.py) deletes pods, ConfigMaps and custom
resources, shows upstream's conditions while a finalizer holds a pod, and removes the
namespace once it is released."""
from __future__ import annotations

import json
import uuid

import pytest

from controller_support import wait_for

GROUP = "nsdel.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"crumbs.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "crumbs", "singular": "crumb", "kind": "Crumb"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                 "openAPIV3Schema": {"type": "object",
                                     "x-kubernetes-preserve-unknown-fields": True}}}]}}
HOLD = "example.com/hold"


def pod(name: str, finalizers=()) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "finalizers": list(finalizers)},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}


@pytest.fixture(scope="module")
def crumbs(kubectl):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    kubectl("wait", "--for=condition=Established", f"crd/crumbs.{GROUP}", "--timeout=30s")
    wait_for(lambda: kubectl("get", "crumbs", "-A", check=False).returncode == 0, 20,
             "crumbs served")
    yield
    kubectl("delete", "crd", f"crumbs.{GROUP}", "--wait=false", check=False)


def conditions(ns: dict) -> dict:
    return {c["type"]: (c["status"], c["reason"], c["message"])
            for c in (ns.get("status") or {}).get("conditions") or []}


def test_a_deleted_namespace_is_emptied_held_by_a_finalizer_then_gone(server, kubectl, crumbs):
    ns = f"e2e-nsdel-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", ns)
    objects = [pod("free"), pod("held", [HOLD]),
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}},
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"}},
               {"apiVersion": f"{GROUP}/v1", "kind": "Crumb", "metadata": {"name": "k"}}]
    for obj in objects:
        kubectl("create", "-n", ns, "-f", "-", input=json.dumps(obj))
    try:
        cp = kubectl("delete", "namespace", ns, "--wait=false")
        assert cp.stdout.strip() == f'namespace "{ns}" deleted'

        def held():
            got = server.get_json(f"/api/v1/namespaces/{ns}")
            return got if "NamespaceFinalizersRemaining" in conditions(got) else None
        got = wait_for(held, 30, "the namespace controller's conditions")
        c = conditions(got)
        assert got["status"]["phase"] == "Terminating"
        assert c["NamespaceContentRemaining"] == (
            "True", "SomeResourcesRemain",
            "Some resources are remaining: pods. has 1 resource instances")
        assert c["NamespaceFinalizersRemaining"] == (
            "True", "SomeFinalizerRemain",
            f"Some finalizers are remaining: {HOLD} in 1 resource instances")
        assert c["NamespaceDeletionDiscoveryFailure"] == (
            "False", "ResourcesDiscovered", "All resources successfully discovered")
        assert c["NamespaceDeletionContentFailure"][0] == "False"
        # everything else is gone already; the held pod is marked for deletion
        for kind in ("configmaps", f"crumbs.{GROUP}"):
            assert kubectl("get", kind, "-n", ns, "-o", "name").stdout.strip() == "", kind
        assert kubectl("get", "pods", "-n", ns, "-o", "name").stdout.split() == ["pod/held"]
        # release the pod: the namespace goes
        kubectl("patch", "pod", "held", "-n", ns, "--type=json",
                "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
        wait_for(lambda: server.request("GET", f"/api/v1/namespaces/{ns}")[0] == 404, 30,
                 f"namespace {ns} to go")
        cp = kubectl("get", "namespace", ns, check=False)
        assert f'namespaces "{ns}" not found' in cp.stderr
    finally:
        kubectl("patch", "pod", "held", "-n", ns, "--type=json",
                "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]', check=False)
