"""Node, Endpoints, ServiceAccount, Event, LimitRange and ResourceQuota hooks, and the
registration of every core kind (short names, categories, subresources)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from apiserver.runtime.scheme import scheme
from resources.core.endpoints import EndpointsStrategy
from resources.core.events import EventStrategy
from resources.core.limitranges import LimitRangeStrategy
from resources.core.nodes import NodeStrategy
from resources.core.resourcequotas import ResourceQuotaStrategy
from resources.core.service_alloc import ServiceAllocator
from resources.core.serviceaccounts import ServiceAccountStrategy
from apiserver.registry.context import RequestContext

META = {"name": "x", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}


def texts(errs):
    return [e.error_text() for e in errs]


def ago(**kw) -> str:
    return (datetime.now(timezone.utc) - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("plural,short,categories,subresources,namespaced", [
    ("pods", ("po",), ("all",), ("status", "binding", "eviction", "ephemeralcontainers",
                                 "exec", "attach", "portforward", "log", "proxy"), True),
    ("nodes", ("no",), (), ("status", "proxy"), False),
    ("services", ("svc",), ("all",), ("status", "proxy"), True),
    ("endpoints", ("ep",), (), (), True),
    ("secrets", (), (), (), True),
    ("serviceaccounts", ("sa",), (), ("token",), True),
    ("events", ("ev",), (), (), True),
    ("limitranges", ("limits",), (), (), True),
    ("resourcequotas", ("quota",), (), ("status",), True),
])
def test_registered_declarations(plural, short, categories, subresources, namespaced):
    s = scheme.strategy("", "v1", plural)
    assert s is not None, plural
    assert (s.short_names, s.categories, s.subresource_names(), s.namespaced) == \
        (short, categories, subresources, namespaced)
    assert s.schema_name == f"io.k8s.api.core.v1.{s.kind}"


# ---- Node ----------------------------------------------------------------------------

def node(**status):
    return {"metadata": {"name": "n1", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "labels": {"node-role.kubernetes.io/control-plane": "",
                                    "kubernetes.io/role": "infra"}},
            "spec": {}, "status": status}


def test_node_row_and_wide_cells():
    n = node(conditions=[{"type": "Ready", "status": "True"}],
             addresses=[{"type": "InternalIP", "address": "10.0.0.5"}],
             nodeInfo={"kubeletVersion": "v1.32.0", "osImage": "Debian"})
    row = NodeStrategy().table_row(n)
    assert row[:3] == ["n1", "Ready", "control-plane,infra"] and row[4] == "v1.32.0"
    assert row[5:] == ["10.0.0.5", "<none>", "Debian", "<unknown>", "<unknown>"]
    n["spec"]["unschedulable"] = True
    n["status"]["conditions"][0]["status"] = "Unknown"
    assert NodeStrategy().table_row(n)[1] == "NotReady,SchedulingDisabled"
    assert NodeStrategy().table_row(node())[1] == "Unknown"
    assert NodeStrategy.selectable_fields["spec.unschedulable"](n) == "true"
    assert [c.priority for c in NodeStrategy.columns] == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_node_create_keeps_status_and_defaults_allocatable():
    n = node(capacity={"cpu": "4"})
    s = NodeStrategy()
    s.default(n)
    s.prepare_for_create(RequestContext(), n)
    assert n["status"]["allocatable"] == {"cpu": "4"}


def test_node_taints_and_pod_cidr_update():
    s = NodeStrategy()
    n = node()
    n["spec"] = {"taints": [{"key": "k", "effect": "Sometimes"}], "podCIDRs": ["nope"]}
    assert texts(s.validate(RequestContext(), n)) == [
        'spec.podCIDRs[0]: Invalid value: "nope": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"']
    old, new = node(), node()
    old["spec"] = {"podCIDRs": ["10.244.0.0/24"]}
    new["spec"] = {"podCIDRs": ["10.244.1.0/24"]}
    assert texts(s.validate_update(RequestContext(), new, old)) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']


# ---- Endpoints -------------------------------------------------------------------------

def test_endpoints_row_and_validation():
    s = EndpointsStrategy()
    ep = {"metadata": dict(META), "subsets": [
        {"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)], "ports": [{"port": 80}, {"port": 443, "name": "b"}]}]}
    s.default(ep)
    assert s.table_row(ep)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."
    assert texts(s.validate(RequestContext(), ep)) == ["subsets[0].ports[0].name: Required value"]
    assert s.table_row({"metadata": dict(META)})[1] == "<none>"
    bad = {"metadata": dict(META), "subsets": [{"addresses": [{"ip": "127.0.0.1"}, {"ip": "x"}]}]}
    assert texts(s.validate(RequestContext(), bad)) == [
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'subsets[0].addresses[1].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']


def test_service_account_row():
    sa = {"metadata": dict(META), "secrets": [{"name": "t"}]}
    assert ServiceAccountStrategy().table_row(sa)[:2] == ["x", 1]


# ---- Event -----------------------------------------------------------------------------

def test_event_row_like_kubectl():
    ev = {"metadata": {**META, "name": "web.17"}, "type": "Normal", "reason": "Scheduled",
          "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "fieldPath": "spec"},
          "message": " Successfully assigned \n", "source": {"component": "default-scheduler"},
          "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(minutes=3), "count": 4}
    s = EventStrategy()
    assert s.table_row(ev) == ["3m", "Normal", "Scheduled", "pod/web", "spec", "default-scheduler",
                               "Successfully assigned", "10m", 4, "web.17"]
    assert [c.name for c in s.columns if c.priority == 0] == ["Last Seen", "Type", "Reason", "Object", "Message"]
    series = {**ev, "firstTimestamp": None, "lastTimestamp": None, "count": None,
              "eventTime": "2024-01-01T00:00:00.000000Z", "reportingComponent": "kubelet",
              "reportingInstance": "n1", "source": {},
              "series": {"count": 7, "lastObservedTime": datetime.now(timezone.utc).isoformat()}}
    row = s.table_row(series)
    assert row[0] == "0s" and row[5] == "kubelet, n1" and row[8] == 7


def test_event_selectable_fields_and_validation():
    s = EventStrategy()
    ev = {"metadata": dict(META), "involvedObject": {"kind": "Pod", "name": "web", "namespace": "other"},
          "reportingComponent": "kubelet", "reason": "Pulled"}
    fields = {k: f(ev) for k, f in s.selectable_fields.items()}
    assert fields["involvedObject.kind"] == "Pod" and fields["source"] == "kubelet"
    assert fields["reportingComponent"] == "kubelet" and fields["involvedObject.uid"] == ""
    assert texts(s.validate(RequestContext(), ev)) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    new_style = {"metadata": dict(META), "eventTime": "2024-01-01T00:00:00.000000Z",
                 "involvedObject": {"kind": "Pod", "namespace": "default"}}
    assert texts(s.validate(RequestContext(), new_style))[:1] == ["reportingComponent: Required value"]
    assert "action: Required value" in texts(s.validate(RequestContext(), new_style))


# ---- LimitRange / ResourceQuota ------------------------------------------------------

def test_limit_range_defaults_and_order_checks():
    s = LimitRangeStrategy()
    lr = {"metadata": dict(META), "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                                                        "min": {"memory": "64Mi"}}]}}
    s.default(lr)
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "1"} and item["defaultRequest"] == {"cpu": "1", "memory": "64Mi"}
    bad = {"metadata": dict(META), "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
                                                        {"type": "Pod", "default": {"cpu": "1"}}]}}
    got = texts(s.validate(RequestContext(), bad))
    assert got[0] == 'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'
    assert "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'" in got
    assert s.table_row(lr) == ["x", "2024-01-01T00:00:00Z"]
    assert [(c.name, c.type) for c in s.columns] == [("Name", "string"), ("Created At", "date")]


def test_resource_quota_status_and_row():
    s = ResourceQuotaStrategy()
    q = {"metadata": dict(META), "spec": {"hard": {"requests.cpu": "1000m", "limits.memory": "1Gi", "pods": "10"}},
         "status": {"used": {"pods": "99"}}}
    s.prepare_for_create(RequestContext(), q)
    assert q["status"] == {"hard": q["spec"]["hard"]}
    q["status"]["used"] = {"pods": "3"}
    assert s.table_row(q)[2:] == ["pods: 3/10, requests.cpu: 0/1", "limits.memory: 0/1Gi"]
    assert [c.name for c in s.columns] == ["Name", "Age", "Request", "Limit"]
    bad = {"metadata": dict(META), "spec": {"hard": {"cpu": "lots"}, "scopes": ["Sometimes"]}}
    got = texts(s.validate(RequestContext(), bad))
    assert got[0].startswith('spec.hard[cpu]: Invalid value: "lots"')
    assert got[1].startswith('spec.scopes[0]: Unsupported value: "Sometimes"')


# ---- allocator -----------------------------------------------------------------------

def test_allocator_reserves_values_picked_but_not_yet_stored():
    a = ServiceAllocator(lambda: [], cidr="10.0.0.0/29", rng=random.Random(3))
    ips = {a.allocate_ip() for _ in range(6)}
    assert len(ips) == 6                       # nothing stored yet, still no repeats
    ports = {a.allocate_node_port() for _ in range(50)}
    assert len(ports) == 50
