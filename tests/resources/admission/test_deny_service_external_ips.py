"""DenyServiceExternalIPs: no new externalIPs on Services; keeping or dropping old ones is fine."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission.deny_service_external_ips import DenyServiceExternalIPs
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

MESSAGE = 'services "s" is forbidden: use of external IPs is denied by admission control'


def svc(*ips):
    spec = {"ports": [{"port": 80}]}
    if ips:
        spec["externalIPs"] = list(ips)
    return {"metadata": {"name": "s"}, "spec": spec}


def attrs(obj, old=None, subresource="", resource="services"):
    return Attributes(operation="UPDATE" if old else "CREATE", group="", version="v1",
                      kind="Service", resource=resource, subresource=subresource,
                      namespace="default", name="s", obj=obj, old=old)


def refused(plugin, a) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        plugin.validate(a)
    return exc.value.message


def test_rules():
    plugin = DenyServiceExternalIPs()
    assert plugin.validating and not plugin.mutating
    assert plugin.handles("CREATE") and plugin.handles("UPDATE") and not plugin.handles("DELETE")
    plugin.validate(attrs(svc()))
    assert refused(plugin, attrs(svc("1.1.1.1"))) == MESSAGE
    plugin.validate(attrs(svc("1.1.1.1"), svc("1.1.1.1", "2.2.2.2")))     # a subset
    plugin.validate(attrs(svc(), svc("1.1.1.1")))
    assert refused(plugin, attrs(svc("1.1.1.1", "3.3.3.3"), svc("1.1.1.1"))) == MESSAGE
    assert refused(plugin, attrs(svc("1.1.1.1"), svc())) == MESSAGE
    plugin.validate(attrs(svc("1.1.1.1"), subresource="status"))
    plugin.validate(attrs(svc("1.1.1.1"), resource="endpoints"))


def test_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("DenyServiceExternalIPs",))
    client = ASGIClient(app)
    path = "/api/v1/namespaces/default/services"
    resp = client.post(path, svc("1.2.3.4"))
    assert resp.status_code == 403
    assert resp.json()["message"] == MESSAGE
    assert resp.json()["details"] == {"name": "s", "kind": "services"}
    resp = client.post(path, svc())
    assert resp.status_code == 201, resp.content
    resp = client.patch(f"{path}/s", {"spec": {"externalIPs": ["1.2.3.4"]}},
                        "application/merge-patch+json")
    assert resp.status_code == 403 and resp.json()["message"] == MESSAGE
