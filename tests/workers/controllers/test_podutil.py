"""Which surplus pods a ReplicaSet deletes first, and pods made from templates."""
from __future__ import annotations

from workers.controllers import podutil


def pod(name, node="", phase="Running", ready=False, created="2026-01-01T00:00:00Z",
        cost=None, restarts=0):
    p = {"metadata": {"name": name, "creationTimestamp": created, "annotations": {}},
         "spec": {"nodeName": node} if node else {},
         "status": {"phase": phase, "conditions": [
             {"type": "Ready", "status": "True" if ready else "False",
              "lastTransitionTime": "2026-01-01T00:00:00Z"}],
             "containerStatuses": [{"restartCount": restarts}]}}
    if cost is not None:
        p["metadata"]["annotations"][podutil.DELETION_COST] = str(cost)
    return p


def names(pods):
    return [p["metadata"]["name"] for p in podutil.deletion_order(pods)]


def test_unscheduled_pending_and_unready_pods_go_first():
    pods = [pod("ready", "n1", ready=True), pod("unready", "n1"),
            pod("pending", "n1", phase="Pending"), pod("unscheduled", phase="Pending")]
    assert names(pods) == ["unscheduled", "pending", "unready", "ready"]


def test_deletion_cost_then_doubled_up_nodes_then_newer():
    pods = [pod("cheap", "n1", ready=True, cost=-5), pod("alone", "n2", ready=True),
            pod("crowded", "n3", ready=True), pod("crowded-2", "n3", ready=True,
                                                  created="2026-01-02T00:00:00Z")]
    assert names(pods) == ["cheap", "crowded-2", "crowded", "alone"]


def test_available_needs_min_ready_seconds_of_readiness():
    p = pod("a", "n1", ready=True)
    since = podutil.parse_time("2026-01-01T00:00:00Z")
    assert podutil.is_available(p, 10, since + 10)
    assert not podutil.is_available(p, 10, since + 9)
    assert not podutil.is_available(pod("b"), 0, since)


def test_a_pod_from_a_template_is_owned_by_its_controller():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "web-abc", "namespace": "ns", "uid": "u1"}}
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    p = podutil.pod_from_template(owner, template)
    assert p["metadata"]["generateName"] == "web-abc-"
    assert p["metadata"]["labels"] == {"app": "web"}
    assert p["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1",
         "controller": True, "blockOwnerDeletion": True}]
    assert podutil.controller_ref(p)["uid"] == "u1"
