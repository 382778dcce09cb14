"""CustomResourceDefinitions with a conversion webhook behind a Service, defaults added to a
schema later, and watches that end when their definition goes — against the real server,
with kubectl and the official Python client (its CustomObjectsApi and watch)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from tests.crds.conversion_webhook import ConversionWebhook
from tests.e2e.extension_backend import host_address

GROUP = "conv.example.com"


def schema(field: str, default: str | None = None) -> dict:
    prop = {"type": "string", **({"default": default} if default else {})}
    return {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {field: prop, "image": {"type": "string"}}}}}}


def definition(plural: str, kind: str, conversion: dict) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                 "versions": [
                     {"name": "v1", "served": True, "storage": True,
                      "schema": schema("cronSpec")},
                     {"name": "v2", "served": True, "storage": False,
                      "schema": schema("schedule")}],
                 "conversion": conversion}}


def established(kubectl, name: str, plural: str) -> None:
    kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")
    deadline = time.monotonic() + 20
    while True:
        cp = kubectl("get", f"{plural}.v2.{GROUP}", "-A", check=False)
        if cp.returncode == 0:
            return
        assert time.monotonic() < deadline, cp.stderr
        time.sleep(0.3)


@pytest.fixture(scope="module")
def webhook_service(server):
    """The webhook on this machine's address, behind Service default/converter:443."""
    hook = ConversionWebhook(host_address(), names=("converter.default.svc",))
    server.request("POST", "/api/v1/namespaces/default/services", body={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "converter"},
        "spec": {"ports": [{"port": 443, "targetPort": hook.port}]}})
    server.request("POST", "/api/v1/namespaces/default/endpoints", body={
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "converter"},
        "subsets": [{"addresses": [{"ip": hook.host}], "ports": [{"port": hook.port}]}]})
    yield hook
    hook.close()
    server.request("DELETE", "/api/v1/namespaces/default/services/converter")
    server.request("DELETE", "/api/v1/namespaces/default/endpoints/converter")


def test_kubectl_reads_and_writes_both_versions_through_the_webhook(kubectl, client,
                                                                      webhook_service, namespace):
    from kubernetes import client as k8s

    crd = definition("widgets", "Widget", {"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"service": {"namespace": "default", "name": "converter",
                                     "path": "/convert", "port": 443},
                         "caBundle": webhook_service.ca_bundle}}})
    kubectl("apply", "-f", "-", input=json.dumps(crd))
    try:
        established(kubectl, f"widgets.{GROUP}", "widgets")
        kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(
            {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1"},
             "spec": {"cronSpec": "*/5 * * * *", "image": "i"}}))
        got = json.loads(kubectl("get", f"widgets.v2.{GROUP}", "w1", "-n", namespace,
                                 "-o", "json").stdout)
        assert got["apiVersion"] == f"{GROUP}/v2"
        assert got["spec"] == {"schedule": "*/5 * * * *", "image": "i"}
        assert any(r["request"]["desiredAPIVersion"] == f"{GROUP}/v2"
                   for r in webhook_service.reviews)

        kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(
            {"apiVersion": f"{GROUP}/v2", "kind": "Widget", "metadata": {"name": "w2"},
             "spec": {"schedule": "0 1 * * *"}}))
        v1 = json.loads(kubectl("get", f"widgets.v1.{GROUP}", "w2", "-n", namespace,
                                "-o", "json").stdout)
        assert v1["spec"] == {"cronSpec": "0 1 * * *"}

        api = k8s.CustomObjectsApi(client)
        listed = api.list_namespaced_custom_object(GROUP, "v2", namespace, "widgets")
        assert sorted(i["spec"]["schedule"] for i in listed["items"]) == \
            ["*/5 * * * *", "0 1 * * *"]

        # the webhook gone: reads in v2 fail with upstream's 500, v1 reads still work
        kubectl("patch", "endpoints", "converter", "-n", "default", "--type=json", "-p",
                json.dumps([{"op": "replace", "path": "/subsets/0/ports/0/port",
                             "value": 1}]))
        cp = kubectl("get", f"widgets.v2.{GROUP}", "w1", "-n", namespace, check=False)
        assert cp.returncode != 0
        assert f"conversion webhook for {GROUP}/v1, Kind=Widget failed: Post " \
               '"https://converter.default.svc:443/convert"' in cp.stderr, cp.stderr
        assert kubectl("get", f"widgets.v1.{GROUP}", "w1", "-n", namespace,
                       check=False).returncode == 0
    finally:
        kubectl("patch", "endpoints", "converter", "-n", "default", "--type=json", "-p",
                json.dumps([{"op": "replace", "path": "/subsets/0/ports/0/port",
                             "value": webhook_service.port}]), check=False)
        kubectl("delete", "crd", f"widgets.{GROUP}", "--timeout=60s", check=False)


def test_defaults_added_later_show_on_read_and_watches_end_with_the_definition(
        kubectl, client, namespace):
    from kubernetes import client as k8s
    from kubernetes import watch

    kubectl("apply", "-f", "-", input=json.dumps(
        definition("gizmos", "Gizmo", {"strategy": "None"})))
    established(kubectl, f"gizmos.{GROUP}", "gizmos")
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(
        {"apiVersion": f"{GROUP}/v1", "kind": "Gizmo", "metadata": {"name": "g1"},
         "spec": {"cronSpec": "x"}}))
    assert "image" not in json.loads(kubectl("get", "gizmos", "g1", "-n", namespace,
                                             "-o", "json").stdout)["spec"]

    patch = [{"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec"
                                   "/properties/image/default", "value": "busybox"}]
    kubectl("patch", "crd", f"gizmos.{GROUP}", "--type=json", "-p", json.dumps(patch))
    deadline = time.monotonic() + 20
    while True:
        spec = json.loads(kubectl("get", "gizmos", "g1", "-n", namespace,
                                  "-o", "json").stdout)["spec"]
        if spec.get("image") == "busybox" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert spec == {"cronSpec": "x", "image": "busybox"}

    api = k8s.CustomObjectsApi(client)
    events, ended = [], threading.Event()

    def follow():
        w = watch.Watch()
        for ev in w.stream(api.list_namespaced_custom_object, GROUP, "v1", namespace,
                           "gizmos", timeout_seconds=120):
            events.append((ev["type"], ev["object"]["metadata"]["name"]))
        ended.set()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while ("ADDED", "g1") not in events:
        assert time.monotonic() < deadline, events
        time.sleep(0.1)
    started = time.monotonic()
    kubectl("delete", "crd", f"gizmos.{GROUP}", "--timeout=60s")
    assert ended.wait(30), "the watch outlived its definition"
    assert ("DELETED", "g1") in events
    print(f"watch ended {time.monotonic() - started:.1f}s after kubectl delete crd began")
