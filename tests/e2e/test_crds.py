"""CustomResourceDefinitions as a new user meets them, with kubectl and the official Python
client against a real server: a CRD with two versions, printer columns, status and scale
subresources and a CEL rule; `kubectl get` with its columns, `explain`, `scale`, a CEL
refusal with its message, both versions served, the Python client's CustomObjectsApi and
dynamic client, and `kubectl delete crd` removing its objects."""
from __future__ import annotations

import json
import time

import pytest

GROUP = "stable.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"crontabs.{GROUP}"},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                  "shortNames": ["ct"]},
        "versions": [
            {"name": "v1", "served": True, "storage": True,
             "schema": {"openAPIV3Schema": {
                 "type": "object", "description": "A CronTab runs a command on a schedule.",
                 "properties": {
                     "spec": {
                         "type": "object", "description": "What to run and how often.",
                         "x-kubernetes-validations": [
                             {"rule": "self.replicas <= 10",
                              "message": "replicas must be at most 10"}],
                         "properties": {
                             "cronSpec": {"type": "string",
                                          "description": "The schedule, in cron format."},
                             "image": {"type": "string"},
                             "replicas": {"type": "integer", "default": 1}}},
                     "status": {"type": "object", "properties": {
                         "replicas": {"type": "integer"},
                         "labelSelector": {"type": "string"}}}}}},
             "subresources": {"status": {}, "scale": {
                 "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                 "labelSelectorPath": ".status.labelSelector"}},
             "additionalPrinterColumns": [
                 {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                 {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                 {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]},
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True}}}]}}


def crontab(name, **spec):
    return {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "metadata": {"name": name},
            "spec": {"cronSpec": "* * * * */5", "image": "my-cron-image", **spec}}


@pytest.fixture(scope="module")
def crd(kubectl):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    kubectl("wait", "--for=condition=Established", f"crd/crontabs.{GROUP}", "--timeout=30s")
    deadline = time.monotonic() + 20
    while "crontabs" not in kubectl("api-resources", "--api-group", GROUP).stdout:
        assert time.monotonic() < deadline, "crontabs never appeared in discovery"
        time.sleep(0.3)
    yield
    kubectl("delete", "crd", f"crontabs.{GROUP}", "--ignore-not-found", check=False)


