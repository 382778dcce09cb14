"""Custom resources of an Established CustomResourceDefinition, over in-process HTTP: the
verbs, selectors, Tables, /status and /scale, two versions sharing one row, and the
upstream refusals (strategic merge patch, PUT without resourceVersion).  Upstream:
kubernetes/apiextensions-apiserver:pkg/apiserver/customresource_handler.go and
pkg/registry/customresource/."""
from __future__ import annotations

import pytest

from tests.asgi import ASGIClient, in_process_app
from tests.crds.test_serving_support import CRONTABS, GROUP, create_crd, crontab

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    completed, app = in_process_app()
    create_crd(completed.storage)
    return completed, ASGIClient(app)


def test_crud_list_and_selectors(world):
    _, client = world
    made = client.post(CRONTABS, crontab("a", color="red"))
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["apiVersion"] == f"{GROUP}/v1" and body["kind"] == "CronTab"
    assert body["metadata"]["generation"] == 1 and body["metadata"]["uid"]
    assert client.post(CRONTABS, crontab("b", color="blue")).status_code == 201
    assert client.post(CRONTABS, crontab("a")).status_code == 409

    got = client.get(f"{CRONTABS}/a")
    assert got.status_code == 200 and got.json()["spec"]["color"] == "red"
    listed = client.get(CRONTABS).json()
    assert listed["kind"] == "CronTabList" and listed["apiVersion"] == f"{GROUP}/v1"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    every = client.get(f"/apis/{GROUP}/v1/crontabs").json()
    assert len(every["items"]) == 2

    by_label = client.get(CRONTABS, query={"labelSelector": "app=b"}).json()
    assert [i["metadata"]["name"] for i in by_label["items"]] == ["b"]
    by_field = client.get(CRONTABS, query={"fieldSelector": "spec.color=red"}).json()
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["a"]
    by_name = client.get(CRONTABS, query={"fieldSelector": "metadata.name=b"}).json()
    assert [i["metadata"]["name"] for i in by_name["items"]] == ["b"]
    bad = client.get(CRONTABS, query={"fieldSelector": "spec.image=x"})
    assert bad.status_code == 400

    current = got.json()
    current["spec"]["image"] = "other"
    put = client.put(f"{CRONTABS}/a", current)
    assert put.status_code == 200, put.content
    assert put.json()["metadata"]["generation"] == 2
    patched = client.patch(f"{CRONTABS}/a", {"spec": {"replicas": 3}},
                           "application/merge-patch+json")
    assert patched.status_code == 200 and patched.json()["spec"]["replicas"] == 3
    jp = client.patch(f"{CRONTABS}/a", [{"op": "replace", "path": "/spec/color", "value": "g"}],
                      "application/json-patch+json")
    assert jp.status_code == 200 and jp.json()["spec"]["color"] == "g"

    gone = client.delete(f"{CRONTABS}/a")
    assert gone.status_code == 200 and gone.json()["status"] == "Success"
    assert gone.json()["details"] == {"name": "a", "group": GROUP, "kind": "crontabs",
                                      "uid": body["metadata"]["uid"]}
    missing = client.get(f"{CRONTABS}/a")
    assert missing.status_code == 404
    assert missing.json()["message"] == f'crontabs.{GROUP} "a" not found'


def test_strategic_merge_patch_is_unsupported_media_type(world):
    _, client = world
    client.post(CRONTABS, crontab("a"))
    resp = client.patch(f"{CRONTABS}/a", {"spec": {"replicas": 2}},
                        "application/strategic-merge-patch+json")
    assert resp.status_code == 415
    assert "strategic" not in resp.json()["message"]
    assert "application/merge-patch+json" in resp.json()["message"]


def test_put_without_resource_version_is_refused(world):
    _, client = world
    client.post(CRONTABS, crontab("a"))
    obj = client.get(f"{CRONTABS}/a").json()
    del obj["metadata"]["resourceVersion"]
    resp = client.put(f"{CRONTABS}/a", obj)
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["field"] == "metadata.resourceVersion"
    assert "must be specified for an update" in resp.json()["message"]


