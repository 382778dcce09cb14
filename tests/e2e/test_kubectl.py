"""kubectl 1.32 against a real ``manage.py up``: output and error messages as a real cluster
prints them.  (Imperative ``kubectl create configmap …`` sends protobuf and is not covered.)"""
from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def cm(name, namespace=None, data=None, labels=None, annotations=None, **meta) -> dict:
    metadata = {"name": name, **meta}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    if data is not None:
        obj["data"] = data
    return obj


def manifest(*objs) -> str:
    # every scalar double-quoted: kubectl's YAML 1.1 would read a bare y/n/on as a bool
    return "\n---\n".join(yaml.safe_dump(o, default_style='"') for o in objs)


def get_json(kubectl, *args) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def stderr_line(cp) -> str:
    return cp.stderr.strip()


# --- discovery-level commands --------------------------------------------------------------

def test_get_namespaces_lists_system_namespaces(kubectl):
    out = kubectl("get", "ns").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert rows.get(name) == "Active", out
    names = kubectl("get", "ns", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public",
            "namespace/kube-node-lease"} <= set(names)


def test_api_resources_and_versions(kubectl):
    out = kubectl("api-resources").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["configmaps"] == ["configmaps", "cm", "v1", "true", "ConfigMap"]
    assert rows["namespaces"] == ["namespaces", "ns", "v1", "false", "Namespace"]
    # subresources are not listed by api-resources
    assert not any("/" in name for name in rows)

    wide = kubectl("api-resources", "-o", "wide").stdout
    cm_row = next(line for line in wide.splitlines() if line.startswith("configmaps "))
    assert "create,delete,deletecollection,get,list,patch,update,watch" in cm_row.replace(" ", "") \
        or "[create delete deletecollection get list patch update watch]" in cm_row, cm_row

    versions = kubectl("api-versions").stdout.split()
    assert "v1" in versions


def test_get_raw_version(kubectl):
    v = json.loads(kubectl("get", "--raw", "/version").stdout)
    assert v["major"] == "1"
    assert v["minor"] == "32"
    assert v["gitVersion"].startswith("v1.32.")


def test_explain_configmap(kubectl):
    out = kubectl("explain", "configmap.data").stdout
    assert re.search(r"^KIND:\s+ConfigMap$", out, re.M), out
    assert re.search(r"^VERSION:\s+v1$", out, re.M), out
    assert re.search(r"^FIELD:\s+data\s+<map\[string\]string>$", out, re.M), out
    assert "DESCRIPTION:" in out

    out = kubectl("explain", "configmap").stdout
    assert re.search(r"^KIND:\s+ConfigMap$", out, re.M), out
    assert "FIELDS:" in out
    for field in ("apiVersion", "binaryData", "data", "immutable", "kind", "metadata"):
        assert re.search(rf"^\s+{field}\s+<", out, re.M), (field, out)


# --- create / get ---------------------------------------------------------------------------

def test_create_configmap_then_get_json(kubectl, namespace):
    cp = kubectl("create", "-f", "-", input=manifest(cm("c1", namespace, {"a": "1", "b": "two"})))
    assert cp.stdout.strip() == "configmap/c1 created"

    obj = get_json(kubectl, "cm", "c1", "-n", namespace)
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    meta = obj["metadata"]
    assert meta["name"] == "c1" and meta["namespace"] == namespace
    assert UUID.match(meta["uid"]), meta
    assert RFC3339.match(meta["creationTimestamp"]), meta
    assert meta["resourceVersion"].isdigit() and int(meta["resourceVersion"]) > 0
    assert "managedFields" not in meta
    assert obj["data"] == {"a": "1", "b": "two"}

    shown = get_json(kubectl, "cm", "c1", "-n", namespace, "--show-managed-fields")
    mf = shown["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"], m["apiVersion"], m["fieldsType"]) for m in mf] == \
        [("kubectl-create", "Update", "v1", "FieldsV1")]
    assert set(mf[0]["fieldsV1"]["f:data"]) == {".", "f:a", "f:b"}


