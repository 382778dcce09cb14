"""LimitPodHardAntiAffinityTopology: required pod anti-affinity only per hostname."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission.limit_pod_hard_anti_affinity_topology import \
    LimitPodHardAntiAffinityTopology
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


def pod(*keys, preferred=()):
    term = {"labelSelector": {"matchLabels": {"app": "web"}}}
    anti = {}
    if keys:
        anti["requiredDuringSchedulingIgnoredDuringExecution"] = [
            {**term, "topologyKey": k} for k in keys]
    if preferred:
        anti["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 1, "podAffinityTerm": {**term, "topologyKey": k}} for k in preferred]
    return {"metadata": {"name": "web"}, "spec": {
        "containers": [{"name": "c", "image": "nginx"}],
        "affinity": {"podAntiAffinity": anti}}}


def attrs(obj, op="CREATE", subresource=""):
    return Attributes(operation=op, group="", version="v1", kind="Pod", resource="pods",
                      subresource=subresource, namespace="default", name="web", obj=obj,
                      old=None)


def test_only_the_hostname_topology_key():
    plugin = LimitPodHardAntiAffinityTopology()
    assert plugin.validating and not plugin.mutating
    assert plugin.handles("CREATE") and plugin.handles("UPDATE") and not plugin.handles("DELETE")
    plugin.validate(attrs(pod("kubernetes.io/hostname")))
    plugin.validate(attrs(pod(preferred=("topology.kubernetes.io/zone",))))   # soft: fine
    plugin.validate(attrs({"metadata": {"name": "web"}, "spec": {}}))
    for op in ("CREATE", "UPDATE"):
        with pytest.raises(errors.Forbidden) as exc:
            plugin.validate(attrs(pod("kubernetes.io/hostname", "topology.kubernetes.io/zone"),
                                  op))
        assert exc.value.message == (
            'pods "web" is forbidden: affinity.PodAntiAffinity.RequiredDuringScheduling has '
            "TopologyKey topology.kubernetes.io/zone but only key kubernetes.io/hostname is "
            "allowed")
    plugin.validate(attrs(pod("topology.kubernetes.io/zone"), subresource="status"))


def test_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("LimitPodHardAntiAffinityTopology",))
    client = ASGIClient(app)
    path = "/api/v1/namespaces/default/pods"
    resp = client.post(path, pod("topology.kubernetes.io/zone"))
    assert resp.status_code == 403
    assert resp.json()["message"].startswith('pods "web" is forbidden: affinity.PodAntiAffinity')
    assert client.post(path, pod("kubernetes.io/hostname")).status_code == 201