def test_table_has_name_and_the_printer_columns(world):
    _, client = world
    client.post(CRONTABS, crontab("a", replicas=2))
    table = client.get(CRONTABS, headers={
        "accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert table["kind"] == "Table"
    cols = [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]
    assert cols == [("Name", "string", 0), ("Spec", "string", 0), ("Replicas", "integer", 0),
                    ("Image", "string", 1), ("Age", "date", 0)]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["a", "* * * * */5", 2, "my-image"] and cells[4].endswith("s")
    one = client.get(f"{CRONTABS}/a", headers={
        "accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert one["rows"][0]["cells"][0] == "a"


def test_v1beta1_reads_and_writes_the_same_row(world):
    _, client = world
    beta = f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs"
    obj = crontab("b")
    obj["apiVersion"] = f"{GROUP}/v1beta1"
    made = client.post(beta, obj)
    assert made.status_code == 201, made.content
    assert made.json()["apiVersion"] == f"{GROUP}/v1beta1"
    stored = client.get(f"{CRONTABS}/b").json()
    assert stored["apiVersion"] == f"{GROUP}/v1"
    seen = client.get(f"{beta}/b").json()
    assert seen["apiVersion"] == f"{GROUP}/v1beta1"
    assert seen["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    listed = client.get(beta).json()
    assert listed["apiVersion"] == f"{GROUP}/v1beta1"
    assert listed["items"][0]["apiVersion"] == f"{GROUP}/v1beta1"
    # the storage version's body in the beta URL is "does not match the expected version"
    assert client.post(beta, crontab("c")).status_code == 400


def test_status_subresource(world):
    _, client = world
    client.post(CRONTABS, {**crontab("a"), "status": {"replicas": 9}})
    obj = client.get(f"{CRONTABS}/a").json()
    assert "status" not in obj or not obj["status"]          # dropped on create
    obj["status"] = {"replicas": 1}
    obj["spec"]["image"] = "ignored"
    resp = client.put(f"{CRONTABS}/a/status", obj)
    assert resp.status_code == 200, resp.content
    after = resp.json()
    assert after["status"] == {"replicas": 1} and after["spec"]["image"] == "my-image"
    assert after["metadata"]["generation"] == 1              # status writes keep it
    # main-resource writes keep status
    after["status"] = {"replicas": 5}
    after["spec"]["image"] = "new"
    main = client.put(f"{CRONTABS}/a", after).json()
    assert main["status"] == {"replicas": 1} and main["spec"]["image"] == "new"
    assert main["metadata"]["generation"] == 2


def test_scale_subresource(world):
    _, client = world
    client.post(CRONTABS, crontab("a", replicas=2))
    client.patch(f"{CRONTABS}/a/status", {"status": {"replicas": 2, "labelSelector": "app=a"}},
                 "application/merge-patch+json")
    scale = client.get(f"{CRONTABS}/a/scale")
    assert scale.status_code == 200, scale.content
    body = scale.json()
    assert body["kind"] == "Scale" and body["apiVersion"] == "autoscaling/v1"
    assert body["spec"] == {"replicas": 2}
    assert body["status"] == {"replicas": 2, "selector": "app=a"}
    body["spec"]["replicas"] = 5
    put = client.put(f"{CRONTABS}/a/scale", body)
    assert put.status_code == 200, put.content
    assert client.get(f"{CRONTABS}/a").json()["spec"]["replicas"] == 5
    patched = client.patch(f"{CRONTABS}/a/scale", {"spec": {"replicas": 1}},
                           "application/merge-patch+json")
    assert patched.status_code == 200 and patched.json()["spec"]["replicas"] == 1


def test_a_cluster_scoped_definition_without_columns_or_subresources(world):
    completed, client = world
    from tests.crds.test_serving_support import crd

    plain = crd(metadata={"name": f"widgets.{GROUP}"})
    plain["spec"] = {**plain["spec"], "scope": "Cluster",
                     "names": {"plural": "widgets", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True}}}]}
    plain["status"] = {**plain["status"], "acceptedNames": {"plural": "widgets",
                                                            "kind": "Widget"}}
    create_crd(completed.storage, plain)
    path = f"/apis/{GROUP}/v1/widgets"
    made = client.post(path, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                              "metadata": {"name": "w"}, "anything": {"x": 1}})
    assert made.status_code == 201, made.content
    assert "namespace" not in made.json()["metadata"]
    table = client.get(path, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    cols = [c["name"] for c in table.json()["columnDefinitions"]]
    assert cols == ["Name", "Age"]
    assert client.get(f"{path}/w/status").status_code == 404
    assert client.get(f"/apis/{GROUP}/v1/namespaces/default/widgets").status_code == 404
    listed = client.get(path).json()
    assert listed["kind"] == "WidgetList"


def test_an_unestablished_definition_is_not_served(world):
    completed, client = world
    from tests.crds.test_serving_support import crd

    pending = crd(metadata={"name": f"gadgets.{GROUP}"})
    pending["spec"] = {**pending["spec"], "names": {"plural": "gadgets", "kind": "Gadget"}}
    pending["status"] = {"conditions": [{"type": "Established", "status": "False"}],
                         "acceptedNames": {"plural": "gadgets", "kind": "Gadget"}}
    create_crd(completed.storage, pending)
    assert client.get(f"/apis/{GROUP}/v1/namespaces/default/gadgets").status_code == 404
    assert client.get(CRONTABS).status_code == 200


def test_server_side_apply_creates_and_updates(world):
    _, client = world
    applied = (f"apiVersion: {GROUP}/v1\nkind: CronTab\nmetadata:\n  name: s\n"
               "spec:\n  cronSpec: '* * * * *'\n  replicas: 2\n").encode()
    made = client.request("PATCH", f"{CRONTABS}/s", applied,
                          {"content-type": "application/apply-patch+yaml"},
                          query={"fieldManager": "me"})
    assert made.status_code == 201, made.content
    assert made.json()["metadata"]["managedFields"][0]["manager"] == "me"
    again = client.request("PATCH", f"{CRONTABS}/s", applied.replace(b"2", b"3"),
                           {"content-type": "application/apply-patch+yaml"},
                           query={"fieldManager": "me"})
    assert again.status_code == 200 and again.json()["spec"]["replicas"] == 3


def test_dry_run_and_delete_collection(world):
    _, client = world
    dry = client.post(CRONTABS, crontab("d"), query={"dryRun": "All"})
    assert dry.status_code == 201
    assert client.get(f"{CRONTABS}/d").status_code == 404
    for name in ("x", "y"):
        client.post(CRONTABS, crontab(name))
    resp = client.delete(CRONTABS, query={"labelSelector": "app=x"})
    assert resp.status_code == 200
    assert [i["metadata"]["name"] for i in client.get(CRONTABS).json()["items"]] == ["y"]


def test_a_deprecated_version_warns_on_every_request():
    from tests.crds.test_serving_support import crd, serving_world

    completed, _, client = serving_world()
    obj = crd()
    obj["spec"]["versions"][1]["deprecated"] = True
    obj["spec"]["versions"].append({"name": "v1alpha1", "served": True, "storage": False,
                                    "deprecated": True, "deprecationWarning": "use v1, please",
                                    "schema": obj["spec"]["versions"][1]["schema"]})
    create_crd(completed.storage, obj)
    beta = f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs"
    made = client.post(beta, {**crontab("a"), "apiVersion": f"{GROUP}/v1beta1"})
    assert made.status_code == 201
    expected = f'299 - "{GROUP}/v1beta1 CronTab is deprecated; use {GROUP}/v1 CronTab"'
    assert made.headers["warning"] == expected
    assert client.get(beta).headers["warning"] == expected
    assert client.get(f"{beta}/a").headers["warning"] == expected
    alpha = client.get(f"/apis/{GROUP}/v1alpha1/namespaces/default/crontabs/a")
    assert alpha.headers["warning"] == '299 - "use v1, please"'
    assert "warning" not in client.get(f"{CRONTABS}/a").headers


def test_any_qualified_or_plain_finalizer_name_is_accepted(world):
    _, client = world
    body = crontab("f")
    body["metadata"]["finalizers"] = ["example.com/cleanup", "plain-finalizer"]
    made = client.post(CRONTABS, body)
    assert made.status_code == 201, made.content
