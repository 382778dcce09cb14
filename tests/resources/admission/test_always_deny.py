"""AlwaysDeny refuses every write with upstream's admission.NewForbidden message."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission.always_deny import AlwaysDeny
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

PATH = "/api/v1/namespaces/default/configmaps"


def attrs(op="CREATE", name="c", obj=None, group="", resource="configmaps"):
    return Attributes(operation=op, group=group, version="v1", kind="X", resource=resource,
                      subresource="", namespace="default", name=name, obj=obj, old=None)


def test_refuses_in_both_phases_with_the_object_name():
    plugin = AlwaysDeny()
    assert all(plugin.handles(op) for op in ("CREATE", "UPDATE", "DELETE", "CONNECT"))
    with pytest.raises(errors.Forbidden) as exc:
        plugin.admit(attrs())
    assert exc.value.message == \
        'configmaps "c" is forbidden: admission control is denying all modifications'
    assert exc.value.details == {"kind": "configmaps", "name": "c"}
    with pytest.raises(errors.Forbidden) as exc:
        plugin.validate(attrs(op="DELETE", group="apps", resource="deployments", name="d"))
    assert exc.value.message == \
        'deployments.apps "d" is forbidden: admission control is denying all modifications'
    # no name in the request: the object's generateName, else upstream's "Unknown"
    with pytest.raises(errors.Forbidden) as exc:
        plugin.admit(attrs(name="", obj={"metadata": {"generateName": "web-"}}))
    assert exc.value.message.startswith('configmaps "web-" is forbidden')
    with pytest.raises(errors.Forbidden) as exc:
        plugin.admit(attrs(name="", obj={}))
    assert exc.value.message.startswith('configmaps "Unknown" is forbidden')


def test_http_writes_are_forbidden_reads_are_not(db):
    ensure_revision_row()
    completed, app = in_process_app(admission_plugins=("AlwaysDeny",))
    client = ASGIClient(app)
    resp = client.post(PATH, {"metadata": {"name": "c"}})
    assert resp.status_code == 403
    body = resp.json()
    assert body["reason"] == "Forbidden"
    assert body["message"] == \
        'configmaps "c" is forbidden: admission control is denying all modifications'
    assert body["details"] == {"name": "c", "kind": "configmaps"}
    assert client.get(PATH).status_code == 200
    # an object written past admission still cannot be deleted or updated
    store = completed.stores.store("", "v1", "configmaps")
    store.storage.create(store.resource, "default", "old", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "old", "namespace": "default", "uid": "u",
                     "creationTimestamp": "2024-01-01T00:00:00Z"}})
    resp = client.delete(f"{PATH}/old")
    assert resp.status_code == 403, resp.content
    assert resp.json()["message"] == \
        'configmaps "old" is forbidden: admission control is denying all modifications'
    resp = client.put(f"{PATH}/old", {"metadata": {"name": "old"}, "data": {"a": "b"}})
    assert resp.status_code == 403
