"""NetworkPolicy: defaults, validation messages as upstream renders them, the table.

Cases after kubernetes/kubernetes:pkg/apis/networking/v1/defaults_test.go
(TestSetDefaultNetworkPolicy) and pkg/apis/networking/validation/validation_test.go
(TestValidateNetworkPolicy, TestValidateIPBlock).
"""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from resources.networking.networkpolicies import NetworkPolicyStrategy
from tests.apiserver.storage.support import ensure_revision_row


@pytest.fixture
def policies(stores):
    ensure_revision_row()
    return stores.store("networking.k8s.io", "v1", "networkpolicies")


def policy(name="deny", **spec):
    return {"metadata": {"name": name}, "spec": spec}


def causes(store, ctx, obj) -> list:
    with pytest.raises(errors.Invalid) as exc:
        store.create("default", obj, ctx)
    return [(c.field, c.message) for c in exc.value.causes]


def test_empty_spec_defaults(policies, ctx):
    obj = orjson.loads(policies.create("default", {"metadata": {"name": "deny"}}, ctx))
    assert obj["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert obj["metadata"]["generation"] == 1


def test_egress_rules_add_egress_type_and_ports_default_tcp(policies, ctx):
    obj = orjson.loads(policies.create("default", policy(
        podSelector={}, ingress=[{"ports": [{"port": 80}]}], egress=[{"ports": [{"port": "dns"}]}]), ctx))
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert obj["spec"]["egress"][0]["ports"] == [{"port": "dns", "protocol": "TCP"}]
    explicit = orjson.loads(policies.create("default", policy(
        "only-egress", podSelector={}, policyTypes=["Egress"]), ctx))
    assert explicit["spec"]["policyTypes"] == ["Egress"]


def test_policy_types(policies, ctx):
    assert causes(policies, ctx, policy(policyTypes=["Ingress", "Sideways"])) == [
        ("spec.policyTypes[1]", 'Unsupported value: "Sideways": supported values: "Ingress", "Egress"')]
    assert causes(policies, ctx, policy(policyTypes=["Ingress", "Egress", "Ingress"])) == [
        ("spec.policyTypes", 'Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: '
                             "may not specify more than two policyTypes")]


def test_ports(policies, ctx):
    got = causes(policies, ctx, policy(ingress=[{"ports": [
        {"protocol": "ICMP"}, {"port": 0}, {"port": 100, "endPort": 50}, {"port": "http", "endPort": 90},
        {"endPort": 10}]}]))
    assert got == [
        ("spec.ingress[0].ports[0].protocol", 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"'),
        ("spec.ingress[0].ports[1].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
        ("spec.ingress[0].ports[2].endPort", "Invalid value: 50: must be greater than or equal to `port`"),
        ("spec.ingress[0].ports[3].endPort", "Invalid value: 90: may not be specified when `port` is non-numeric"),
        ("spec.ingress[0].ports[4].endPort", "Invalid value: 10: may not be specified when `port` is not specified")]


def test_peers(policies, ctx):
    got = causes(policies, ctx, policy(ingress=[{"from": [
        {}, {"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]))
    assert got == [("spec.ingress[0].from[0]", "Required value: must specify a peer"),
                   ("spec.ingress[0].from[1]", "Forbidden: may not specify both ipBlock and another peer")]


def test_ip_block(policies, ctx):
    def block(**b):
        return policy(egress=[{"to": [{"ipBlock": b}]}])
    assert causes(policies, ctx, block()) == [("spec.egress[0].to[0].ipBlock.cidr", "Required value")]
    assert causes(policies, ctx, block(cidr="10.0.0.1")) == [
        ("spec.egress[0].to[0].ipBlock.cidr",
         'Invalid value: "10.0.0.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')]
    assert causes(policies, ctx, block(cidr="10.0.0.0/8", **{"except": [
            "10.0.0.0/8", "192.168.0.0/24", "bogus", "10.2.0.0/16"]})) == [
        ("spec.egress[0].to[0].ipBlock.except[0]", 'Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`'),
        ("spec.egress[0].to[0].ipBlock.except[1]",
         'Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`'),
        ("spec.egress[0].to[0].ipBlock.except[2]",
         'Invalid value: "bogus": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')]


def test_pod_selector_validated(policies, ctx):
    got = causes(policies, ctx, policy(podSelector={"matchExpressions": [
        {"key": "app", "operator": "In"}]}))
    assert got == [("spec.podSelector.matchExpressions[0].values",
                    "Required value: must be specified when `operator` is 'In' or 'NotIn'")]


def test_spec_change_bumps_generation(policies, ctx):
    policies.create("default", policy(podSelector={}), ctx)

    def change(cur):
        cur["spec"]["podSelector"] = {"matchLabels": {"app": "db"}}
        return cur
    obj = orjson.loads(policies.guaranteed_update("default", "deny", change, ctx)[0])
    assert obj["metadata"]["generation"] == 2


def test_table_row():
    s = NetworkPolicyStrategy()
    obj = {"metadata": {"name": "deny", "creationTimestamp": "2024-01-01T00:00:00Z"},
           "spec": {"podSelector": {}}}
    assert s.table_row(obj)[:2] == ["deny", "<none>"]
    obj["spec"]["podSelector"] = {"matchLabels": {"app": "web", "tier": "fe"}}
    assert s.table_row(obj)[:2] == ["deny", "app=web,tier=fe"]
    assert [c.name for c in s.columns] == ["Name", "Pod-Selector", "Age"]
    assert NetworkPolicyStrategy.short_names == ("netpol",)
