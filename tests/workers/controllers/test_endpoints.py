"""The endpoints controller's pure parts (and what it shares with the endpointslice
controller): which pods a Service publishes, ports resolved by name, subsets repacked,
truncation, labels and trigger times."""
from __future__ import annotations

import asyncio

import pytest

from apiserver.client import ApiError
from workers.controllers import endpoints as ep
from workers.controllers import endpoints_util as eu


def pod(name, ip, ready=True, node="n1", labels=None, ports=None, deleting=False,
        phase="Running", hostname=None, subdomain=None, ready_at="2026-01-01T00:00:00Z"):
    p = {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                      "labels": labels if labels is not None else {"app": "web"}},
         "spec": {"nodeName": node, "containers": [
             {"name": "c", "ports": ports if ports is not None else
              [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
         "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}] if ip else [],
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                    "lastTransitionTime": ready_at}]}}
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    if hostname:
        p["spec"]["hostname"] = hostname
    if subdomain:
        p["spec"]["subdomain"] = subdomain
    return p


def service(name="web", ports=None, cluster_ip="10.0.0.10", publish=False, selector=None):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "ns", "uid": "svc-uid",
                         "labels": {"team": "a"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"selector": selector if selector is not None else {"app": "web"},
                     "clusterIP": cluster_ip, "ipFamilies": ["IPv4"],
                     "publishNotReadyAddresses": publish,
                     "ports": ports if ports is not None else
                     [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


NODES = {"n1": {"metadata": {"name": "n1", "labels": {eu.ZONE: "zone-a"}}},
         "n2": {"metadata": {"name": "n2"}}}


# ---- endpoints --------------------------------------------------------------------------------
def test_ready_and_not_ready_addresses_with_the_named_port_resolved():
    subsets = ep.desired_subsets(service(), [pod("b", "10.1.0.2"), pod("a", "10.1.0.1"),
                                             pod("c", "10.1.0.3", ready=False)])
    assert len(subsets) == 1
    s = subsets[0]
    assert [a["ip"] for a in s["addresses"]] == ["10.1.0.1", "10.1.0.2"]
    assert [a["ip"] for a in s["notReadyAddresses"]] == ["10.1.0.3"]
    assert s["ports"] == [{"port": 8080, "protocol": "TCP", "name": "web"}]
    assert s["addresses"][0]["targetRef"] == {"kind": "Pod", "namespace": "ns", "name": "a",
                                              "uid": "uid-a"}
    assert s["addresses"][0]["nodeName"] == "n1"


def test_terminating_terminal_and_ip_less_pods_are_left_out_unless_published():
    pods = [pod("a", "10.1.0.1", deleting=True), pod("b", "10.1.0.2", phase="Succeeded"),
            pod("c", ""), pod("d", "10.1.0.4", ready=False)]
    (s,) = ep.desired_subsets(service(), pods)
    assert "addresses" not in s and [a["ip"] for a in s["notReadyAddresses"]] == ["10.1.0.4"]
    (s,) = ep.desired_subsets(service(publish=True), pods)
    assert [a["ip"] for a in s["addresses"]] == ["10.1.0.1", "10.1.0.4"]


def test_pods_resolving_ports_differently_get_their_own_subsets():
    other = pod("b", "10.1.0.2", ports=[{"name": "http", "containerPort": 9090}])
    none = pod("c", "10.1.0.3", ports=[])               # no port named http: left out
    numeric = service(ports=[{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"},
                             {"name": "metrics", "port": 81, "targetPort": 7000,
                              "protocol": "TCP"}])
    subsets = ep.desired_subsets(numeric, [pod("a", "10.1.0.1"), other, none])
    shapes = [([a["ip"] for a in s["addresses"]], sorted(p["port"] for p in s["ports"]))
              for s in subsets]
    assert shapes == [(["10.1.0.1", "10.1.0.2", "10.1.0.3"], [7000]), (["10.1.0.1"], [8080]),
                      (["10.1.0.2"], [9090])]


def test_hostname_only_for_the_service_named_as_subdomain_and_headless_label():
    pods = [pod("a", "10.1.0.1", hostname="a", subdomain="web"),
            pod("b", "10.1.0.2", hostname="b", subdomain="other")]
    (s,) = ep.desired_subsets(service(), pods)
    assert [a.get("hostname") for a in s["addresses"]] == ["a", None]
    assert ep.service_labels(service(cluster_ip="None")) == {"team": "a", eu.HEADLESS: ""}
    assert ep.service_labels(service()) == {"team": "a"}
    # a headless Service without ports lists addresses without ports
    (s,) = ep.desired_subsets(service(cluster_ip="None", ports=[]), pods)
    assert "ports" not in s and len(s["addresses"]) == 2


def test_more_than_1000_addresses_are_truncated():
    pods = [pod(f"p{i}", f"10.2.{i // 250}.{i % 250 + 1}") for i in range(1100)]
    subsets = ep.desired_subsets(service(), pods)
    assert ep.truncate(subsets)
    assert sum(len(s["addresses"]) for s in subsets) == 1000


def test_services_without_selector_or_external_name_are_not_managed():
    assert eu.manages(service())
    assert not eu.manages(service(selector={}))
    external = service()
    external["spec"]["type"] = "ExternalName"
    assert not eu.manages(external)


def test_trigger_time_is_the_earliest_new_change():
    tracker = eu.TriggerTimeTracker()
    svc = service()
    first = tracker.compute(svc, [pod("a", "10.1.0.1", ready_at="2026-01-01T00:05:00Z")])
    assert eu.format_time(first) == "2026-01-01T00:00:00Z"      # the Service's creation
    assert tracker.compute(svc, [pod("a", "10.1.0.1", ready_at="2026-01-01T00:05:00Z")]) is None
    later = tracker.compute(svc, [pod("a", "10.1.0.1", ready_at="2026-01-01T00:07:00Z"),
                                  pod("b", "10.1.0.2", ready_at="2026-01-01T00:06:00Z")])
    assert eu.format_time(later) == "2026-01-01T00:06:00Z"
    meta = {}
    eu.set_trigger_time(meta, later)
    assert meta["annotations"] == {eu.TRIGGER_TIME: "2026-01-01T00:06:00Z"}
    eu.set_trigger_time(meta, None)
    assert meta["annotations"] == {}


# ---- the controller's sync, against fakes -----------------------------------------------------
class FakeInformer:
    def __init__(self):
        self.cache = {}

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}" if namespace else name)

    def put(self, obj):
        self.cache[f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"] = obj


class FakeInformers:
    def __init__(self):
        self.by_path = {}

    def add_handler(self, path, fn):
        return self.by_path.setdefault(path, FakeInformer())


class FakeClient:
    def __init__(self):
        self.calls = []

    async def create(self, path, obj):
        self.calls.append(("create", path, obj))
        return dict(obj, metadata=dict(obj["metadata"], resourceVersion="1"))

    async def update(self, path, obj):
        self.calls.append(("update", path, obj))
        return dict(obj, metadata=dict(obj["metadata"], resourceVersion="2"))

    async def delete(self, path, options=None):
        self.calls.append(("delete", path, options))
        return {}


class FakeRecorder:
    def __init__(self):
        self.events = []

    def record(self, obj, kind, reason, message):
        self.events.append((kind, reason, message))


def test_sync_creates_skips_a_no_op_waits_for_its_own_write_and_deletes():
    async def go():
        informers, client = FakeInformers(), FakeClient()
        ctl = ep.EndpointsController(client, informers, FakeRecorder())
        ctl.services.put(service())
        ctl.pods.put(pod("a", "10.1.0.1"))
        await ctl.sync("ns/web")
        (call,) = client.calls
        assert call[:2] == ("create", "/api/v1/namespaces/ns/endpoints")
        created = dict(call[2], metadata=dict(call[2]["metadata"], resourceVersion="1"))
        assert created["metadata"]["annotations"] == {eu.TRIGGER_TIME: "2026-01-01T00:00:00Z"}
        ctl.endpoints.put(created)
        client.calls.clear()
        await ctl.sync("ns/web")                       # nothing changed
        assert client.calls == []
        ctl.pods.put(pod("b", "10.1.0.2"))
        await ctl.sync("ns/web")
        assert [c[0] for c in client.calls] == ["update"]
        # the informer has not brought the update yet: retry rather than write again
        ctl.pods.put(pod("c", "10.1.0.3"))
        with pytest.raises(ApiError):
            await ctl.sync("ns/web")
        ctl.services.cache.clear()                     # the Service is gone
        client.calls.clear()
        await ctl.sync("ns/web")
        assert client.calls == [("delete", "/api/v1/namespaces/ns/endpoints/web", None)]
        # a selectorless Service's Endpoints is left alone
        ctl.services.put(service(selector={}))
        client.calls.clear()
        await ctl.sync("ns/web")
        assert client.calls == []
    asyncio.run(go())
