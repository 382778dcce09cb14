"""The generic battery for coordination Lease, events.k8s.io Event, scheduling PriorityClass
and discovery EndpointSlice."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set


class TestLease(KindBattery):
    group, resource = "coordination.k8s.io", "leases"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"holderIdentity": "node-a", "leaseDurationSeconds": 40}}

    def invalid(self):
        v = self.valid
        return [(_set(v("zero-duration"), "spec.leaseDurationSeconds", 0),
                 "spec.leaseDurationSeconds"),
                (_set(v("neg-transitions"), "spec.leaseTransitions", -1), "spec.leaseTransitions")]


class TestEventsV1Event(KindBattery):
    group, resource = "events.k8s.io", "events"

    def valid(self, name):
        return {"metadata": {"name": name}, "eventTime": "2024-01-01T00:00:00.000000Z",
                "reportingController": "example.com/controller", "reportingInstance": "inst-1",
                "action": "Started", "reason": "Started", "type": "Normal",
                "regarding": {"kind": "Pod", "name": "web", "namespace": "default"}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-time"), "eventTime", None), "eventTime"),
                (_set(v("bad-type"), "type", "Weird"), "type"),
                (_set(v("no-controller"), "reportingController", None), "reportingController")]


class TestPriorityClass(KindBattery):
    group, resource = "scheduling.k8s.io", "priorityclasses"

    def valid(self, name):
        return {"metadata": {"name": name}, "value": 1000, "description": "battery"}

    def invalid(self):
        v = self.valid
        return [(_set(v("too-big"), "value", 2 ** 31), "value"),
                (_set(v("bad-policy"), "preemptionPolicy", "Sometimes"), "preemptionPolicy")]


class TestEndpointSlice(KindBattery):
    group, resource = "discovery.k8s.io", "endpointslices"

    def valid(self, name):
        return {"metadata": {"name": name}, "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.1.2.3"]}],
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-type"), "addressType", "IPv5"), "addressType"),
                (_set(v("bad-ip"), "endpoints", [{"addresses": ["not-an-ip"]}]),
                 "endpoints[0].addresses[0]"),
                (_set(v("bad-proto"), "ports", [{"name": "http", "port": 80, "protocol": "ICMP"}]),
                 "ports[0].protocol")]