def test_create_namespace(kubectl):
    name = f"e2e-ns-{uuid.uuid4().hex[:8]}"
    cp = kubectl("create", "-f", "-", input=manifest(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    assert cp.stdout.strip() == f"namespace/{name} created"
    try:
        obj = get_json(kubectl, "ns", name)
        assert obj["status"]["phase"] == "Active"
        assert obj["spec"]["finalizers"] == ["kubernetes"]
        assert obj["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
        assert kubectl("get", "ns", name, "-o", "name").stdout.strip() == f"namespace/{name}"
    finally:
        kubectl("delete", "ns", name, "--wait=false", check=False)


def test_get_output_formats(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(
        cm("fmt", namespace, {"k1": "v1", "k2": "v2"}, labels={"app": "fmt"})))

    y = yaml.safe_load(kubectl("get", "cm", "fmt", "-n", namespace, "-o", "yaml").stdout)
    assert y["kind"] == "ConfigMap" and y["metadata"]["name"] == "fmt"
    assert y["data"] == {"k1": "v1", "k2": "v2"}
    assert "managedFields" not in y["metadata"]

    j = json.loads(kubectl("get", "cm", "fmt", "-n", namespace, "-o", "json").stdout)
    assert j["metadata"]["labels"] == {"app": "fmt"}
    assert j["metadata"]["resourceVersion"] == y["metadata"]["resourceVersion"]

    lst = json.loads(kubectl("get", "cm", "-n", namespace, "-o", "json").stdout)
    assert lst["kind"] == "List" and lst["apiVersion"] == "v1"
    assert "fmt" in [i["metadata"]["name"] for i in lst["items"]]
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in lst["items"])

    table = kubectl("get", "cm", "fmt", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert table[1].split()[:2] == ["fmt", "2"]

    wide = kubectl("get", "cm", "fmt", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:3] == ["NAME", "DATA", "AGE"]
    assert wide[1].split()[:2] == ["fmt", "2"]

    labels = kubectl("get", "cm", "fmt", "-n", namespace, "--show-labels").stdout.splitlines()
    assert labels[0].split() == ["NAME", "DATA", "AGE", "LABELS"]
    assert labels[1].split()[-1] == "app=fmt"

    assert kubectl("get", "cm", "fmt", "-n", namespace, "-o", "name").stdout.strip() == "configmap/fmt"
    jp = kubectl("get", "cm", "fmt", "-n", namespace, "-o", "jsonpath={.data.k2}").stdout
    assert jp == "v2"

    allns = kubectl("get", "cm", "-A", "--field-selector", f"metadata.namespace={namespace}").stdout
    header, *rows = allns.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert [namespace, "fmt", "2"] in [r.split()[:3] for r in rows]


def test_get_sort_by_reads_the_whole_objects(kubectl, namespace):
    # --sort-by asks for a Table with ?includeObject=Object and sorts on the objects
    kubectl("create", "-f", "-", input=manifest(
        cm("b-second", namespace, {"rank": "2"}), cm("a-third", namespace, {"rank": "3"}),
        cm("c-first", namespace, {"rank": "1"})))
    out = kubectl("get", "cm", "-n", namespace, "-l", "!nothing",
                  "--field-selector", "metadata.name!=kube-root-ca.crt",
                  "--sort-by", ".data.rank").stdout.splitlines()
    assert out[0].split() == ["NAME", "DATA", "AGE"]
    assert [line.split()[0] for line in out[1:]] == ["c-first", "b-second", "a-third"]
    columns = kubectl("get", "cm", "-n", namespace, "c-first", "--sort-by", ".data.rank",
                      "-o", "custom-columns=NAME:.metadata.name,RANK:.data.rank").stdout
    assert columns.split() == ["NAME", "RANK", "c-first", "1"]


def test_get_empty_namespace_says_no_resources(kubectl, namespace):
    cp = kubectl("get", "cm", "-n", namespace, "-l", "nothing=here")
    assert cp.stdout == ""
    assert stderr_line(cp) == f"No resources found in {namespace} namespace."


def test_get_raw_list(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(cm("raw1", namespace, {"x": "y"})))
    lst = json.loads(kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/configmaps").stdout)
    assert lst["kind"] == "ConfigMapList" and lst["apiVersion"] == "v1"
    assert lst["metadata"]["resourceVersion"].isdigit()
    item = next(i for i in lst["items"] if i["metadata"]["name"] == "raw1")
    assert item["data"] == {"x": "y"}
    assert int(lst["metadata"]["resourceVersion"]) >= int(item["metadata"]["resourceVersion"])


# --- apply ----------------------------------------------------------------------------------

def test_client_side_apply_created_unchanged_configured(kubectl, namespace):
    m1 = manifest(cm("ap", namespace, {"a": "1", "b": "2"}))
    assert kubectl("apply", "-f", "-", input=m1).stdout.strip() == "configmap/ap created"
    rv1 = get_json(kubectl, "cm", "ap", "-n", namespace)["metadata"]["resourceVersion"]

    assert kubectl("apply", "-f", "-", input=m1).stdout.strip() == "configmap/ap unchanged"
    assert get_json(kubectl, "cm", "ap", "-n", namespace)["metadata"]["resourceVersion"] == rv1

    m2 = manifest(cm("ap", namespace, {"a": "10", "c": "3"}))   # b removed, a changed, c added
    assert kubectl("apply", "-f", "-", input=m2).stdout.strip() == "configmap/ap configured"
    obj = get_json(kubectl, "cm", "ap", "-n", namespace)
    assert obj["data"] == {"a": "10", "c": "3"}
    assert int(obj["metadata"]["resourceVersion"]) > int(rv1)
    last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"a": "10", "c": "3"}

    managers = {m["manager"] for m in get_json(kubectl, "cm", "ap", "-n", namespace,
                                               "--show-managed-fields")["metadata"]["managedFields"]}
    assert managers == {"kubectl-client-side-apply"}


def test_server_side_apply_create_update_conflict_force(kubectl, namespace):
    def ssa(data, *extra, check=True):
        return kubectl("apply", "--server-side", *extra, "-f", "-",
                       input=manifest(cm("ssa", namespace, data)), check=check)

    assert ssa({"a": "1", "b": "1"}).stdout.strip() == "configmap/ssa serverside-applied"
    obj = get_json(kubectl, "cm", "ssa", "-n", namespace, "--show-managed-fields")
    assert obj["data"] == {"a": "1", "b": "1"}
    mf = obj["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in mf] == [("kubectl", "Apply")]
    assert set(mf[0]["fieldsV1"]["f:data"]) - {"."} == {"f:a", "f:b"}

    # update by the same manager; dropping b removes it (the manager owned it)
    assert ssa({"a": "2"}).stdout.strip() == "configmap/ssa serverside-applied"
    assert get_json(kubectl, "cm", "ssa", "-n", namespace)["data"] == {"a": "2"}

    # another manager changes a field owned by "kubectl"
    kubectl("patch", "cm", "ssa", "-n", namespace, "--type=merge", "-p", '{"data":{"a":"patched"}}')

    cp = ssa({"a": "3"}, check=False)
    assert cp.returncode != 0
    assert "Apply failed with 1 conflict: conflict with \"kubectl-patch\"" in cp.stderr, cp.stderr
    assert ".data.a" in cp.stderr, cp.stderr
    assert get_json(kubectl, "cm", "ssa", "-n", namespace)["data"] == {"a": "patched"}

    assert ssa({"a": "3"}, "--force-conflicts").stdout.strip() == "configmap/ssa serverside-applied"
    obj = get_json(kubectl, "cm", "ssa", "-n", namespace, "--show-managed-fields")
    assert obj["data"] == {"a": "3"}
    owners = {m["manager"]: m.get("fieldsV1", {}) for m in obj["metadata"]["managedFields"]}
    assert "f:a" in owners["kubectl"]["f:data"]
    assert "f:a" not in owners.get("kubectl-patch", {}).get("f:data", {})


def test_apply_dry_run_server_stores_nothing(kubectl, namespace):
    m = manifest(cm("dry", namespace, {"a": "1"}))
    cp = kubectl("create", "--dry-run=server", "-f", "-", input=m)
    assert cp.stdout.strip() == "configmap/dry created (server dry run)"
    cp = kubectl("get", "cm", "dry", "-n", namespace, check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == 'Error from server (NotFound): configmaps "dry" not found'

    cp = kubectl("apply", "--dry-run=server", "-f", "-", input=m)
    assert cp.stdout.strip() == "configmap/dry created (server dry run)"
    assert kubectl("get", "cm", "dry", "-n", namespace, check=False).returncode == 1

    # dry-run on an existing object changes nothing either
    kubectl("create", "-f", "-", input=m)
    rv = get_json(kubectl, "cm", "dry", "-n", namespace)["metadata"]["resourceVersion"]
    kubectl("apply", "--dry-run=server", "-f", "-", input=manifest(cm("dry", namespace, {"a": "2"})))
    obj = get_json(kubectl, "cm", "dry", "-n", namespace)
    assert obj["data"] == {"a": "1"} and obj["metadata"]["resourceVersion"] == rv


def test_diff(kubectl, namespace):
    kubectl("apply", "-f", "-", input=manifest(cm("df", namespace, {"a": "1", "b": "2"})))
    same = kubectl("diff", "-f", "-", input=manifest(cm("df", namespace, {"a": "1", "b": "2"})),
                   check=False)
    assert same.returncode == 0, same.stderr
    assert same.stdout == ""

    changed = kubectl("diff", "-f", "-", input=manifest(cm("df", namespace, {"a": "9", "b": "2"})),
                      check=False)
    assert changed.returncode == 1, changed.stderr
    assert re.search(r'^-\s+a: "1"$', changed.stdout, re.M), changed.stdout
    assert re.search(r'^\+\s+a: "9"$', changed.stdout, re.M), changed.stdout
    assert not re.search(r'^[-+]\s+b: ', changed.stdout, re.M), changed.stdout
    # diff is a dry run: nothing stored
    assert get_json(kubectl, "cm", "df", "-n", namespace)["data"] == {"a": "1", "b": "2"}

    new = kubectl("diff", "-f", "-", input=manifest(cm("df-new", namespace, {"z": "1"})), check=False)
    assert new.returncode == 1, new.stderr
    assert re.search(r'^\+\s+z: "1"$', new.stdout, re.M), new.stdout
    assert kubectl("get", "cm", "df-new", "-n", namespace, check=False).returncode == 1


# --- replace / patch / label / annotate / delete --------------------------------------------

def test_replace(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(cm("rp", namespace, {"a": "1"})))
    cp = kubectl("replace", "-f", "-", input=manifest(cm("rp", namespace, {"b": "2"})))
    assert cp.stdout.strip() == "configmap/rp replaced"
    obj = get_json(kubectl, "cm", "rp", "-n", namespace)
    assert obj["data"] == {"b": "2"}

    # with the current resourceVersion it succeeds too
    obj["data"] = {"c": "3"}
    assert kubectl("replace", "-f", "-", input=json.dumps(obj)).stdout.strip() == "configmap/rp replaced"

    # the old resourceVersion is now stale: 409 Conflict
    obj["data"] = {"d": "4"}
    cp = kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == (
        'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled '
        'on configmaps "rp": the object has been modified; please apply your changes to the latest '
        'version and try again')
    assert get_json(kubectl, "cm", "rp", "-n", namespace)["data"] == {"c": "3"}


def test_patch_types(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(cm("pt", namespace, {"a": "1", "b": "2"})))

    cp = kubectl("patch", "cm", "pt", "-n", namespace, "--type=json",
                 "-p", '[{"op":"add","path":"/data/c","value":"3"},{"op":"remove","path":"/data/a"}]')
    assert cp.stdout.strip() == "configmap/pt patched"
    assert get_json(kubectl, "cm", "pt", "-n", namespace)["data"] == {"b": "2", "c": "3"}

    cp = kubectl("patch", "cm", "pt", "-n", namespace, "--type=merge",
                 "-p", '{"data":{"b":null,"d":"4"}}')
    assert cp.stdout.strip() == "configmap/pt patched"
    assert get_json(kubectl, "cm", "pt", "-n", namespace)["data"] == {"c": "3", "d": "4"}

    # default type: strategic merge patch
    cp = kubectl("patch", "cm", "pt", "-n", namespace, "-p",
                 '{"metadata":{"labels":{"l":"v"}},"data":{"e":"5"}}')
    assert cp.stdout.strip() == "configmap/pt patched"
    obj = get_json(kubectl, "cm", "pt", "-n", namespace)
    assert obj["data"] == {"c": "3", "d": "4", "e": "5"}
    assert obj["metadata"]["labels"] == {"l": "v"}

    # a patch that changes nothing does not write
    rv = obj["metadata"]["resourceVersion"]
    cp = kubectl("patch", "cm", "pt", "-n", namespace, "--type=merge", "-p", '{"data":{"e":"5"}}')
    assert cp.stdout.strip() == "configmap/pt patched (no change)"
    assert get_json(kubectl, "cm", "pt", "-n", namespace)["metadata"]["resourceVersion"] == rv

    # a JSON patch test op that fails is 422 (printed as real kubectl does), and changes nothing
    cp = kubectl("patch", "cm", "pt", "-n", namespace, "--type=json",
                 "-p", '[{"op":"test","path":"/data/e","value":"nope"}]', check=False)
    assert cp.returncode == 1
    assert cp.stderr.startswith("The request is invalid"), cp.stderr
    assert get_json(kubectl, "cm", "pt", "-n", namespace)["metadata"]["resourceVersion"] == rv


def test_label_and_annotate_overwrite_rules(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(cm("lb", namespace, {"a": "1"})))

    cp = kubectl("label", "cm", "lb", "-n", namespace, "app=x")
    assert cp.stdout.strip() == "configmap/lb labeled"
    cp = kubectl("label", "cm", "lb", "-n", namespace, "app=y", check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == "error: 'app' already has a value (x), and --overwrite is false"
    assert get_json(kubectl, "cm", "lb", "-n", namespace)["metadata"]["labels"] == {"app": "x"}

    assert kubectl("label", "cm", "lb", "-n", namespace, "app=y", "--overwrite").stdout.strip() \
        == "configmap/lb labeled"
    assert get_json(kubectl, "cm", "lb", "-n", namespace)["metadata"]["labels"] == {"app": "y"}
    kubectl("label", "cm", "lb", "-n", namespace, "app-")
    assert not get_json(kubectl, "cm", "lb", "-n", namespace)["metadata"].get("labels")

    cp = kubectl("annotate", "cm", "lb", "-n", namespace, "note=x")
    assert cp.stdout.strip() == "configmap/lb annotated"
    cp = kubectl("annotate", "cm", "lb", "-n", namespace, "note=y", check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == ("error: --overwrite is false but found the following declared "
                               "annotation(s): 'note' already has a value (x)")
    kubectl("annotate", "cm", "lb", "-n", namespace, "note=y", "--overwrite")
    assert get_json(kubectl, "cm", "lb", "-n", namespace)["metadata"]["annotations"] == {"note": "y"}

    managers = {m["manager"] for m in get_json(kubectl, "cm", "lb", "-n", namespace,
                                               "--show-managed-fields")["metadata"]["managedFields"]}
    assert {"kubectl-create", "kubectl-annotate"} <= managers


def test_delete(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(cm("del", namespace), cm("del2", namespace)))
    cp = kubectl("delete", "cm", "del", "-n", namespace)
    assert cp.stdout.strip() == 'configmap "del" deleted'
    cp = kubectl("get", "cm", "del", "-n", namespace, check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == 'Error from server (NotFound): configmaps "del" not found'

    cp = kubectl("delete", "-f", "-", input=manifest(cm("del2", namespace)))
    assert cp.stdout.strip() == 'configmap "del2" deleted'

    cp = kubectl("delete", "cm", "del", "-n", namespace, check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == 'Error from server (NotFound): configmaps "del" not found'
    cp = kubectl("delete", "cm", "del", "-n", namespace, "--ignore-not-found")
    assert cp.returncode == 0 and cp.stdout == ""


# --- selectors ------------------------------------------------------------------------------

def test_label_and_field_selectors(kubectl, namespace):
    kubectl("create", "-f", "-", input=manifest(
        cm("sa", namespace, labels={"app": "x", "tier": "web"}),
        cm("sb", namespace, labels={"app": "y"}),
        cm("sc", namespace, labels={"app": "z"}),
        cm("sd", namespace)))

    def names(*args):
        out = kubectl("get", "cm", "-n", namespace, "-o", "name", *args).stdout.split()
        return sorted(n.removeprefix("configmap/") for n in out)

    assert names("-l", "app=x") == ["sa"]
    assert names("-l", "app==x") == ["sa"]
    assert names("-l", "app in (x,y)") == ["sa", "sb"]
    assert names("-l", "app notin (x,y)") == ["sc", "sd"]
    assert names("-l", "!app") == ["sd"]
    assert names("-l", "app") == ["sa", "sb", "sc"]
    assert names("-l", "app!=x") == ["sb", "sc", "sd"]
    assert names("-l", "app=x,tier=web") == ["sa"]
    assert names("-l", "app=y,tier=web") == []
    assert names("--field-selector", "metadata.name=sb") == ["sb"]
    assert names("--field-selector", "metadata.name!=sb") == ["sa", "sc", "sd"]
    assert names("--field-selector", "metadata.name=sb", "-l", "app=x") == []

    cp = kubectl("get", "cm", "-n", namespace, "--field-selector", "data.x=y", check=False)
    assert cp.returncode == 1
    assert cp.stderr.startswith("Error from server (BadRequest):"), cp.stderr
    assert '"data.x" is not a known field selector' in cp.stderr, cp.stderr


# --- paging ---------------------------------------------------------------------------------

PAGED = 1200


@pytest.fixture(scope="module")
def paged_namespace(server, client):
    from kubernetes import client as k

    name = f"e2e-paged-{uuid.uuid4().hex[:8]}"
    v1 = k.CoreV1Api(client)
    v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def create(i):
        v1.create_namespaced_config_map(name, {"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": f"cm-{i:04d}"},
                                               "data": {"i": str(i)}})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(PAGED)))
    yield name
    server.request("DELETE", f"/api/v1/namespaces/{name}")


def test_kubectl_get_follows_chunks(kubectl, paged_namespace):
    out = kubectl("get", "cm", "-n", paged_namespace, "--chunk-size=500", "-o", "name").stdout.split()
    assert len(out) == PAGED
    assert len(set(out)) == PAGED
    assert set(out) == {f"configmap/cm-{i:04d}" for i in range(PAGED)}

    out0 = kubectl("get", "cm", "-n", paged_namespace, "--chunk-size=0", "-o", "name").stdout.split()
    assert sorted(out0) == sorted(out)

    table = kubectl("get", "cm", "-n", paged_namespace).stdout.splitlines()   # default chunk 500
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert len(table) == PAGED + 1


def test_raw_list_pages_with_continue(server, paged_namespace):
    base = f"/api/v1/namespaces/{paged_namespace}/configmaps"
    full = server.get_json(base)
    full_names = [i["metadata"]["name"] for i in full["items"]]
    assert len(full_names) == PAGED
    assert "continue" not in full["metadata"] or full["metadata"]["continue"] == ""

    pages, token = [], None
    while True:
        path = f"{base}?limit=500" + (f"&continue={token}" if token else "")
        page = server.get_json(path)
        pages.append(page)
        token = page["metadata"].get("continue")
        if not token:
            break
        assert len(pages) < 10, "paging does not terminate"
    assert [len(p["items"]) for p in pages] == [500, 500, 200]
    # every page is served at the first page's resourceVersion
    assert len({p["metadata"]["resourceVersion"] for p in pages}) == 1
    names = [i["metadata"]["name"] for p in pages for i in p["items"]]
    assert len(names) == len(set(names)) == PAGED
    assert names == full_names == sorted(full_names)


def test_raw_list_remaining_item_count(server, paged_namespace):
    """kube-apiserver reports remainingItemCount on pages of a selector-free list."""
    base = f"/api/v1/namespaces/{paged_namespace}/configmaps"
    first = server.get_json(f"{base}?limit=500")
    assert first["metadata"].get("remainingItemCount") == PAGED - 500, first["metadata"]
    second = server.get_json(f"{base}?limit=500&continue={first['metadata']['continue']}")
    assert second["metadata"].get("remainingItemCount") == PAGED - 1000, second["metadata"]
    third = server.get_json(f"{base}?limit=500&continue={second['metadata']['continue']}")
    assert "remainingItemCount" not in third["metadata"], third["metadata"]
    assert not third["metadata"].get("continue")


# --- errors as a real cluster prints them -----------------------------------------------------

def test_error_not_found(kubectl, namespace):
    cp = kubectl("get", "cm", "nope", "-n", namespace, check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == 'Error from server (NotFound): configmaps "nope" not found'
    cp = kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/configmaps/nope", check=False)
    assert cp.returncode == 1
    assert 'Error from server (NotFound)' in cp.stderr, cp.stderr


def test_error_already_exists(kubectl, namespace):
    m = manifest(cm("c", namespace, {"a": "1"}))
    kubectl("create", "-f", "-", input=m)
    cp = kubectl("create", "-f", "-", input=m, check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == \
        'Error from server (AlreadyExists): error when creating "STDIN": configmaps "c" already exists'


def test_error_invalid_name(kubectl, namespace):
    cp = kubectl("create", "-f", "-", input=manifest(cm("Bad_Name", namespace)), check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == (
        'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is "
        r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def test_error_namespace_missing(kubectl):
    cp = kubectl("create", "-f", "-", input=manifest(cm("c", "ghost")), check=False)
    assert cp.returncode == 1
    assert stderr_line(cp) == \
        'Error from server (NotFound): error when creating "STDIN": namespaces "ghost" not found'
    cp = kubectl("apply", "-f", "-", input=manifest(cm("c", "ghost")), check=False)
    assert cp.returncode == 1
    assert 'namespaces "ghost" not found' in cp.stderr, cp.stderr


def test_error_strict_field_validation(kubectl, namespace):
    bad = cm("strict", namespace, {"a": "1"})
    bad["bogus"] = 1
    cp = kubectl("create", "-f", "-", input=manifest(bad), check=False)
    assert cp.returncode == 1
    assert 'unknown field "bogus"' in cp.stderr, cp.stderr
    assert kubectl("get", "cm", "strict", "-n", namespace, check=False).returncode == 1


# --- namespace deletion ----------------------------------------------------------------------

def test_delete_namespace_removes_contents(kubectl, server):
    name = f"e2e-del-{uuid.uuid4().hex[:8]}"
    kubectl("create", "-f", "-", input=manifest(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        cm("one", name), cm("two", name), cm("three", name)))
    assert len(kubectl("get", "cm", "-n", name, "-o", "name").stdout.split()) >= 3

    cp = kubectl("delete", "ns", name, "--wait=false")
    assert cp.stdout.strip() == f'namespace "{name}" deleted'

    deadline = time.monotonic() + 20
    gone = False
    while time.monotonic() < deadline:
        status, _, body = server.request("GET", f"/api/v1/namespaces/{name}")
        if status == 404:
            gone = True
            break
        assert status == 200, body
        ns = json.loads(body)
        assert ns["status"]["phase"] == "Terminating", ns
        assert ns["metadata"].get("deletionTimestamp"), ns
        time.sleep(0.2)
    assert gone, f"namespace {name} still present after 20 s"
    lst = server.get_json(f"/api/v1/namespaces/{name}/configmaps")
    assert lst["items"] == []
    cp = kubectl("get", "ns", name, check=False)
    assert stderr_line(cp) == f'Error from server (NotFound): namespaces "{name}" not found'


def test_delete_namespace_waits_until_gone(kubectl):
    name = f"e2e-wait-{uuid.uuid4().hex[:8]}"
    kubectl("create", "-f", "-", input=manifest(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, cm("x", name)))
    t0 = time.monotonic()
    cp = kubectl("delete", "ns", name, "--timeout=20s", timeout=40)
    assert cp.stdout.strip() == f'namespace "{name}" deleted'
    assert time.monotonic() - t0 < 20
    assert kubectl("get", "ns", name, check=False).returncode == 1
