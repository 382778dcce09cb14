"""ExtendedResourceToleration: pods asking for extended resources tolerate their taints."""
from __future__ import annotations

from apiserver.admission.base import Attributes
from resources.admission.extended_resource_toleration import (ExtendedResourceToleration,
                                                              is_extended_resource_name)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


def tol(key):
    return {"key": key, "operator": "Exists", "effect": "NoSchedule"}


def pod(requests=None, init_requests=None, tolerations=None):
    spec = {"containers": [{"name": "c", "image": "x",
                            "resources": {"requests": requests or {"cpu": "1"}}}]}
    if init_requests:
        spec["initContainers"] = [{"name": "i", "image": "x",
                                   "resources": {"requests": init_requests}}]
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"metadata": {"name": "p"}, "spec": spec}


def attrs(obj, op="CREATE", subresource=""):
    return Attributes(operation=op, group="", version="v1", kind="Pod", resource="pods",
                      subresource=subresource, namespace="default", name="p", obj=obj,
                      old=None)


def test_extended_resource_names():
    assert is_extended_resource_name("example.com/gpu")
    assert is_extended_resource_name("nvidia.com/gpu")
    assert not is_extended_resource_name("cpu")                       # native, no domain
    assert not is_extended_resource_name("kubernetes.io/something")   # native domain
    assert not is_extended_resource_name("requests.example.com/gpu")
    assert not is_extended_resource_name("example.com/bad name")


def test_adds_one_toleration_per_extended_resource_sorted():
    plugin = ExtendedResourceToleration()
    assert plugin.mutating and plugin.handles("CREATE") and plugin.handles("UPDATE")
    assert not plugin.handles("DELETE")
    obj = pod({"cpu": "1", "z.example.com/fpga": "1", "example.com/gpu": "2"},
              init_requests={"a.example.com/nic": "1", "example.com/gpu": "1"})
    plugin.admit(attrs(obj))
    assert obj["spec"]["tolerations"] == [tol("a.example.com/nic"), tol("example.com/gpu"),
                                          tol("z.example.com/fpga")]
    plugin.admit(attrs(obj, op="UPDATE"))                  # already there: unchanged
    assert len(obj["spec"]["tolerations"]) == 3


def test_existing_tolerations_are_kept_or_replaced():
    plugin = ExtendedResourceToleration()
    other = {"key": "dedicated", "operator": "Equal", "value": "a", "effect": "NoSchedule"}
    same = {"key": "example.com/gpu", "operator": "Exists", "effect": "NoSchedule", "value": ""}
    obj = pod({"example.com/gpu": "1"}, tolerations=[other, same])
    plugin.admit(attrs(obj))
    assert obj["spec"]["tolerations"] == [other, same]     # equal: left as it is
    timed = {"key": "example.com/gpu", "operator": "Exists", "effect": "NoSchedule",
             "tolerationSeconds": 5}
    obj = pod({"example.com/gpu": "1"}, tolerations=[timed, other])
    plugin.admit(attrs(obj))
    assert obj["spec"]["tolerations"] == [tol("example.com/gpu"), other]   # replaced in place
    plain = pod()
    plugin.admit(attrs(plain))
    assert "tolerations" not in plain["spec"]
    plugin.admit(attrs(pod({"example.com/gpu": "1"}), subresource="status"))


def test_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("ExtendedResourceToleration",))
    client = ASGIClient(app)
    body = pod({"example.com/gpu": "1"})
    body["spec"]["containers"][0]["resources"]["limits"] = {"example.com/gpu": "1"}
    resp = client.post("/api/v1/namespaces/default/pods", body)
    assert resp.status_code == 201, resp.content
    assert resp.json()["spec"]["tolerations"] == [tol("example.com/gpu")]
