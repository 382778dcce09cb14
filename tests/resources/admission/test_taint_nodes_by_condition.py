"""TaintNodesByCondition: new Nodes start with the not-ready NoSchedule taint."""
from __future__ import annotations

from apiserver.admission.base import Attributes
from resources.admission.taint_nodes_by_condition import TaintNodesByCondition
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def attrs(obj, subresource="", resource="nodes"):
    return Attributes(operation="CREATE", group="", version="v1", kind="Node",
                      resource=resource, subresource=subresource, namespace="", name="n",
                      obj=obj, old=None)


def test_adds_the_taint_once():
    plugin = TaintNodesByCondition()
    assert plugin.mutating and plugin.handles("CREATE") and not plugin.handles("UPDATE")
    node = {"metadata": {"name": "n"}}
    plugin.admit(attrs(node))
    assert node["spec"]["taints"] == [NOT_READY]
    other = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    node = {"metadata": {"name": "n"}, "spec": {"taints": [other]}}
    plugin.admit(attrs(node))
    assert node["spec"]["taints"] == [other, NOT_READY]
    # a taint of the same key and effect counts, whatever its value
    own = {"key": "node.kubernetes.io/not-ready", "value": "x", "effect": "NoSchedule"}
    node = {"metadata": {"name": "n"}, "spec": {"taints": [own]}}
    plugin.admit(attrs(node))
    assert node["spec"]["taints"] == [own]
    # another effect does not
    execute = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
    node = {"metadata": {"name": "n"}, "spec": {"taints": [execute]}}
    plugin.admit(attrs(node))
    assert node["spec"]["taints"] == [execute, NOT_READY]


def test_subresources_and_other_kinds_are_left_alone():
    plugin = TaintNodesByCondition()
    node = {"metadata": {"name": "n"}}
    plugin.admit(attrs(node, subresource="status"))
    plugin.admit(attrs(node, resource="pods"))
    assert node == {"metadata": {"name": "n"}}


def test_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("TaintNodesByCondition",))
    client = ASGIClient(app)
    resp = client.post("/api/v1/nodes", {"metadata": {"name": "n1"}})
    assert resp.status_code == 201, resp.content
    assert resp.json()["spec"]["taints"] == [NOT_READY]
    # updates keep whatever the client sends: the taint can be removed
    node = resp.json()
    node["spec"]["taints"] = []
    resp = client.put("/api/v1/nodes/n1", node)
    assert resp.status_code == 200 and not resp.json()["spec"].get("taints")
