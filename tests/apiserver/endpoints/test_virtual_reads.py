"""Reads of kinds that are computed, not stored (``stored = False`` with "get"/"list" in
their verbs): the handler asks ``Strategy.read_virtual``/``list_virtual`` instead of the
Store, filters lists with the kind's selectors and passes the strategy's warnings on.
ComponentStatus is the one such kind (its own tests cover its content); create-only virtual
kinds keep refusing reads before any hook runs.
"""
from __future__ import annotations

import pytest

from apiserver.registry.context import RequestContext
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


class Computed(Strategy):
    kind, plural, stored, verbs = "Computed", "computeds", False, ("get", "list")


@pytest.fixture
def client(db):
    ensure_revision_row()
    return ASGIClient(in_process_app()[1])


def test_base_hooks_refuse():
    with pytest.raises(errors.MethodNotAllowed) as exc:
        Computed().read_virtual(RequestContext(), "", "x")
    assert exc.value.message == 'get is not supported on resources of kind "computeds"'
    with pytest.raises(errors.MethodNotAllowed):
        Computed().list_virtual(RequestContext(), "")


def test_virtual_list_and_get_carry_warnings(client):
    listed = client.get("/api/v1/componentstatuses")
    assert listed.status_code == 200 and listed.json()["kind"] == "ComponentStatusList"
    assert "deprecated" in listed["warning"]
    one = client.get("/api/v1/componentstatuses/etcd-0")
    assert one.json()["kind"] == "ComponentStatus" and "deprecated" in one["warning"]
    yaml = client.get("/api/v1/componentstatuses/etcd-0", headers={"accept": "application/yaml"})
    assert yaml["content-type"].startswith("application/yaml") and b"etcd-0" in yaml.content


def test_create_only_virtual_kinds_still_refuse_reads(client):
    resp = client.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert resp.status_code == 405
