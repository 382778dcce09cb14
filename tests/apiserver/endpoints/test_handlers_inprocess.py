"""The resource handler through the whole in-process app: every verb on ConfigMaps, error
``Status`` bodies, delete answers, dry runs, Tables, pods/binding and /scale.

Upstream: kubernetes/apiserver:pkg/endpoints/handlers/{create,get,update,patch,delete}.go,
pkg/registry/generic/registry/store.go (conflicts, ReturnDeletedObject), and
kubernetes/kubernetes:pkg/registry/core/pod/storage/storage.go (BindingREST) and
pkg/registry/apps/deployment/storage/storage.go (ScaleREST).
"""
import pytest
from django.db import connections

from apiserver.server import bridge
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
STALE = ("the object has been modified; please apply your changes to the latest version "
         "and try again")


@pytest.fixture
def client(db, monkeypatch):
    """Views run inline on the event loop's thread, where Django's thread-critical connection
    storage would open a second connection outside the test's transaction: bind the test's
    own connection (and keep the bridge from closing it) for every request."""
    monkeypatch.setattr(bridge, "close_old_connections", lambda: None)
    ensure_revision_row()
    app, conn = in_process_app()[1], connections["default"]

    def bound(scope, receive, send):
        connections["default"] = conn
        return app(scope, receive, send)
    return ASGIClient(bound)


def configmap(name="x", **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": data or {"a": "1"}}


def pod(name="web"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}}


def deployment(name="web", replicas=2):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}


def failure(resp, code, reason, message=None):
    body = resp.json()
    assert resp.status_code == code, body
    assert (body.get("kind"), body.get("status"), body.get("reason"), body.get("code")) == \
        ("Status", "Failure", reason, code)
    if message is not None:
        assert body["message"] == message
    return body


def names(client, path=CMS):
    return [i["metadata"]["name"] for i in client.get(path).json()["items"]]


