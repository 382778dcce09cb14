"""NamespaceAutoProvision creates the namespace a new object names, unless dry-run."""
from __future__ import annotations

import orjson
import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission.namespace_auto_provision import NamespaceAutoProvision
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


def namespace(stores, name):
    store = stores.store("", "v1", "namespaces")
    found = store.storage.get(store.resource, "", name)
    return orjson.loads(found[0]) if found else None


def attrs(namespace, kind="ConfigMap", resource="configmaps", dry_run=False):
    return Attributes(operation="CREATE", group="", version="v1", kind=kind,
                      resource=resource, subresource="", namespace=namespace, name="c",
                      obj={"metadata": {"name": "c"}}, old=None, dry_run=dry_run)


def test_creates_the_missing_namespace_once(stores):
    ensure_revision_row()
    plugin = NamespaceAutoProvision()
    plugin.set_stores(stores)
    assert plugin.mutating and not plugin.validating
    assert plugin.handles("CREATE") and not plugin.handles("UPDATE")
    plugin.admit(attrs("new"))
    made = namespace(stores, "new")
    assert made["metadata"]["name"] == "new" and made["status"]["phase"] == "Active"
    plugin.admit(attrs("new"))             # already there: nothing happens
    assert namespace(stores, "new")["metadata"]["resourceVersion"] == \
        made["metadata"]["resourceVersion"]


def test_leaves_dry_runs_namespaces_and_cluster_objects_alone(stores):
    ensure_revision_row()
    plugin = NamespaceAutoProvision()
    plugin.set_stores(stores)
    plugin.admit(attrs("dry", dry_run=True))
    plugin.admit(attrs("ns", kind="Namespace", resource="namespaces"))
    plugin.admit(attrs(""))
    assert namespace(stores, "dry") is None and namespace(stores, "ns") is None


def test_a_failed_create_is_forbidden(stores):
    ensure_revision_row()
    plugin = NamespaceAutoProvision()
    plugin.set_stores(stores)
    with pytest.raises(errors.Forbidden) as exc:
        plugin.admit(attrs("Not_A_Name"))
    assert exc.value.message.startswith(
        'configmaps "c" is forbidden: Namespace "Not_A_Name" is invalid: metadata.name')


def test_http(db):
    ensure_revision_row()
    completed, app = in_process_app(
        admission_plugins=("NamespaceAutoProvision", "NamespaceLifecycle"))
    client = ASGIClient(app)
    resp = client.post("/api/v1/namespaces/fresh/configmaps", {"metadata": {"name": "c"}})
    assert resp.status_code == 201, resp.content
    assert namespace(completed.stores, "fresh") is not None
    resp = client.post("/api/v1/namespaces/drier/configmaps", {"metadata": {"name": "c"}},
                       query={"dryRun": "All"})
    assert resp.status_code == 404, resp.content    # NamespaceLifecycle: still missing
    assert namespace(completed.stores, "drier") is None
