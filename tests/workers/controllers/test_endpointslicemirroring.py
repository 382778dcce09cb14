"""The endpointslice-mirroring controller's plan: hand-written Endpoints of a selectorless
Service become slices per address type and port list, with the Endpoints' labels and
annotations, ready and not-ready addresses, invalid IPs and the per-subset cap skipped."""
from __future__ import annotations

from workers.controllers import endpointslice_reconciler as rec
from workers.controllers import endpointslicemirroring as m


def endpoints(subsets, labels=None, annotations=None):
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "db", "namespace": "ns", "uid": "ep-uid",
                         "labels": labels or {"team": "a"},
                         "annotations": annotations or {}},
            "subsets": subsets}


PORTS = [{"name": "sql", "port": 5432, "protocol": "TCP"}]


def _named(slices):
    for i, s in enumerate(slices):
        s["metadata"].pop("generateName", None)
        s["metadata"].update(name=f"db-{i}", uid=f"s{i}", resourceVersion="1")
    return slices


def test_subsets_become_one_slice_per_address_type_and_ports():
    ep = endpoints([{"addresses": [{"ip": "10.0.0.1", "nodeName": "n1"}, {"ip": "fd00::1"}],
                     "notReadyAddresses": [{"ip": "10.0.0.2", "hostname": "b"}],
                     "ports": PORTS},
                    {"addresses": [{"ip": "10.0.0.3"}], "ports": [{"port": 80}]}],
                   annotations={m.LAST_APPLIED: "{}", "note": "x",
                                "endpoints.kubernetes.io/last-change-trigger-time": "t"})
    plan, invalid, skipped = m.mirror_plan(ep, [])
    assert (invalid, skipped, plan.update, plan.delete) == (0, 0, [], [])
    shapes = sorted((s["addressType"], s["ports"][0]["port"],
                     sorted(e["addresses"][0] for e in s["endpoints"])) for s in plan.create)
    assert shapes == [("IPv4", 80, ["10.0.0.3"]), ("IPv4", 5432, ["10.0.0.1", "10.0.0.2"]),
                      ("IPv6", 5432, ["fd00::1"])]
    s = next(s for s in plan.create if s["addressType"] == "IPv4" and s["ports"] == [
        {"name": "sql", "port": 5432, "protocol": "TCP"}])
    assert s["metadata"]["generateName"] == "db-"
    assert s["metadata"]["labels"] == {"team": "a", rec.SERVICE_NAME: "db",
                                       rec.MANAGED_BY: m.CONTROLLER_NAME}
    assert s["metadata"]["annotations"] == {"note": "x"}
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    by_ip = {e["addresses"][0]: e for e in s["endpoints"]}
    assert by_ip["10.0.0.1"] == {"addresses": ["10.0.0.1"], "conditions": {"ready": True},
                                 "nodeName": "n1"}
    assert by_ip["10.0.0.2"]["conditions"] == {"ready": False}
    assert by_ip["10.0.0.2"]["hostname"] == "b"


def test_unchanged_mirrors_are_left_alone_and_changes_update_in_place():
    ep = endpoints([{"addresses": [{"ip": "10.0.0.1"}], "ports": PORTS}])
    slices = _named(m.mirror_plan(ep, [])[0].create)
    plan, _, _ = m.mirror_plan(ep, slices)
    assert (plan.create, plan.update, plan.delete) == ([], [], [])
    ep["subsets"][0]["addresses"].append({"ip": "10.0.0.2"})
    plan, _, _ = m.mirror_plan(ep, slices)
    (u,) = plan.update
    assert u["metadata"]["name"] == "db-0" and len(u["endpoints"]) == 2
    # new ports: the old slice is recycled for them
    ep["subsets"][0]["ports"] = [{"port": 6543}]
    plan, _, _ = m.mirror_plan(ep, slices)
    assert not plan.create and not plan.delete
    (u,) = plan.update
    assert u["metadata"]["name"] == "db-0" and u["ports"][0]["port"] == 6543
    # no addresses left: deleted
    plan, _, _ = m.mirror_plan(endpoints([]), slices)
    assert [s["metadata"]["name"] for s in plan.delete] == ["db-0"]


def test_invalid_ips_and_addresses_beyond_the_cap_are_skipped():
    ep = endpoints([{"addresses": [{"ip": "nope"}] +
                     [{"ip": f"10.0.0.{i}"} for i in range(1, 6)], "ports": PORTS}])
    plan, invalid, skipped = m.mirror_plan(ep, [], max_per_subset=3)
    assert invalid == 1 and skipped == 3
    (s,) = plan.create
    assert len(s["endpoints"]) == 3


def test_skip_mirror_and_leader_records_are_not_mirrored():
    assert m.should_mirror(endpoints([]))
    assert not m.should_mirror(endpoints([], labels={m.SKIP_MIRROR: "true"}))
    assert not m.should_mirror(endpoints([], annotations={
        "control-plane.alpha.kubernetes.io/leader": "{}"}))
    assert not m.should_mirror(None)
