"""The endpointslice controller: how the reconciler plans slices (labels, owner, conditions,
zone, ports, the per-slice limit, updates in place, the placeholder, missing nodes) and how
the tracker tells the controller's own writes from others'."""
from __future__ import annotations

import asyncio

import pytest

from apiserver.client import ApiError
from tests.workers.controllers.test_endpoints import (
    NODES, FakeClient, FakeInformers, FakeRecorder, pod, service,
)
from workers.controllers import endpointslice_reconciler as rec
from workers.controllers.endpointslice import EndpointSliceController, SliceTracker
from workers.controllers.manager import CONTROLLERS, RECORDER_NAMES, parse_args


def _named(plan_slices, start=0):
    for i, s in enumerate(plan_slices, start):
        s["metadata"].update(name=f"web-{i}", uid=f"s{i}", resourceVersion="1")
    return plan_slices


def test_a_new_slice_carries_labels_owner_conditions_zone_and_ports():
    plan = rec.reconcile(service(), [pod("a", "10.1.0.1"), pod("b", "10.1.0.2", ready=False,
                                                                node="n2"),
                                     pod("c", "10.1.0.3", deleting=True)], [], NODES)
    assert not plan.update and not plan.delete and not plan.errors
    (s,) = plan.create
    assert s["metadata"]["generateName"] == "web-"
    assert s["metadata"]["labels"] == {"team": "a", rec.SERVICE_NAME: "web",
                                       rec.MANAGED_BY: rec.CONTROLLER_NAME}
    assert s["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-uid",
         "controller": True, "blockOwnerDeletion": True}]
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    by_name = {e["targetRef"]["name"]: e for e in s["endpoints"]}
    assert by_name["a"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert by_name["a"]["zone"] == "zone-a" and by_name["a"]["nodeName"] == "n1"
    assert by_name["b"]["conditions"] == {"ready": False, "serving": False,
                                          "terminating": False}
    assert "zone" not in by_name["b"]
    assert by_name["c"]["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_at_most_max_endpoints_per_slice_and_updates_in_place():
    pods = [pod(f"p{i}", f"10.1.0.{i + 1}") for i in range(5)]
    plan = rec.reconcile(service(), pods, [], NODES, max_per_slice=2)
    assert sorted(len(s["endpoints"]) for s in plan.create) == [1, 2, 2]
    slices = _named(plan.create)
    # nothing changed: nothing to do
    again = rec.reconcile(service(), pods, slices, NODES, max_per_slice=2)
    assert (again.create, again.update, again.delete) == ([], [], [])
    # one pod turns unready: only its slice is rewritten
    pods[0]["status"]["conditions"][0]["status"] = "False"
    changed = rec.reconcile(service(), pods, slices, NODES, max_per_slice=2)
    assert not changed.create and not changed.delete and len(changed.update) == 1
    (u,) = changed.update
    assert any(e["targetRef"]["name"] == "p0" and e["conditions"]["ready"] is False
               for e in u["endpoints"])


def test_removed_endpoints_empty_a_slice_which_is_deleted_and_a_placeholder_stays():
    pods = [pod("a", "10.1.0.1")]
    slices = _named(rec.reconcile(service(), pods, [], NODES).create)
    gone = rec.reconcile(service(), [], slices, NODES)
    # the emptied slice would be deleted and a placeholder created: it becomes an update
    assert not gone.create and not gone.delete
    (u,) = gone.update
    assert u["metadata"]["name"] == "web-0" and u["endpoints"] == [] and u["ports"] == []
    placeholder = _named([u])
    assert rec.reconcile(service(), [], placeholder, NODES).update == []


def test_pods_on_missing_nodes_are_skipped_with_an_error_and_other_owners_slices_go():
    plan = rec.reconcile(service(), [pod("a", "10.1.0.1", node="ghost")], [], NODES)
    assert plan.errors and "Node ghost Not Found" in plan.errors[0]
    stranger = _named(rec.reconcile(service(), [pod("a", "10.1.0.1")], [], NODES).create)
    stranger[0]["metadata"]["ownerReferences"][0]["uid"] = "old-service"
    plan = rec.reconcile(service(), [pod("a", "10.1.0.1")], stranger, NODES)
    assert [s["metadata"]["name"] for s in plan.delete] == ["web-0"]
    assert len(plan.create) == 1


def test_leftovers_go_to_the_unchanged_slice_that_fits_them_most_closely():
    pods = [pod(f"p{i}", f"10.1.0.{i + 1}") for i in range(7)]
    # two slices: one with 4 endpoints, one with 2 (limit 5)
    first = rec.reconcile(service(), pods[:4], [], NODES, max_per_slice=5).create
    second = rec.reconcile(service(), pods[4:6], [], NODES, max_per_slice=5).create
    slices = _named(first + second)
    plan = rec.reconcile(service(), pods, slices, NODES, max_per_slice=5)
    assert not plan.create and not plan.delete
    (u,) = plan.update
    # the fuller slice (4 + 1 = 5) is the closest fit for the one new endpoint
    assert u["metadata"]["name"] == "web-0" and len(u["endpoints"]) == 5


def test_service_labels_are_copied_and_reserved_ones_overridden():
    svc = service(cluster_ip="None")
    svc["metadata"]["labels"] = {"team": "b", rec.SERVICE_NAME: "spoof", rec.MANAGED_BY: "me"}
    assert rec.slice_labels(svc) == {"team": "b", rec.SERVICE_NAME: "web",
                                     rec.MANAGED_BY: rec.CONTROLLER_NAME,
                                     "service.kubernetes.io/headless": ""}
    slices = _named(rec.reconcile(service(), [pod("a", "10.1.0.1")], [], NODES).create)
    relabelled = rec.reconcile(svc, [pod("a", "10.1.0.1")], slices, NODES)
    (u,) = relabelled.update
    assert u["metadata"]["labels"]["team"] == "b"


def test_publish_not_ready_marks_everything_ready_and_keeps_pods_of_missing_nodes():
    svc = service(publish=True)
    plan = rec.reconcile(svc, [pod("a", "10.1.0.1", ready=False, node="ghost")], [], NODES)
    assert not plan.errors
    (s,) = plan.create
    assert s["endpoints"][0]["conditions"] == {"ready": True, "serving": False,
                                               "terminating": False}


def test_slices_of_an_address_type_the_service_dropped_are_deleted():
    slices = _named(rec.reconcile(service(), [pod("a", "10.1.0.1")], [], NODES).create)
    v6 = service()
    v6["spec"]["ipFamilies"] = ["IPv6"]
    plan = rec.reconcile(v6, [pod("a", "10.1.0.1")], slices, NODES)
    assert [s["metadata"]["name"] for s in plan.delete] == ["web-0"]
    # no IPv6 addresses: an IPv6 placeholder
    assert [(s["addressType"], s["endpoints"]) for s in plan.create] == [("IPv6", [])]


def _slice(uid, generation, service_name="web"):
    return {"metadata": {"name": f"web-{uid}", "namespace": "ns", "uid": uid,
                         "generation": generation,
                         "labels": {rec.SERVICE_NAME: service_name,
                                    rec.MANAGED_BY: rec.CONTROLLER_NAME}}}


def test_the_tracker_tells_own_writes_from_others_and_detects_a_lagging_cache():
    t = SliceTracker()
    assert not t.stale("ns/web", [])
    t.update(_slice("a", 2))
    assert t.stale("ns/web", [])                       # created, not seen yet
    assert t.stale("ns/web", [_slice("a", 1)])         # an older generation
    assert not t.stale("ns/web", [_slice("a", 2)])
    assert not t.should_sync(_slice("a", 2))           # our own write
    assert t.should_sync(_slice("a", 3))               # someone else's
    assert t.should_sync(_slice("b", 1))               # unknown
    t.expect_deletion(_slice("a", 2))
    assert t.stale("ns/web", [_slice("a", 2)])         # deleted, still cached
    assert not t.stale("ns/web", [])
    assert t.handle_deletion(_slice("a", 2))           # we deleted it: no sync
    t.update(_slice("c", 1))
    assert not t.handle_deletion(_slice("c", 1))       # someone else deleted it
    assert not t.has(_slice("c", 1))


def test_both_controllers_run_under_upstreams_names_and_flag():
    assert {"endpoint", "endpointslice"} <= set(CONTROLLERS)
    assert RECORDER_NAMES["endpointslice"] == "endpoint-slice-controller"
    assert "endpoint" not in RECORDER_NAMES               # "endpoint-controller"
    assert parse_args(["--kubeconfig", "k"]).max_endpoints_per_slice == 100
    assert parse_args(["--kubeconfig", "k", "--max-endpoints-per-slice", "7"]) \
        .max_endpoints_per_slice == 7


def test_the_controller_creates_then_waits_for_its_slice_before_writing_again():
    class Client(FakeClient):
        async def create(self, path, obj):
            self.calls.append(("create", path, obj))
            return dict(obj, metadata=dict(obj["metadata"], name="web-x", uid="u1",
                                           generation=1, resourceVersion="1"))

    async def go():
        client, recorder = Client(), FakeRecorder()
        ctl = EndpointSliceController(client, FakeInformers(), recorder)
        ctl.services.put(service())
        ctl.nodes.cache.update(NODES)
        ctl.pods.put(pod("a", "10.1.0.1"))
        await ctl.sync("ns/web")
        assert [c[0] for c in client.calls] == ["create"]
        ctl.pods.put(pod("b", "10.1.0.2"))
        with pytest.raises(ApiError):                 # the slice is not in the cache yet
            await ctl.sync("ns/web")
        assert len(client.calls) == 1
        # a pod on a node that does not exist: skipped, an event, and a retry
        ctl.pods.put(pod("c", "10.1.0.3", node="ghost"))
        ctl.tracker.forget("ns/web")
        with pytest.raises(ApiError):
            await ctl.sync("ns/web")
        assert recorder.events[-1][1] == "FailedToUpdateEndpointSlices"
        assert "Node ghost Not Found" in recorder.events[-1][2]
    asyncio.run(go())


def test_prefer_close_hints_each_endpoint_to_its_zone_and_hints_go_without_it():
    close = service()
    close["spec"]["trafficDistribution"] = "PreferClose"
    pods = [pod("a", "10.1.0.1"), pod("b", "10.1.0.2", node="n2")]
    (s,) = rec.reconcile(close, pods, [], NODES).create
    hints = {e["targetRef"]["name"]: e.get("hints") for e in s["endpoints"]}
    assert hints == {"a": {"forZones": [{"name": "zone-a"}]}, "b": None}
    slices = _named([s])
    assert rec.reconcile(close, pods, slices, NODES).update == []
    (u,) = rec.reconcile(service(), pods, slices, NODES).update
    assert all("hints" not in e for e in u["endpoints"])
    close["metadata"]["annotations"] = {rec.TOPOLOGY_MODE: "Auto"}
    assert not rec.prefers_close(close)
