"""ComponentStatus: computed on each read (``read_virtual``/``list_virtual``), never stored.

Upstream: kubernetes/kubernetes:pkg/registry/core/componentstatus/rest.go (one Healthy
condition per component, "Component not found" for other names), printComponentStatus in
pkg/printers/internalversion/printers.go, and the 1.19 deprecation warning.
"""
from __future__ import annotations

import pytest

from resources.core.componentstatuses import ComponentStatusStrategy, component_status
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

CS = "/api/v1/componentstatuses"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
WARNING = '299 - "v1 ComponentStatus is deprecated in v1.19+"'
S = ComponentStatusStrategy()


@pytest.fixture
def client(db):
    ensure_revision_row()
    return ASGIClient(in_process_app()[1])


def test_declarations():
    assert (S.namespaced, S.short_names, S.verbs, S.stored) == (False, ("cs",), ("get", "list"), False)
    assert [c.name for c in S.columns] == ["Name", "Status", "Message", "Error"]


def test_list_reports_database_and_missing_components(client):
    resp = client.get(CS)
    assert resp.status_code == 200 and resp["warning"] == WARNING
    body = resp.json()
    assert (body["kind"], body["apiVersion"], body["metadata"]) == ("ComponentStatusList", "v1", {})
    by_name = {i["metadata"]["name"]: i for i in body["items"]}
    assert set(by_name) == {"scheduler", "controller-manager", "etcd-0"}
    assert by_name["etcd-0"]["conditions"] == [{"type": "Healthy", "status": "True", "message": "ok"}]
    assert by_name["scheduler"]["conditions"][0]["status"] == "False"
    assert by_name["etcd-0"]["metadata"] == {"name": "etcd-0", "creationTimestamp": None}
    assert by_name["etcd-0"]["kind"] == "ComponentStatus"


def test_get_one_and_unknown(client):
    resp = client.get(CS + "/etcd-0")
    assert resp.status_code == 200 and resp["warning"] == WARNING
    assert resp.json()["metadata"]["name"] == "etcd-0"
    missing = client.get(CS + "/etcd-9")
    assert missing.status_code == 500
    status = missing.json()
    assert status["message"] == "Component not found: etcd-9" and "reason" not in status


def test_table_like_kubectl(client):
    resp = client.get(CS, headers={"accept": TABLE})
    assert resp["warning"] == WARNING
    table = resp.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Message", "Error"]
    rows = {r["cells"][0]: r["cells"] for r in table["rows"]}
    assert rows["etcd-0"] == ["etcd-0", "Healthy", "ok", ""]
    assert rows["scheduler"] == ["scheduler", "Unhealthy",
                                 "no kube-scheduler runs with this server yet", ""]


def test_selectors_filter_the_list(client):
    names = [i["metadata"]["name"] for i in
             client.get(CS, query={"fieldSelector": "metadata.name=scheduler"}).json()["items"]]
    assert names == ["scheduler"]
    assert client.get(CS, query={"labelSelector": "a=b"}).json()["items"] == []
    bad = client.get(CS, query={"fieldSelector": "spec.x=y"})
    assert bad.status_code == 400


def test_only_reads_are_served(client):
    obj = {"apiVersion": "v1", "kind": "ComponentStatus", "metadata": {"name": "x"}}
    assert client.post(CS, obj).status_code == 405
    assert client.delete(CS + "/etcd-0").status_code == 405


def test_row_without_healthy_condition():
    assert S.table_row({"metadata": {"name": "x"}, "conditions": []}) == ["x", "Unknown", "", ""]
    assert S.table_row(component_status("controller-manager"))[1] == "Unhealthy"