# ---- create, get, list, update ------------------------------------------------------------
def test_create_get_and_list(client):
    created = client.post(CMS, configmap())
    assert created.status_code == 201
    obj = created.json()
    meta = obj["metadata"]
    assert (meta["name"], meta["namespace"], obj["data"]) == ("x", "default", {"a": "1"})
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
    got = client.get(CMS + "/x")
    assert got.status_code == 200 and got.json() == obj
    listed = client.get(CMS).json()
    assert (listed["kind"], listed["apiVersion"]) == ("ConfigMapList", "v1")
    assert [i["metadata"]["uid"] for i in listed["items"]] == [meta["uid"]]
    assert int(listed["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])


def test_update_with_the_current_resource_version(client):
    obj = client.post(CMS, configmap()).json()
    obj["data"] = {"a": "2"}
    resp = client.put(CMS + "/x", obj)
    assert resp.status_code == 200
    assert int(resp.json()["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])
    assert client.get(CMS + "/x").json()["data"] == {"a": "2"}


def test_stale_resource_version_is_a_409_and_changes_nothing(client):
    obj = client.post(CMS, configmap()).json()
    stale = dict(obj, data={"a": "stale"})
    obj["data"] = {"a": "2"}
    assert client.put(CMS + "/x", obj).status_code == 200
    body = failure(client.put(CMS + "/x", stale), 409, "Conflict",
                   f'Operation cannot be fulfilled on configmaps "x": {STALE}')
    assert body["details"] == {"name": "x", "kind": "configmaps"}
    patched = client.patch(CMS + "/x", {"metadata": {"resourceVersion": stale["metadata"][
        "resourceVersion"]}, "data": {"a": "stale"}}, MERGE)
    failure(patched, 409, "Conflict", f'Operation cannot be fulfilled on configmaps "x": {STALE}')
    assert client.get(CMS + "/x").json()["data"] == {"a": "2"}


def test_missing_object_is_a_404(client):
    body = failure(client.get(CMS + "/nope"), 404, "NotFound", 'configmaps "nope" not found')
    assert body["details"] == {"name": "nope", "kind": "configmaps"}
    failure(client.put(CMS + "/nope", configmap("nope")), 404, "NotFound",
            'configmaps "nope" not found')
    failure(client.patch(CMS + "/nope", {"data": {}}, MERGE), 404, "NotFound",
            'configmaps "nope" not found')
    failure(client.delete(CMS + "/nope"), 404, "NotFound", 'configmaps "nope" not found')


def test_second_create_is_already_exists(client):
    assert client.post(CMS, configmap()).status_code == 201
    failure(client.post(CMS, configmap(a="other")), 409, "AlreadyExists",
            'configmaps "x" already exists')
    assert client.get(CMS + "/x").json()["data"] == {"a": "1"}


def test_invalid_name_is_422_and_nothing_is_stored(client):
    body = failure(client.post(CMS, configmap("Bad_Name")), 422, "Invalid")
    rule = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    assert body["message"] == f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {rule}'
    assert body["details"] == {"name": "Bad_Name", "kind": "ConfigMap", "causes": [
        {"reason": "FieldValueInvalid", "message": f'Invalid value: "Bad_Name": {rule}',
         "field": "metadata.name"}]}
    assert names(client) == []


# ---- patch --------------------------------------------------------------------------------
def test_merge_json_and_strategic_patches(client):
    client.post(CMS, configmap(a="1", b="2"))
    merged = client.patch(CMS + "/x", {"data": {"a": None, "c": "3"}}, MERGE)
    assert merged.status_code == 200 and merged.json()["data"] == {"b": "2", "c": "3"}
    ops = [{"op": "replace", "path": "/data/b", "value": "20"},
           {"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}]
    jsoned = client.patch(CMS + "/x", ops, "application/json-patch+json")
    assert jsoned.status_code == 200
    assert (jsoned.json()["data"], jsoned.json()["metadata"]["labels"]) == \
        ({"b": "20", "c": "3"}, {"k": "v"})
    strategic = client.patch(CMS + "/x", {"data": {"c": None, "d": "4"}}, STRATEGIC)
    assert strategic.status_code == 200 and strategic.json()["data"] == {"b": "20", "d": "4"}
    assert client.get(CMS + "/x").json()["data"] == {"b": "20", "d": "4"}


def test_strategic_patch_merges_lists_by_key_where_merge_patch_replaces(client):
    """New keyed items go before the server-only ones (apimachinery strategicpatch
    ``mergeSortedSlice``: an item absent from the live list sorts first)."""
    client.post(DEPLOYMENTS, deployment())
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    resp = client.patch(DEPLOYMENTS + "/web", sidecar, STRATEGIC)
    assert resp.status_code == 200
    containers = resp.json()["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["side", "app"]
    resp = client.patch(DEPLOYMENTS + "/web", sidecar, MERGE)
    assert [c["name"] for c in resp.json()["spec"]["template"]["spec"]["containers"]] == ["side"]


def test_apply_creates_and_records_the_field_manager(client):
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n"
    resp = client.patch(CMS + "/applied", doc, APPLY, query={"fieldManager": "mgr"})
    assert resp.status_code == 201
    obj = resp.json()
    assert obj["data"] == {"k": "v"}
    assert [(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]] == \
        [("mgr", "Apply")]
    again = client.patch(CMS + "/applied", doc.replace(b"k: v", b"k: w"), APPLY,
                         query={"fieldManager": "other"})
    failure(again, 409, "Conflict", 'Apply failed with 1 conflict: conflict with "mgr": .data.k')
    forced = client.patch(CMS + "/applied", doc.replace(b"k: v", b"k: w"), APPLY,
                          query={"fieldManager": "other", "force": "true"})
    assert forced.status_code == 200 and forced.json()["data"] == {"k": "w"}


def test_apply_without_field_manager_is_invalid_patch_options(client):
    """handlers/patch.go runs ValidatePatchOptions (apimachinery
    pkg/apis/meta/v1/validation) before touching the object."""
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n"
    body = failure(client.patch(CMS + "/applied", doc, APPLY), 422, "Invalid",
                   'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                   "is required for apply patch")
    assert body["details"]["kind"] == "PatchOptions"
    assert names(client) == []


def test_force_on_a_non_apply_patch_is_invalid_patch_options(client):
    client.post(CMS, configmap())
    failure(client.patch(CMS + "/x", {"data": {"a": "2"}}, MERGE, query={"force": "true"}),
            422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
            "may not be specified for non-apply patch")
    assert client.get(CMS + "/x").json()["data"] == {"a": "1"}


def test_unsupported_patch_content_type_is_415(client):
    client.post(CMS, configmap())
    failure(client.patch(CMS + "/x", b'{"data":{"a":"2"}}', "text/plain"), 415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/strategic-merge-patch+json, application/apply-patch+yaml")
    assert client.get(CMS + "/x").json()["data"] == {"a": "1"}


# ---- delete -------------------------------------------------------------------------------
def test_delete_answers_status_success_with_details(client):
    uid = client.post(CMS, configmap()).json()["metadata"]["uid"]
    resp = client.delete(CMS + "/x")
    assert resp.status_code == 200
    assert resp.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Success",
                           "details": {"name": "x", "kind": "configmaps", "uid": uid}}
    assert client.get(CMS + "/x").status_code == 404


def test_delete_of_a_return_deleted_object_kind_answers_the_object(client):
    uid = client.post(PODS, pod()).json()["metadata"]["uid"]
    resp = client.delete(PODS + "/web")
    assert resp.status_code == 200
    body = resp.json()
    assert (body["kind"], body["metadata"]["name"], body["metadata"]["uid"]) == ("Pod", "web", uid)
    assert client.get(PODS + "/web").status_code == 404


def test_delete_of_a_namespace_answers_it_terminating(client):
    assert client.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "doomed"}}).status_code == 201
    resp = client.delete("/api/v1/namespaces/doomed")
    assert resp.status_code == 200
    body = resp.json()
    assert (body["kind"], body["status"]["phase"]) == ("Namespace", "Terminating")
    assert body["metadata"]["deletionTimestamp"]


# ---- dryRun -------------------------------------------------------------------------------
def test_dry_run_writes_nothing(client):
    resp = client.post(CMS, configmap(), query={"dryRun": "All"})
    assert resp.status_code == 201 and resp.json()["data"] == {"a": "1"}
    assert client.get(CMS + "/x").status_code == 404
    client.post(CMS, configmap())
    assert client.patch(CMS + "/x", {"data": {"a": "2"}}, MERGE,
                        query={"dryRun": "All"}).json()["data"] == {"a": "2"}
    assert client.delete(CMS + "/x", query={"dryRun": "All"}).status_code == 200
    assert client.get(CMS + "/x").json()["data"] == {"a": "1"}
    failure(client.post(CMS, configmap("y"), query={"dryRun": "Some"}), 400, "BadRequest")
    assert names(client) == ["x"]


# ---- Table --------------------------------------------------------------------------------
def test_table_accept_returns_a_table(client):
    client.post(CMS, configmap(a="1", b="2"))
    for path in (CMS, CMS + "/x"):
        resp = client.get(path, headers={"accept": TABLE})
        assert resp.status_code == 200
        table = resp.json()
        assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
        (row,) = table["rows"]
        assert row["cells"][:2] == ["x", 2]
        assert (row["object"]["kind"], row["object"]["metadata"]["name"]) == \
            ("PartialObjectMetadata", "x")


def test_table_include_object_policies(client):
    # kubectl get --sort-by / -o custom-columns ask for ?includeObject=Object
    client.post(CMS, configmap(a="1"))
    for path in (CMS, CMS + "/x"):
        rows = client.get(path, headers={"accept": TABLE},
                          query={"includeObject": "Object"}).json()["rows"]
        assert rows[0]["object"]["kind"] == "ConfigMap"
        assert rows[0]["object"]["apiVersion"] == "v1"
        assert rows[0]["object"]["data"] == {"a": "1"}
        rows = client.get(path, headers={"accept": TABLE},
                          query={"includeObject": "None"}).json()["rows"]
        assert rows[0]["object"] is None and rows[0]["cells"][0] == "x"
        rows = client.get(path, headers={"accept": TABLE},
                          query={"includeObject": "Metadata"}).json()["rows"]
        assert rows[0]["object"]["kind"] == "PartialObjectMetadata"
    failure(client.get(CMS, headers={"accept": TABLE}, query={"includeObject": "All"}),
            400, "BadRequest",
            'includeObject: Invalid value: "All": must be \'Metadata\', \'Object\', '
            "'None', or empty")


# ---- pods/binding -------------------------------------------------------------------------
def binding(node):
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def test_binding_assigns_the_pod_once(client):
    client.post(PODS, pod())
    resp = client.post(PODS + "/web/binding", binding("node-1"))
    assert resp.status_code == 201
    assert resp.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Success", "code": 201}
    assert client.get(PODS + "/web").json()["spec"]["nodeName"] == "node-1"
    failure(client.post(PODS + "/web/binding", binding("node-2")), 409, "Conflict",
            'Operation cannot be fulfilled on pods/binding "web": '
            'pod web is already assigned to node "node-1"')
    assert client.get(PODS + "/web").json()["spec"]["nodeName"] == "node-1"


def test_binding_of_a_missing_pod_is_404(client):
    failure(client.post(PODS + "/ghost/binding", dict(binding("n"), metadata={"name": "ghost"})),
            404, "NotFound", 'pods "ghost" not found')


def test_get_on_a_create_only_subresource_is_405(client):
    client.post(PODS, pod())
    failure(client.get(PODS + "/web/binding"), 405, "MethodNotAllowed")
    assert "nodeName" not in client.get(PODS + "/web").json()["spec"]


# ---- /scale -------------------------------------------------------------------------------
def test_scale_get_and_put_on_a_deployment(client):
    created = client.post(DEPLOYMENTS, deployment(replicas=2)).json()
    scale = client.get(DEPLOYMENTS + "/web/scale")
    assert scale.status_code == 200
    s = scale.json()
    assert (s["kind"], s["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert (s["metadata"]["name"], s["metadata"]["uid"]) == ("web", created["metadata"]["uid"])
    assert s["spec"] == {"replicas": 2}
    assert s["status"] == {"replicas": 0, "selector": "app=web"}
    s["spec"]["replicas"] = 5
    put = client.put(DEPLOYMENTS + "/web/scale", s)
    assert put.status_code == 200 and put.json()["spec"] == {"replicas": 5}
    assert client.get(DEPLOYMENTS + "/web").json()["spec"]["replicas"] == 5
    # the old Scale's resourceVersion is stale now
    failure(client.put(DEPLOYMENTS + "/web/scale", dict(s, spec={"replicas": 7})), 409,
            "Conflict", f'Operation cannot be fulfilled on deployments.apps "web": {STALE}')
    fresh = client.get(DEPLOYMENTS + "/web/scale").json()
    failure(client.put(DEPLOYMENTS + "/web/scale", dict(fresh, spec={"replicas": -1})), 422,
            "Invalid", 'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
            "must be greater than or equal to 0")
    assert client.get(DEPLOYMENTS + "/web").json()["spec"]["replicas"] == 5
