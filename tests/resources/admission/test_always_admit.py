"""AlwaysAdmit admits everything in both phases (upstream plugin/pkg/admission/admit)."""
from __future__ import annotations

from apiserver.admission.base import Attributes
from resources.admission.always_admit import AlwaysAdmit
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


def test_admits_every_operation():
    plugin = AlwaysAdmit()
    assert plugin.mutating and plugin.validating
    obj = {"metadata": {"name": "c"}, "data": {"k": "v"}}
    for op in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
        assert plugin.handles(op)
        a = Attributes(operation=op, group="", version="v1", kind="ConfigMap",
                       resource="configmaps", subresource="", namespace="ns", name="c",
                       obj=obj, old=None)
        plugin.admit(a)
        plugin.validate(a)
    assert obj == {"metadata": {"name": "c"}, "data": {"k": "v"}}


def test_requests_pass_over_http(db, caplog):
    ensure_revision_row()
    completed, app = in_process_app(admission_plugins=("AlwaysAdmit",))
    assert completed.admission.names == ("AlwaysAdmit",)
    assert "AlwaysAdmit admission controller is deprecated" in caplog.text
    client = ASGIClient(app)
    path = "/api/v1/namespaces/default/configmaps"
    assert client.post(path, {"metadata": {"name": "c"}}).status_code == 201
    assert client.delete(f"{path}/c").status_code == 200