def test_get_shows_the_printer_columns(kubectl, crd):
    kubectl("apply", "-f", "-", input=json.dumps(crontab("my-new-cron-object")))
    out = kubectl("get", "crontabs").stdout.splitlines()
    assert out[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert out[1].split()[:6] == ["my-new-cron-object", "*", "*", "*", "*", "*/5"]
    assert out[1].split()[6] == "1"                               # defaulted by the schema
    assert "my-new-cron-object" in kubectl("get", "ct").stdout     # the short name


def test_explain_shows_the_schema_descriptions(kubectl, crd):
    out = kubectl("explain", "crontab.spec").stdout
    assert "What to run and how often." in out
    assert "The schedule, in cron format." in out


def test_scale_and_the_cel_rule(kubectl, crd):
    kubectl("apply", "-f", "-", input=json.dumps(crontab("scaled")))
    kubectl("scale", "crontab", "scaled", "--replicas=4")
    obj = json.loads(kubectl("get", "crontab", "scaled", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 4
    cp = kubectl("scale", "crontab", "scaled", "--replicas=11", check=False)
    assert cp.returncode != 0
    assert "replicas must be at most 10" in cp.stderr
    cp = kubectl("patch", "crontab", "scaled", "--type=merge", "-p",
                 json.dumps({"spec": {"replicas": 12}}), check=False)
    assert cp.returncode != 0
    assert 'spec: Invalid value: "object": replicas must be at most 10' in cp.stderr
    # a strategic merge patch is 415 for custom resources; kubectl patch says so
    cp = kubectl("patch", "crontab", "scaled", "--type=strategic", "-p",
                 json.dumps({"spec": {"replicas": 2}}), check=False)
    # kubectl wraps the server's 415 message in its own words
    assert cp.returncode != 0
    assert "application/strategic-merge-patch+json is not supported by " \
        "stable.example.com/v1, Kind=CronTab" in cp.stderr
    assert "the body of the request was in an unknown format - accepted media types " \
        "include: application/json-patch+json, application/merge-patch+json, " \
        "application/apply-patch+yaml" in cp.stderr


def test_both_versions_serve_the_same_object(kubectl, crd, client):
    from kubernetes import client as k8s

    kubectl("apply", "-f", "-", input=json.dumps(crontab("two-versions")))
    api = k8s.CustomObjectsApi(client)
    v1 = api.get_namespaced_custom_object(GROUP, "v1", "default", "crontabs", "two-versions")
    beta = api.get_namespaced_custom_object(GROUP, "v1beta1", "default", "crontabs",
                                            "two-versions")
    assert v1["apiVersion"] == f"{GROUP}/v1" and beta["apiVersion"] == f"{GROUP}/v1beta1"
    assert v1["spec"] == beta["spec"]
    assert v1["metadata"]["resourceVersion"] == beta["metadata"]["resourceVersion"]


def test_python_client_custom_objects_and_dynamic_client(crd, client):
    from kubernetes import client as k8s
    from kubernetes import dynamic

    api = k8s.CustomObjectsApi(client)
    made = api.create_namespaced_custom_object(GROUP, "v1", "default", "crontabs",
                                               crontab("from-python", replicas=2))
    assert made["spec"]["replicas"] == 2
    status = api.patch_namespaced_custom_object_status(
        GROUP, "v1", "default", "crontabs", "from-python", {"status": {"replicas": 2}})
    assert status["status"] == {"replicas": 2}
    scale = api.get_namespaced_custom_object_scale(GROUP, "v1", "default", "crontabs",
                                                   "from-python")
    assert scale["spec"]["replicas"] == 2 and scale["status"]["replicas"] == 2
    dyn = dynamic.DynamicClient(client)
    resource = dyn.resources.get(api_version=f"{GROUP}/v1", kind="CronTab")
    names = [i.metadata.name for i in resource.get(namespace="default").items]
    assert "from-python" in names
    with pytest.raises(k8s.ApiException) as err:
        api.create_namespaced_custom_object(GROUP, "v1", "default", "crontabs",
                                            crontab("too-many", replicas=50))
    assert err.value.status == 422
    assert "replicas must be at most 10" in err.value.body


def test_deleting_the_crd_removes_its_objects(kubectl):
    doc = json.loads(json.dumps(CRD))
    doc["metadata"]["name"] = f"gadgets.{GROUP}"
    doc["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}
    kubectl("apply", "-f", "-", input=json.dumps(doc))
    kubectl("wait", "--for=condition=Established", f"crd/gadgets.{GROUP}", "--timeout=30s")
    deadline = time.monotonic() + 20
    while True:
        cp = kubectl("apply", "-f", "-", check=False, input=json.dumps(
            {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g1"},
             "spec": {"cronSpec": "x", "image": "y"}}))
        if cp.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert cp.returncode == 0, cp.stderr
    kubectl("delete", "crd", f"gadgets.{GROUP}", "--timeout=60s")
    cp = kubectl("get", "gadgets", check=False)
    assert cp.returncode != 0
    kubectl("apply", "-f", "-", input=json.dumps(doc))             # re-created: empty
    kubectl("wait", "--for=condition=Established", f"crd/gadgets.{GROUP}", "--timeout=30s")
    deadline = time.monotonic() + 20
    while True:
        cp = kubectl("get", "gadgets", "-o", "json", check=False)
        if cp.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert json.loads(cp.stdout)["items"] == []
    kubectl("delete", "crd", f"gadgets.{GROUP}")
