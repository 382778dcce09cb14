"""The /openapi/v3 documents: what kubectl looks for in them
(kubernetes/cli-runtime:pkg/resource/query_param_verifier_v3.go,
kubernetes/kubectl:pkg/cmd/apply/patcher.go, kubernetes/kubectl:pkg/explain/v2/templates/plaintext.tmpl)."""
from __future__ import annotations

import re

import orjson
import pytest

from apiserver.openapi import documents
from apiserver.openapi.documents import (OpenAPIDocuments, document_hash, group_version_document,
                                         root_document)
from apiserver.registry.strategy import STATUS, Scale, Strategy, Subresource
from apiserver.runtime.scheme import Scheme

SMP = "application/strategic-merge-patch+json"
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json",
               "application/apply-patch+yaml"}


class PodLike(Strategy):
    group, version, kind, plural = "", "v1", "Pod", "pods"
    subresources = (STATUS, Subresource("binding", verbs=("create",), kind=("", "v1", "Binding"),
                                        schema_name="io.k8s.api.core.v1.Binding"))
    schema_name = "io.k8s.api.core.v1.Pod"


class NamespaceLike(Strategy):
    group, version, kind, plural = "", "v1", "Namespace", "namespaces"
    namespaced = False
    subresources = (STATUS,)
    schema_name = "io.k8s.api.core.v1.Namespace"


class ReadOnlyEvents(Strategy):
    group, version, kind, plural = "", "v1", "ComponentStatus", "componentstatuses"
    namespaced = False
    verbs = ("get", "list")
    schema_name = "io.k8s.api.core.v1.ComponentStatus"


class DeploymentLike(Strategy):
    group, version, kind, plural = "apps", "v1", "Deployment", "deployments"
    subresources = (STATUS, Scale())
    schema_name = "io.k8s.api.apps.v1.Deployment"


class WidgetLike(Strategy):
    """A kind with no built-in definition (as a custom resource would be)."""
    group, version, kind, plural = "example.com", "v1", "Widget", "widgets"


@pytest.fixture(scope="module")
def scheme():
    s = Scheme()
    for cls in (PodLike, NamespaceLike, ReadOnlyEvents, DeploymentLike, WidgetLike):
        s.register(cls)
    return s


@pytest.fixture(scope="module")
def core(scheme):
    return orjson.loads(group_version_document(scheme, "", "v1"))


@pytest.fixture(scope="module")
def apps(scheme):
    return orjson.loads(group_version_document(scheme, "apps", "v1"))


@pytest.fixture(scope="module")
def widgets(scheme):
    return orjson.loads(group_version_document(scheme, "example.com", "v1"))


def _param(doc, param):
    """Resolve a parameter that may be a reference (kubectl accepts both forms)."""
    ref = param.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return doc["components"]["parameters"][name]
    return param


def _op_param_names(doc, op, where="query"):
    return {p["name"] for p in map(lambda x: _param(doc, x), op.get("parameters", []))
            if p["in"] == where}


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# ---- what kubectl apply needs ----------------------------------------------------------------

def test_pod_patch_operation_carries_gvk_field_validation_and_smp(core):
    op = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert op["x-kubernetes-action"] == "patch"
    assert op["operationId"] == "patchCoreV1NamespacedPod"
    # kubectl reads the operation's own parameters, not the path item's
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= _op_param_names(core, op)
    content = op["requestBody"]["content"]
    assert SMP in content
    assert PATCH_TYPES <= set(content)


def test_every_patch_operation_has_field_validation(core, apps, widgets):
    count = 0
    for doc in (core, apps, widgets):
        for path, item in doc["paths"].items():
            if "patch" in item:
                count += 1
                assert "fieldValidation" in _op_param_names(doc, item["patch"]), path
    assert count >= 7  # pods, pods/status, namespaces(+status), deployments(+status,+scale), widgets


