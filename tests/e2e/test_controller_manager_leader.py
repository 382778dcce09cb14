"""Controller managers on a server of their own (``up --no-workers``): two instances with
leader election share the work through the kube-system/kube-controller-manager Lease (one
acts, the other takes over when the first stops), and a restarted manager resumes from what
the API holds without making a pod twice."""
from __future__ import annotations

import json
import time

import pytest

from controller_support import controller_manager, wait_for
from watch_support import ServerGroup, new_namespace

LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager"
FAST = ("--leader-elect", "--leader-elect-lease-duration", "3",
        "--leader-elect-renew-deadline", "2", "--leader-elect-retry-period", "0.5",
        "--controllers", "replicaset,garbagecollector")


@pytest.fixture(scope="module")
def bare():
    """A server whose ``up`` runs no controller manager."""
    group = ServerGroup()
    try:
        yield group.start()
    finally:
        group.stop()


def replica_set(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "c", "image": "busybox"}]}}}}


def pods_of(server, ns: str, name: str) -> list[dict]:
    items = server.get_json(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3D{name}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def holder(server) -> str | None:
    status, _, body = server.request("GET", LEASE)
    return json.loads(body)["spec"].get("holderIdentity") if status == 200 else None


def settled_count(server, ns: str, name: str, want: int) -> int:
    """Wait for ``want`` pods, then a moment more: a duplicate would show up meanwhile."""
    wait_for(lambda: len(pods_of(server, ns, name)) >= want, 30)
    time.sleep(1)
    return len(pods_of(server, ns, name))


def create(server, ns: str, obj: dict) -> None:
    status, _, body = server.request("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", obj)
    assert status == 201, body


def scale(server, ns: str, name: str, replicas: int) -> None:
    status, _, body = server.request(
        "PATCH", f"/apis/apps/v1/namespaces/{ns}/replicasets/{name}",
        json.dumps({"spec": {"replicas": replicas}}).encode(),
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body


def test_two_instances_elect_one_leader_that_hands_over(bare):
    ns = new_namespace(bare)
    with controller_manager(bare, *FAST, log_name="leader-a.log") as a:
        first = wait_for(lambda: holder(bare), 20, "a leader")
        with controller_manager(bare, *FAST, log_name="leader-b.log") as b:
            create(bare, ns, replica_set("rs", 5))
            assert settled_count(bare, ns, "rs", 5) == 5
            assert holder(bare) == first                   # the second one only waits
            a.terminate()                                  # the leader stops: it releases
            a.wait(10)
            second = wait_for(lambda: (h := holder(bare)) and h != first and h, 20,
                              "the other instance to take the lease")
            assert second and b.poll() is None
            scale(bare, ns, "rs", 8)
            assert settled_count(bare, ns, "rs", 8) == 8
    # both gone: the lease is released, nobody holds it
    assert not holder(bare)


def test_a_restarted_manager_resumes_without_duplicates(bare):
    ns = new_namespace(bare)
    create(bare, ns, replica_set("before", 4))          # made while no manager runs
    assert pods_of(bare, ns, "before") == []
    with controller_manager(bare, "--controllers", "replicaset", log_name="restart-1.log"):
        assert settled_count(bare, ns, "before", 4) == 4
        uids = {p["metadata"]["uid"] for p in pods_of(bare, ns, "before")}
    create(bare, ns, replica_set("between", 3))         # while it is down
    with controller_manager(bare, "--controllers", "replicaset", log_name="restart-2.log"):
        assert settled_count(bare, ns, "between", 3) == 3
        # the first set's pods were already there: none replaced, none added
        assert {p["metadata"]["uid"] for p in pods_of(bare, ns, "before")} == uids
