"""/openapi/v2 as kubectl uses it: its client-side validation of a v1 List (the output of
``kubectl get -o yaml``) reads the protobuf document; an unknown field in a listed object is
refused with kubectl's own ValidationError naming our definition."""
from __future__ import annotations

import json


def test_kubectl_applies_a_list_and_validates_its_items(kubectl, namespace):
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
              "data": {"k": "v"}},
             {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "d"}},
                       "template": {"metadata": {"labels": {"app": "d"}},
                                    "spec": {"containers": [{
                                        "name": "c", "image": "busybox",
                                        "ports": [{"containerPort": 80, "name": "http"}],
                                        "livenessProbe": {"httpGet": {"port": "http"}},
                                        "resources": {"limits": {"cpu": "1",
                                                                 "memory": 1000000}}}]}}}}]
    out = kubectl("apply", "-n", namespace, "-f", "-",
                  input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    assert "configmap/a created" in out.stdout and "deployment.apps/d created" in out.stdout

    # what kubectl get -o yaml prints (status, managedFields …) applies back unchanged
    dumped = kubectl("get", "configmaps,deployments", "-n", namespace, "-o", "yaml").stdout
    assert "kind: List" in dumped
    again = kubectl("apply", "-n", namespace, "-f", "-", input=dumped)
    assert "deployment.apps/d" in again.stdout

    bad = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "bogus": 1}]}
    cp = kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False)
    assert cp.returncode != 0
    assert ('ValidationError(ConfigMap): unknown field "bogus" in '
            "io.k8s.api.core.v1.ConfigMap") in cp.stderr, cp.stderr
    assert kubectl("get", "configmap", "b", "-n", namespace, check=False).returncode != 0


def test_the_json_form_and_its_etag(server):
    status, headers, body = server.request("GET", "/openapi/v2")
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod",
                                                        "version": "v1"}]
    # a field's v3 allOf [$ref] is a plain $ref, as kube-openapi publishes v2
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    assert "allOf" not in pod["properties"]["spec"]
    port = doc["definitions"]["io.k8s.api.core.v1.ContainerPort"]
    assert port["properties"]["containerPort"]["type"] == "integer"
    intstr = doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert intstr["type"] == "string" and intstr["format"] == "int-or-string"
    assert not any("#/components/" in json.dumps(d) for d in doc["definitions"].values())
    status, headers2, body2 = server.request(
        "GET", "/openapi/v2",
        headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert status == 200 and headers2["content-type"].endswith("+protobuf")
    assert body2[:2] == b"\x0a\x03" and b"io.k8s.api.core.v1.Pod" in body2   # swagger "2.0"
    status, _, _ = server.request("GET", "/openapi/v2",
                                  headers={"If-None-Match": headers["etag"]})
    assert status == 304
