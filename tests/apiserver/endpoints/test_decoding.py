"""Decode errors as upstream gives them: a 400 (or 415) ``Status`` and nothing stored; and
``Status`` bodies in Go's field order (clients' own tests compare the text)."""
from __future__ import annotations

import orjson
import pytest

from apiserver.openapi.pruning import base64_error_offset
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"


@pytest.fixture
def client(db):
    ensure_revision_row()
    return ASGIClient(in_process_app()[1])


def test_a_configmap_of_group_apps_is_400_and_not_stored(client):
    resp = client.post(CMS, {"apiVersion": "apps/v1", "kind": "ConfigMap",
                             "metadata": {"name": "wrong-group"}})
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is '
        'registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"')
    assert client.get(CMS + "/wrong-group").status_code == 404


def test_a_known_kind_of_another_type_fails_conversion(client):
    resp = client.post(CMS, {"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": "a-secret"}})
    assert resp.status_code == 400
    assert resp.json()["message"] == ('Secret in version "v1" cannot be handled as a ConfigMap: '
                                      "converting (v1.Secret) to (core.ConfigMap): unknown "
                                      "conversion")
    assert client.get(CMS + "/a-secret").status_code == 404


def test_a_put_of_another_group_is_400_too(client):
    assert client.post(CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "c"}}).status_code == 201
    resp = client.put(CMS + "/c", {"apiVersion": "apps/v1", "kind": "ConfigMap",
                                   "metadata": {"name": "c"}, "data": {"k": "v"}})
    assert resp.status_code == 400
    assert "data" not in client.get(CMS + "/c").json()


@pytest.mark.parametrize("ctype", ["text/x-unknown", "application/xml"])
def test_unknown_content_types_are_415(client, ctype):
    resp = client.request("POST", CMS, b'{"metadata":{"name":"x"}}', {"content-type": ctype})
    assert resp.status_code == 415 and resp.json()["reason"] == "UnsupportedMediaType"
    assert client.get(CMS + "/x").status_code == 404


def test_yaml_bodies_are_accepted(client):
    resp = client.request("POST", CMS, b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n",
                          {"content-type": "application/yaml"})
    assert resp.status_code == 201


@pytest.mark.parametrize("url,kind,body,offset", [
    (SECRETS, "Secret", {"data": {"k": "not-base64!!"}}, 3),
    (CMS, "ConfigMap", {"binaryData": {"k": "YQ="}}, 3),
])
def test_illegal_base64_in_a_byte_field_is_a_decode_error(client, url, kind, body, offset):
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "b64"}, **body}
    resp = client.post(url, obj)
    assert resp.status_code == 400
    assert resp.json()["message"] == (f'{kind} in version "v1" cannot be handled as a {kind}: '
                                      f"illegal base64 data at input byte {offset}")
    assert client.get(url + "/b64").status_code == 404


@pytest.mark.parametrize("text,offset", [
    ("", None), ("YWJj", None), ("YWI=", None), ("YQ==", None), ("YWJj\nZGVm", None),
    ("not-base64!!", 3), ("YQ=", 3), ("YQ", 0), ("YQ==x", 4), ("Y===", 1)])
def test_base64_offsets_are_go_encoding_base64s(text, offset):
    assert base64_error_offset(text) == offset


def test_status_fields_are_in_go_struct_order(client):
    """The official Python client's e2e suite compares this text (…"details":{"name":…,
    "kind":…},"code":409})."""
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mock-2"},
            "spec": {"ports": [{"port": 80}]}}
    assert client.post("/api/v1/namespaces/default/services", body).status_code == 201
    again = client.post("/api/v1/namespaces/default/services", body)
    assert again.status_code == 409
    assert again.content.endswith(b'"reason":"AlreadyExists","details":{"name":"mock-2",'
                                  b'"kind":"services"},"code":409}')
    assert list(orjson.loads(again.content)) == ["kind", "apiVersion", "metadata", "status",
                                                 "message", "reason", "details", "code"]


def test_a_delete_status_names_then_kinds(client):
    client.post(CMS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}})
    status = client.delete(CMS + "/gone").json()
    assert list(status) == ["kind", "apiVersion", "metadata", "status", "details"]
    assert list(status["details"]) == ["name", "kind", "uid"]


def test_a_new_daemonset_has_its_zero_status_fields(client):
    """Go writes non-omitempty status fields with their zero values; the Python client's
    V1DaemonSetStatus requires them."""
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
          "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
              "metadata": {"labels": {"a": "b"}},
              "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    resp = client.post("/apis/apps/v1/namespaces/default/daemonsets", ds)
    assert resp.status_code == 201, resp.json()
    status = resp.json()["status"]
    assert {k: status[k] for k in ("currentNumberScheduled", "numberMisscheduled",
                                   "desiredNumberScheduled", "numberReady")} == {
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
        "numberReady": 0}
