"""discovery.k8s.io/v1 EndpointSlice."""
from __future__ import annotations

from resources.discovery.endpointslices import EndpointSliceStrategy
from apiserver.registry.context import RequestContext


def eps(address_type="IPv4", **fields):
    obj = {"metadata": {"name": "web-abc", "namespace": "default",
                        "creationTimestamp": "2024-01-01T00:00:00Z"},
           "addressType": address_type, "ports": [{"port": 80}],
           "endpoints": [{"addresses": ["10.0.0.1"]}]}
    if address_type is None:
        del obj["addressType"]
    obj.update(fields)
    EndpointSliceStrategy().default(obj)
    return obj


def texts(errs):
    return [e.error_text() for e in errs]


def test_defaults_and_valid():
    s = EndpointSliceStrategy()
    obj = eps()
    assert obj["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert s.validate(RequestContext(), obj) == []
    assert s.tracks_generation


def test_address_type_required_supported_and_immutable():
    s = EndpointSliceStrategy()
    assert texts(s.validate(RequestContext(), eps(None))) == ["addressType: Required value"]
    assert texts(s.validate(RequestContext(), eps("IPv5", endpoints=[]))) == [
        'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"']
    old, new = eps("IPv4", endpoints=[]), eps("IPv6", endpoints=[])
    assert texts(s.validate_update(RequestContext(), new, old)) == ['addressType: Invalid value: "IPv6": field is immutable']


def test_addresses_checked_against_type():
    s = EndpointSliceStrategy()
    out = texts(s.validate(RequestContext(), eps(endpoints=[{"addresses": ["fe80::1"]}, {"addresses": []}])))
    assert out == ['endpoints[0].addresses[0]: Invalid value: "fe80::1": must be an IPv4 address',
                   "endpoints[1].addresses: Required value: must contain at least 1 address"]


def test_table_row():
    s = EndpointSliceStrategy()
    obj = eps(ports=[{"port": 80}, {"name": "dns"}, {}, {"port": 443}],
              endpoints=[{"addresses": ["10.0.0.1", "10.0.0.2"]}, {"addresses": ["10.0.0.3", "10.0.0.4"]}])
    assert s.table_row(obj)[:4] == ["web-abc", "IPv4", "80,dns, + 1 more...",  # name defaults to ""
                                    "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."]
    assert s.table_row(eps(ports=[], endpoints=[]))[2:4] == ["<unset>", "<unset>"]
    assert [c.name for c in s.columns] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
