"""NamespaceExists: writes into a namespace that does not exist get its NotFound."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission.namespace_exists import NamespaceExists
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


def attrs(op, namespace, kind="ConfigMap", resource="configmaps"):
    return Attributes(operation=op, group="", version="v1", kind=kind, resource=resource,
                      subresource="", namespace=namespace, name="c", obj={}, old={})


def test_create_update_delete_need_the_namespace(stores, ctx):
    ensure_revision_row()
    stores.store("", "v1", "namespaces").create(None, {"metadata": {"name": "here"}}, ctx)
    plugin = NamespaceExists()
    plugin.set_stores(stores)
    assert not plugin.mutating and plugin.validating
    assert not plugin.handles("CONNECT")
    for op in ("CREATE", "UPDATE", "DELETE"):
        assert plugin.handles(op)
        plugin.validate(attrs(op, "here"))
        with pytest.raises(errors.NotFound) as exc:
            plugin.validate(attrs(op, "gone"))
        assert exc.value.message == 'namespaces "gone" not found'
        assert exc.value.details == {"kind": "namespaces", "name": "gone"}
    # cluster-scoped objects and Namespaces themselves are not checked
    plugin.validate(attrs("CREATE", ""))
    plugin.validate(attrs("CREATE", "gone", kind="Namespace", resource="namespaces"))


def test_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("NamespaceExists",))
    client = ASGIClient(app)
    resp = client.post("/api/v1/namespaces/missing/configmaps", {"metadata": {"name": "c"}})
    assert resp.status_code == 404
    assert resp.json()["message"] == 'namespaces "missing" not found'
    assert resp.json()["details"] == {"name": "missing", "kind": "namespaces"}
    assert client.post("/api/v1/namespaces", {"metadata": {"name": "missing"}}).status_code == 201
    resp = client.post("/api/v1/namespaces/missing/configmaps", {"metadata": {"name": "c"}})
    assert resp.status_code == 201, resp.content
