"""The generic battery for networking.k8s.io/v1 Ingress, IngressClass and NetworkPolicy."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set

BACKEND = {"service": {"name": "web", "port": {"number": 80}}}


class TestIngress(KindBattery):
    group, resource = "networking.k8s.io", "ingresses"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"ingressClassName": "nginx",
                         "rules": [{"host": "example.com", "http": {"paths": [
                             {"path": "/", "pathType": "Prefix", "backend": BACKEND}]}}]}}

    def invalid(self):
        v = self.valid

        def rules(path: dict) -> list:
            return [{"host": "example.com", "http": {"paths": [{"backend": BACKEND, **path}]}}]
        return [(_set(v("no-rules"), "spec", {}), "spec"),
                (_set(v("no-path-type"), "spec.rules", rules({"path": "/"})),
                 "spec.rules[0].http.paths[0].pathType"),
                (_set(v("relative"), "spec.rules", rules({"path": "x", "pathType": "Exact"})),
                 "spec.rules[0].http.paths[0].path"),
                (_set(v("bad-host"), "spec.rules", [{"host": "Bad_Host"}]), "spec.rules[0].host"),
                (_set(v("bad-class"), "spec.ingressClassName", "Nope!"), "spec.ingressClassName")]


class TestIngressClass(KindBattery):
    group, resource = "networking.k8s.io", "ingressclasses"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {"controller": "example.com/ingress"}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-controller"), "spec.controller", None), "spec.controller"),
                (_set(v("not-prefixed"), "spec.controller", "nginx"), "spec.controller"),
                (_set(v("bad-scope"), "spec.parameters",
                      {"kind": "Cfg", "name": "x", "scope": "Galaxy"}), "spec.parameters.scope")]


class TestNetworkPolicy(KindBattery):
    group, resource = "networking.k8s.io", "networkpolicies"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                         "ingress": [{"ports": [{"port": 80}],
                                      "from": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                            "except": ["10.1.0.0/16"]}}]}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-type"), "spec.policyTypes", ["Sideways"]), "spec.policyTypes[0]"),
                (_set(v("bad-proto"), "spec.ingress", [{"ports": [{"protocol": "ICMP"}]}]),
                 "spec.ingress[0].ports[0].protocol"),
                (_set(v("bad-cidr"), "spec.ingress", [{"from": [{"ipBlock": {"cidr": "10.0.0.0"}}]}]),
                 "spec.ingress[0].from[0].ipBlock.cidr"),
                (_set(v("outside"), "spec.ingress",
                      [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}]),
                 "spec.ingress[0].from[0].ipBlock.except[0]")]