def test_custom_kind_patch_offers_no_strategic_merge_patch(widgets):
    op = widgets["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "example.com", "version": "v1",
                                                     "kind": "Widget"}
    assert SMP not in op["requestBody"]["content"]
    assert PATCH_TYPES <= set(op["requestBody"]["content"])
    schema = widgets["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "version": "v1", "kind": "Widget"}]


# ---- what kubectl explain and the SMP builder need -----------------------------------------------

def test_pod_schema_has_gvk_list_and_patch_merge_keys(core):
    schemas = core["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]
    assert pod["type"] == "object"
    assert "enum" not in pod["properties"]["apiVersion"]
    spec = pod["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    assert spec["description"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert schemas["io.k8s.api.core.v1.PodList"]["x-kubernetes-group-version-kind"][0]["kind"] \
        == "PodList"
    annotations = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"][
        "annotations"]
    assert annotations["type"] == "object"
    assert annotations["additionalProperties"] == {"type": "string"}


def test_meta_types_for_operations_are_present(core, apps):
    for doc in (core, apps):
        names = set(doc["components"]["schemas"])
        for meta in ("Status", "DeleteOptions", "Patch", "ObjectMeta", "ListMeta"):
            assert "io.k8s.apimachinery.pkg.apis.meta.v1." + meta in names
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]
    assert "io.k8s.api.core.v1.Binding" in core["components"]["schemas"]


def test_int_or_string_and_quantity_use_openapi3_forms(core, apps):
    ios = apps["components"]["schemas"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["format"] == "int-or-string"
    assert {"type": "integer"} in ios["oneOf"] and {"type": "string"} in ios["oneOf"]
    qty = core["components"]["schemas"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert {"type": "string"} in qty["oneOf"] and {"type": "number"} in qty["oneOf"]


@pytest.mark.parametrize("which", ["core", "apps", "widgets"])
def test_every_ref_resolves_in_components_and_no_json_schema_leftovers(which, request):
    doc = request.getfixturevalue(which)
    names = set(doc["components"]["schemas"])
    refs = 0
    for node in _walk(doc):
        if isinstance(node, dict) and "$ref" in node:
            refs += 1
            ref = node["$ref"]
            assert ref.startswith("#/components/schemas/"), ref
            assert ref[len("#/components/schemas/"):] in names, ref
        if isinstance(node, dict) and "type" in node and not isinstance(node.get("in"), str):
            # schema nodes only: a property literally named "type" is a dict, not a string
            assert not isinstance(node["type"], list), node
    assert refs > 10
    assert b"$defs" not in orjson.dumps(doc)


# ---- paths and operations -----------------------------------------------------------------------

def test_core_paths_and_actions(core):
    paths = core["paths"]
    collection = paths["/api/v1/namespaces/{namespace}/pods"]
    assert {k for k in collection if k != "parameters"} == {"get", "post", "delete"}
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert {"labelSelector", "fieldSelector", "limit", "continue", "watch",
            "resourceVersion"} <= _op_param_names(core, collection["get"])
    assert collection["post"]["x-kubernetes-action"] == "post"
    assert "fieldValidation" in _op_param_names(core, collection["post"])
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert collection["post"]["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}
    assert collection["get"]["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodList"}

    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert {k for k in item if k != "parameters"} == {"get", "put", "patch", "delete"}
    assert {item[m]["x-kubernetes-action"] for m in ("get", "put", "patch", "delete")} == \
        {"get", "put", "patch", "delete"}
    assert {p["name"] for p in item["parameters"] if p["in"] == "path"} == {"name", "namespace"}

    all_ns = paths["/api/v1/pods"]
    assert all_ns["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert set(all_ns) == {"get", "parameters"}

    status = paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]
    assert status["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Pod"
    assert status["get"]["operationId"] == "readCoreV1NamespacedPodStatus"
    binding = paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]
    assert set(binding) == {"post", "parameters"}
    assert binding["post"]["x-kubernetes-group-version-kind"]["kind"] == "Binding"


def test_cluster_scoped_kind_has_no_namespace_paths(core):
    paths = core["paths"]
    assert "/api/v1/namespaces/{name}" in paths
    assert paths["/api/v1/namespaces/{name}"]["get"]["operationId"] == "readCoreV1Namespace"
    assert not any("{namespace}" in p for p in paths if "/namespaces/{name}" in p)
    for param in paths["/api/v1/namespaces/{name}"]["parameters"]:
        assert param["name"] != "namespace"
    assert "/api/v1/namespaces/{name}/status" in paths


def test_verbs_limit_operations(core):
    paths = core["paths"]
    assert set(paths["/api/v1/componentstatuses"]) == {"get", "parameters"}
    assert set(paths["/api/v1/componentstatuses/{name}"]) == {"get", "parameters"}


def test_scale_subresource_uses_autoscaling_scale_kind(apps):
    item = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    for method in ("get", "put", "patch"):
        assert item[method]["x-kubernetes-group-version-kind"] == {
            "group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert item["patch"]["operationId"] == "patchAppsV1NamespacedDeploymentScale"
    assert item["put"]["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"}
    deployment = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert deployment["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "apps", "version": "v1", "kind": "Deployment"}
    assert "/apis/apps/v1/deployments" in apps["paths"]
    assert not any("pods" in p for p in apps["paths"])  # only this group-version's resources


def test_document_header(core):
    assert core["openapi"] == "3.0.0"
    assert core["info"] == {"title": "Kubernetes", "version": "v1.32.0"}


# ---- root, hashes, caching --------------------------------------------------------------------

def test_document_hash_is_upper_hex_sha512():
    digest = document_hash(b"{}")
    assert re.fullmatch(r"[0-9A-F]{128}", digest)
    assert digest.startswith("27C74670ADB75075FAD058D5CEAF7B20C4E7786C83BAE8A32F626F9782AF34C9")


def test_root_lists_each_group_version_with_its_hash(scheme):
    root = orjson.loads(root_document(scheme))
    assert set(root) == {"paths"}
    assert set(root["paths"]) == {"api/v1", "apis/apps/v1", "apis/example.com/v1"}
    core_hash = document_hash(group_version_document(scheme, "", "v1"))
    assert root["paths"]["api/v1"] == {"serverRelativeURL": f"/openapi/v3/api/v1?hash={core_hash}"}
    apps_hash = document_hash(group_version_document(scheme, "apps", "v1"))
    assert root["paths"]["apis/apps/v1"]["serverRelativeURL"] == \
        f"/openapi/v3/apis/apps/v1?hash={apps_hash}"


def test_documents_are_deterministic(scheme):
    body = group_version_document(scheme, "", "v1")
    assert body == group_version_document(scheme, "", "v1")
    # keys are sorted, so every worker process serves the same bytes (and hash) whatever
    # its set/dict iteration order
    assert body == orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    root = root_document(scheme)
    assert root == orjson.dumps(orjson.loads(root), option=orjson.OPT_SORT_KEYS)


def test_cache_builds_once_and_matches_root(scheme, monkeypatch):
    cache = OpenAPIDocuments(scheme)
    calls = []
    real = documents.group_version_document
    monkeypatch.setattr(documents, "group_version_document",
                        lambda *a: calls.append(a) or real(*a))
    body, digest = cache.document("api/v1")
    assert digest == document_hash(body)
    assert cache.document("/api/v1") == (body, digest)
    assert calls == [(scheme, "", "v1")]
    root = orjson.loads(cache.root())
    assert root["paths"]["api/v1"]["serverRelativeURL"].endswith("?hash=" + digest)
    assert cache.root() is cache.root()
    assert len(calls) == 3  # each group-version built exactly once
    assert cache.document("apis/apps/v1")[1] in root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert len(calls) == 3
    assert cache.paths() == ["api/v1", "apis/apps/v1", "apis/example.com/v1"]


def test_cache_unknown_document_is_none(scheme):
    cache = OpenAPIDocuments(scheme)
    assert cache.document("apis/apps/v2") is None
    assert cache.document("apis/nope/v1") is None
    assert cache.document("api/v2") is None
