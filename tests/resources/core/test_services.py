"""Service strategy and allocation.

Pure tests call the hooks with an allocator over an in-memory list of Services; the DB tests
go through the Store (upstream pkg/registry/core/service/storage/storage_test.go:
TestCreateInitClusterIPsFromClusterIP, TestServiceRegistryIPReallocation, NodePort cases).
"""
from __future__ import annotations

import copy
import ipaddress
import random

import orjson
import pytest

from apiserver.runtime import errors
from resources.core.service_alloc import ServiceAllocator, range_offset
from resources.core.services import ServiceStrategy
from apiserver.registry.context import RequestContext
from tests.apiserver.storage.support import ensure_revision_row

S = ServiceStrategy()


@pytest.fixture
def stored():
    """Services the in-memory allocator treats as stored."""
    items: list = []
    S.allocator = ServiceAllocator(lambda: items, rng=random.Random(7))
    yield items
    S.allocator = None


def svc(name="web", **spec):
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}
    return body


def created(body):
    S.default(body)
    S.prepare_for_create(RequestContext(), body)
    return body


def texts(errs):
    return [e.error_text() for e in errs]


# ---- defaults and create -----------------------------------------------------------------

def test_defaults_and_allocation(stored):
    body = created(svc())
    spec = body["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    ip = ipaddress.ip_address(spec["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12") and spec["clusterIPs"] == [spec["clusterIP"]]
    assert int(ip) - int(ipaddress.ip_address("10.96.0.0")) >= range_offset(2 ** 20)  # upper band
    assert body["status"] == {"loadBalancer": {}}
    assert "externalTrafficPolicy" not in spec
    assert S.validate(RequestContext(), body) == []


def test_node_port_service_gets_node_ports(stored):
    body = created(svc(type="NodePort", ports=[{"port": 80}, {"port": 443, "name": "https"}]))
    ports = [p["nodePort"] for p in body["spec"]["ports"]]
    assert all(30000 <= p <= 32767 for p in ports) and len(set(ports)) == 2
    assert body["spec"]["externalTrafficPolicy"] == "Cluster"


def test_load_balancer_defaults(stored):
    spec = created(svc(type="LoadBalancer"))["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True and spec["ports"][0]["nodePort"]


def test_headless_and_external_name(stored):
    headless = created(svc(clusterIP="None"))["spec"]
    assert headless["clusterIPs"] == ["None"] and headless["ipFamilyPolicy"] == "SingleStack"
    bare = created(svc(clusterIP="None", selector=None))["spec"]
    assert bare["ipFamilyPolicy"] == "RequireDualStack"
    ext = created(svc(type="ExternalName", externalName="example.com", ports=[]))
    assert "clusterIP" not in ext["spec"] and "ipFamilies" not in ext["spec"]
    assert S.validate(RequestContext(), ext) == []


def test_allocation_skips_used_addresses(stored):
    a = ServiceAllocator(lambda: stored, cidr="10.0.0.0/29", rng=random.Random(1))
    S.allocator = a
    seen = set()
    for i in range(6):                       # /29: 6 usable addresses
        body = created(svc(f"s{i}"))
        seen.add(body["spec"]["clusterIP"])
        stored.append(body)
    assert seen == {f"10.0.0.{i}" for i in range(1, 7)}
    with pytest.raises(errors.InternalError):
        created(svc("full"))


def test_requested_ip_already_allocated(stored):
    stored.append(created(svc("kubernetes", clusterIP="10.96.0.1")))
    with pytest.raises(errors.Invalid) as exc:
        created(svc(clusterIP="10.96.0.1"))
    assert exc.value.message == ('Service "web" is invalid: spec.clusterIPs: Invalid value: '
                                 '[]string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: '
                                 'provided IP is already allocated')


def test_requested_ip_out_of_range(stored):
    with pytest.raises(errors.Invalid) as exc:
        created(svc(clusterIP="192.168.0.1"))
    assert exc.value.causes[0].message.endswith(
        "failed to allocate IP 192.168.0.1: the provided IP (192.168.0.1) is not in the valid "
        "range. The range of valid IPs is 10.96.0.0/12")


def test_requested_node_port_already_allocated(stored):
    stored.append(created(svc("a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])))
    with pytest.raises(errors.Invalid) as exc:
        created(svc("b", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert exc.value.causes[0].field == "spec.ports[0].nodePort"
    assert exc.value.causes[0].message == "Invalid value: 30080: provided port is already allocated"
    with pytest.raises(errors.Invalid) as exc:
        created(svc("c", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert "The range of valid ports is 30000-32767" in exc.value.causes[0].message


# ---- validation --------------------------------------------------------------------------

def test_validation_messages(stored):
    body = svc(ports=[{"port": 0}, {"port": 81, "targetPort": "Bad_Name", "protocol": "ICMP"}],
               type="Weird", sessionAffinity="Sticky")
    S.default(body)
    got = texts(S.validate(RequestContext(), body))
    assert got == [
        "spec.ports[0].name: Required value",
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        # targetPort defaults to port, so upstream reports the 0 twice
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[1].name: Required value",
        'spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.ports[1].targetPort: Invalid value: "Bad_Name": must contain only alpha-numeric '
        'characters (a-z, 0-9), and hyphens (-)',
        'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"',
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
    ]


def test_ports_required_and_node_port_forbidden_for_cluster_ip(stored):
    body = created(svc(ports=[]))
    assert texts(S.validate(RequestContext(), body)) == ["spec.ports: Required value"]
    body = created(svc())
    body["spec"]["ports"][0]["nodePort"] = 30001
    assert texts(S.validate(RequestContext(), body)) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]


def test_external_name_required(stored):
    body = created(svc(type="ExternalName", ports=[]))
    assert texts(S.validate(RequestContext(), body)) == ["spec.externalName: Required value"]


def test_service_names_are_dns1035():
    from apiserver.runtime.validation import validate_name
    assert validate_name("1svc", S.name_rule)[0].detail.startswith("a DNS-1035 label")


# ---- update ------------------------------------------------------------------------------

def test_cluster_ip_is_immutable(stored):
    old = created(svc())
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = new["spec"]["clusterIPs"][0] = "10.96.0.99"
    S.default(new)
    errs = S.validate_update(RequestContext(), new, old)
    assert texts(errs) == ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: '
                           'may not change once set']


def test_put_without_allocated_values_keeps_them(stored):
    old = created(svc(type="NodePort"))
    stored.append(old)
    new = svc(type="NodePort")                   # a client's PUT without clusterIP/nodePort
    S.default(new)
    S.prepare_for_update(RequestContext(), new, old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    assert S.validate_update(RequestContext(), new, old) == []


def test_type_change_allocates_and_drops(stored):
    old = created(svc())
    stored.append(old)
    to_np = copy.deepcopy(old)
    to_np["spec"]["type"] = "NodePort"
    S.default(to_np)
    S.prepare_for_update(RequestContext(), to_np, old)
    assert to_np["spec"]["ports"][0]["nodePort"]
    back = copy.deepcopy(to_np)
    back["spec"]["type"] = "ClusterIP"
    S.default(back)
    S.prepare_for_update(RequestContext(), back, to_np)
    assert "nodePort" not in back["spec"]["ports"][0]
    ext = copy.deepcopy(old)
    ext["spec"].update(type="ExternalName", externalName="example.com")
    S.default(ext)
    S.prepare_for_update(RequestContext(), ext, old)
    assert "clusterIP" not in ext["spec"] and S.validate_update(RequestContext(), ext, old) == []
    assert "internalTrafficPolicy" not in ext["spec"]
    assert "externalTrafficPolicy" not in back["spec"]


# ---- table -------------------------------------------------------------------------------

def test_table_rows(stored):
    assert [(c.name, c.priority) for c in S.columns] == [
        ("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0),
        ("Age", 0), ("Selector", 1)]
    body = created(svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080},
                                               {"port": 53, "protocol": "UDP", "name": "dns"}]))
    row = S.table_row(body)
    assert row[1:5] == ["NodePort", body["spec"]["clusterIP"], "<none>",
                        f"80:30080/TCP,53:{body['spec']['ports'][1]['nodePort']}/UDP"]
    assert row[6] == "app=web"
    lb = created(svc("lb", type="LoadBalancer"))
    assert S.table_row(lb)[3] == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}}
    assert S.table_row(lb)[3] == "1.2.3.4,lb.example"
    headless = created(svc("h", clusterIP="None", ports=[], selector=None))
    assert S.table_row(headless)[2:7] == ["None", "<none>", "<none>", S.table_row(headless)[5], "<none>"]
    ext = created(svc("e", type="ExternalName", externalName="db.example.com", ports=[]))
    assert S.table_row(ext)[2:4] == ["<none>", "db.example.com"]


# ---- through the Store -------------------------------------------------------------------

@pytest.fixture
def svcs(stores):
    ensure_revision_row()
    return stores.store("", "v1", "services")     # its allocator lists the stored Services


def test_store_allocates_unique_ips_and_frees_on_delete(svcs, ctx):
    ips = set()
    for i in range(20):
        obj = orjson.loads(svcs.create("default", svc(f"s{i}"), ctx))
        ips.add(obj["spec"]["clusterIP"])
    assert len(ips) == 20
    taken = orjson.loads(svcs.get("default", "s0"))["spec"]["clusterIP"]
    with pytest.raises(errors.Invalid):
        svcs.create("default", svc("again", clusterIP=taken), ctx)
    svcs.delete("default", "s0", {}, ctx)
    obj = orjson.loads(svcs.create("default", svc("again", clusterIP=taken), ctx))
    assert obj["spec"]["clusterIP"] == taken


def test_store_update_keeps_ip_and_refuses_change(svcs, ctx):
    first = orjson.loads(svcs.create("default", svc(), ctx))
    doc, _ = svcs.update("default", "web", svc(), ctx)        # PUT without clusterIP
    assert orjson.loads(doc)["spec"]["clusterIP"] == first["spec"]["clusterIP"]
    with pytest.raises(errors.Invalid) as exc:
        svcs.update("default", "web", svc(clusterIP="10.96.0.200"), ctx)
    assert exc.value.causes[0].field == "spec.clusterIPs[0]"


def test_store_status_is_reset_on_create(svcs, ctx):
    body = svc(type="LoadBalancer")
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}
    assert orjson.loads(svcs.create("default", body, ctx))["status"] == {"loadBalancer": {}}
