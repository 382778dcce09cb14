"""The generic battery for the core/v1 stored kinds (Binding is create-only: not here)."""
from __future__ import annotations

import copy


from apiserver.registry.context import RequestContext
from tests.resources.battery.base import KindBattery


def _set(obj: dict, path: str, value) -> dict:
    """Set a dotted path (``spec.x``) on a copy of ``obj``; value None deletes it."""
    obj = copy.deepcopy(obj)
    *head, last = path.split(".")
    cur = obj
    for key in head:
        cur = cur.setdefault(key, {})
    if value is None:
        cur.pop(last, None)
    else:
        cur[last] = value
    return obj


def container(**extra) -> dict:
    return {"name": "app", "image": "nginx:1.25", **extra}


class TestNamespace(KindBattery):
    resource = "namespaces"

    def valid(self, name):
        # no "kubernetes" finalizer: delete is then immediate (the finalizer path needs the
        # controller manager's namespace controller, tests/workers/controllers/test_namespace.py)
        return {"metadata": {"name": name}, "spec": {"finalizers": []}}

    def invalid(self):
        return [(self.valid("Not_A_Label"), "metadata.name"),
                (self.valid("x" * 64), "metadata.name")]


class TestConfigMap(KindBattery):
    resource = "configmaps"

    def valid(self, name):
        return {"metadata": {"name": name}, "data": {"key": "value"}}

    def invalid(self):
        return [(_set(self.valid("bad-key"), "data", {"bad key!": "v"}), "data[bad key!]"),
                (_set(self.valid("dup-key"), "binaryData", {"key": "dmFsdWU="}), "binaryData[key]"),
                (_set(self.valid("UPPER"), "metadata.name", "UPPER_case"), "metadata.name")]


class TestPod(KindBattery):
    resource = "pods"

    def valid(self, name):
        # not bound (no nodeName): delete is immediate
        return {"metadata": {"name": name}, "spec": {"containers": [container()]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-containers"), "spec.containers", []), "spec.containers"),
                (_set(v("no-image"), "spec.containers", [{"name": "app"}]),
                 "spec.containers[0].image"),
                (_set(v("bad-restart"), "spec.restartPolicy", "Sometimes"), "spec.restartPolicy")]


class TestNode(KindBattery):
    resource = "nodes"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {}}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-taint"), "spec.taints", [{"key": "k", "effect": "Sometimes"}]),
                 "spec.taints[0].effect"),
                (_set(v("bad-cidr"), "spec.podCIDRs", ["not-a-cidr"]), "spec.podCIDRs[0]")]


class TestService(KindBattery):
    resource = "services"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-ports"), "spec.ports", []), "spec.ports"),
                (_set(v("bad-type"), "spec.type", "Sideways"), "spec.type"),
                (_set(v("bad-affinity"), "spec.sessionAffinity", "Sticky"),
                 "spec.sessionAffinity")]


class TestEndpoints(KindBattery):
    resource = "endpoints"

    def valid(self, name):
        return {"metadata": {"name": name},
                "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]}

    def invalid(self):
        v = self.valid
        return [(_set(v("loopback"), "subsets", [{"addresses": [{"ip": "127.0.0.1"}],
                                                   "ports": [{"port": 80}]}]),
                 "subsets[0].addresses[0].ip"),
                (_set(v("bad-proto"), "subsets", [{"addresses": [{"ip": "10.1.2.3"}],
                                                    "ports": [{"port": 80, "protocol": "ICMP"}]}]),
                 "subsets[0].ports[0].protocol")]


class TestSecret(KindBattery):
    resource = "secrets"

    def valid(self, name):
        return {"metadata": {"name": name}, "type": "Opaque", "data": {"key": "dmFsdWU="}}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-key"), "data", {"bad key!": "dmFsdWU="}), "data[bad key!]"),
                (_set(v("basic-auth"), "type", "kubernetes.io/basic-auth"), "data[username]"),
                (_set(v("dockercfg"), "type", "kubernetes.io/dockercfg"), "data[.dockercfg]")]


class TestServiceAccount(KindBattery):
    resource = "serviceaccounts"

    def valid(self, name):
        return {"metadata": {"name": name}}

    def invalid(self):
        return [(self.valid("Bad_Name"), "metadata.name")]


class TestEvent(KindBattery):
    resource = "events"

    def valid(self, name):
        return {"metadata": {"name": name},
                "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
                "reason": "Started", "message": "started", "type": "Normal",
                "source": {"component": "kubelet"}}

    def invalid(self):
        v = self.valid
        return [(_set(v("other-ns"), "involvedObject.namespace", "elsewhere"),
                 "involvedObject.namespace")]


class TestLimitRange(KindBattery):
    resource = "limitranges"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"},
                                     "min": {"cpu": "100m"}}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("min-over-max"), "spec.limits", [{"type": "Container", "max": {"cpu": "1"},
                                                          "min": {"cpu": "2"}}]),
                 "spec.limits[0].min[cpu]")]


class TestResourceQuota(KindBattery):
    resource = "resourcequotas"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {"hard": {"pods": "10", "cpu": "4"}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("negative"), "spec.hard", {"pods": "-1"}), "spec.hard[pods]"),
                (_set(v("bad-scope"), "spec.scopes", ["Sometimes"]), "spec.scopes[0]")]


def test_resource_quota_refuses_resource_names_upstream_refuses():
    """Found by the battery: ``spec.hard`` names must be qualified names, and standard quota
    resources unless they carry a domain (upstream ValidateResourceQuotaResourceName)."""
    from resources.core.resourcequotas import ResourceQuotaStrategy
    s = ResourceQuotaStrategy()
    bad = s.validate(RequestContext(), {"metadata": {"name": "q"}, "spec": {"hard": {"foo bar": "1", "bogus": "2"}}})
    assert {e.field for e in bad} == {"spec.hard[foo bar]", "spec.hard[bogus]"}
    good = s.validate(RequestContext(), {"metadata": {"name": "q"}, "spec": {"hard": {
        "pods": "10", "requests.cpu": "1", "count/deployments.apps": "3", "example.com/gpu": "1",
        "requests.hugepages-2Mi": "1Gi"}}})
    assert good == []
