"""coordination.k8s.io/v1 Lease."""
from __future__ import annotations

from resources.coordination.leases import LeaseStrategy
from apiserver.registry.context import RequestContext


def lease(**spec):
    return {"metadata": {"name": "l", "namespace": "kube-node-lease",
                         "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}


def test_validation():
    s = LeaseStrategy()
    assert s.validate(RequestContext(), lease(holderIdentity="n1", leaseDurationSeconds=40)) == []
    assert [e.error_text() for e in s.validate(RequestContext(), lease(leaseDurationSeconds=0, leaseTransitions=-1))] == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]
    assert [e.error_text() for e in s.validate(RequestContext(), lease(preferredHolder="x"))] == [
        "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"]


def test_table():
    s = LeaseStrategy()
    assert [c.name for c in s.columns] == ["Name", "Holder", "Age"]
    assert s.table_row(lease(holderIdentity="node-1"))[:2] == ["l", "node-1"]
    assert s.table_row(lease())[:2] == ["l", ""]
    assert s.group == "coordination.k8s.io" and s.namespaced
