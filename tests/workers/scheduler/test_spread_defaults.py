"""PodTopologySpread's system default constraints: DefaultSelector from the Services that
select a pod and its controller, and the replicas of one controller spread over the nodes
even where the emptier node would otherwise win."""
from __future__ import annotations

import random

from workers.scheduler import framework, spread
from workers.scheduler.framework import CycleState

from .helpers import infos, node, pod

RS_REF = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u",
          "controller": True}


def service(name, selector):
    spec = {} if selector is None else {"selector": selector}
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def replica_set(selector):
    return {"kind": "ReplicaSet", "metadata": {"name": "web-abc"}, "spec": {"selector": selector}}


def web(name, node_name=None, **spec):
    p = pod(name, labels={"app": "web", "pod-template-hash": "abc"}, node_name=node_name, **spec)
    p["metadata"]["ownerReferences"] = [RS_REF]
    return p


def test_default_selector_merges_services_and_adds_the_controllers_selector():
    p = web("p")
    services = [service("web", {"app": "web"}), service("other", {"app": "db"}),
                service("headless-external", None), service("by-hash", {"pod-template-hash": "abc"})]
    rs = replica_set({"matchLabels": {"app": "web"},
                      "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})
    assert spread.default_selector(p, services, rs) == {
        "matchLabels": {"app": "web", "pod-template-hash": "abc"},
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]},
                             {"key": "tier", "operator": "DoesNotExist"}]}
    rc = {"kind": "ReplicationController", "spec": {"selector": {"app": "web"}}}
    assert spread.default_selector(p, [], rc) == {"matchLabels": {"app": "web"}}
    # nothing selects the pod: no default constraints at all
    assert spread.default_selector(p, [service("db", {"app": "db"})], None) == {}


def test_the_controller_reference_names_only_kinds_default_selector_reads():
    assert spread.controller_ref(web("p")) == ("replicasets", "web-abc")
    p = pod("q")
    p["metadata"]["ownerReferences"] = [{**RS_REF, "controller": False}]
    assert spread.controller_ref(p) is None
    p["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
                                         "controller": True}]
    assert spread.controller_ref(p) is None
    p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                         "name": "db", "controller": True}]
    assert spread.controller_ref(p) == ("statefulsets", "db")


def test_replicas_spread_even_when_another_node_is_emptier():
    nodes = [node("n1"), node("n2"), node("n3")]
    placed = [web("w1", node_name="n1"),
              pod("x1", node_name="n2"), pod("x2", node_name="n2"),
              pod("y1", node_name="n3"), pod("y2", node_name="n3")]
    selector = spread.default_selector(web("p"), [], replica_set({"matchLabels": {"app": "web"}}))
    chosen = {framework.schedule(web("p"), infos(nodes, placed), random.Random(seed),
                                 spread_selector=selector) for seed in range(20)}
    assert chosen == {"n2", "n3"}
    # without the defaults the least allocated node, n1, wins every time
    chosen = {framework.schedule(web("p"), infos(nodes, placed), random.Random(seed))
              for seed in range(20)}
    assert chosen == {"n1"}


def test_default_scores_leave_out_a_key_a_node_lacks_and_round_as_upstream():
    nodes = [node("n1", labels={"topology.kubernetes.io/zone": "a"}), node("n2")]
    placed = [web("w1", node_name="n1")]
    inf = infos(nodes, placed)
    p = web("p")
    state = CycleState(p, inf, spread_selector={"matchLabels": {"app": "web"}})
    state.prescore(p, inf)
    raw = {name: spread.score(p, info, state) for name, info in inf.items()}
    # n1: hostname 1·log(4) + 2 and zone 1·log(3) + 4; n2 has no zone: hostname only, 0 + 2
    assert raw == {"n1": round(1.3863 + 2 + 1.0986 + 4), "n2": 2}
    assert spread.normalize(raw) == {"n1": 100 * (8 + 2 - 8) // 8, "n2": 100}


def test_a_pod_with_its_own_constraints_gets_no_defaults():
    own = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}}]
    p = web("p", topologySpreadConstraints=own)
    inf = infos([node("n1", labels={"zone": "a"})])
    assert spread.prescore(p, inf, {"matchLabels": {"app": "web"}}) is None
    assert spread.prescore(web("q"), inf, {}) is None
