"""Unknown-field pruning and type checks against the built-in definitions."""
from apiserver.openapi import definitions as defs
from apiserver.openapi.pruning import prune

POD = "io.k8s.api.core.v1.Pod"


def test_unknown_fields_are_removed_and_reported():
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1},
           "spec": {"containers": [{"name": "c", "image": "i", "nope": True}]}}
    removed = prune(obj, defs.get(POD))
    assert removed == ["metadata.bogus", "spec.containers[0].nope"]
    assert obj["spec"]["containers"][0] == {"name": "c", "image": "i"}
    assert "bogus" not in obj["metadata"]


def test_maps_keep_their_free_form_keys():
    obj = {"metadata": {"name": "p", "labels": {"any/key": "v"}}, "spec": {"containers": [],
           "nodeSelector": {"disk": "ssd"}}}
    assert prune(obj, defs.get(POD)) == []
    assert obj["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_wrong_scalar_types_are_reported_not_pruned():
    errs = []
    obj = {"metadata": {"name": "n"}, "status": {"nodeInfo": {"systemUUID": True}}}
    prune(obj, defs.get("io.k8s.api.core.v1.Node"), type_errors=errs)
    assert errs == [("status.nodeInfo.systemUUID", "boolean", "string")]


def test_int_or_string_and_integral_floats_are_accepted():
    errs = []
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80.0, "targetPort": "http"}]}}
    prune(svc, defs.get("io.k8s.api.core.v1.Service"), type_errors=errs)
    assert errs == []
    prune({"spec": {"ports": [{"port": 80.5}]}}, defs.get("io.k8s.api.core.v1.Service"),
          type_errors=errs)
    assert errs == [("spec.ports[0].port", "number", "integer")]
