"""Score plugins, normalizers, the weighted sum, host selection and the FitError message."""
from __future__ import annotations

import random

import pytest

from workers.scheduler import affinity, framework, scores, spread
from workers.scheduler.framework import CycleState, FitError

from .helpers import infos, node, pod


def score_all(fn, p, nodes, pods=(), normalize=None):
    inf = infos(nodes, pods)
    state = CycleState(p, inf)
    state.prescore(p, inf)
    raw = {name: fn(p, info, state) for name, info in inf.items()}
    return normalize(raw) if normalize else raw


def test_least_allocated_prefers_the_emptier_node():
    nodes = [node("n1", cpu="4", memory="8Gi"), node("n2", cpu="4", memory="8Gi")]
    busy = [pod("a", cpu="2", memory="4Gi", node_name="n1")]
    s = score_all(scores.least_allocated, pod("p", cpu="1", memory="2Gi"), nodes, busy)
    assert s == {"n1": 25, "n2": 75}
    # a pod without requests counts as 100m / 200Mi
    s = score_all(scores.least_allocated, pod("p"), [node("n1", cpu="1", memory="1Gi")])
    assert s["n1"] == (90 + 80) // 2


def test_balanced_allocation():
    nodes = [node("n1", cpu="4", memory="4Gi")]
    s = score_all(scores.balanced_allocation, pod("p", cpu="2", memory="2Gi"), nodes)
    assert s["n1"] == 100
    s = score_all(scores.balanced_allocation, pod("p", cpu="4", memory="0"), nodes)
    assert s["n1"] == 50


def test_preferred_node_affinity_normalized():
    nodes = [node("n1", labels={"disk": "ssd"}), node("n2")]
    p = pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 30, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}})
    s = score_all(scores.node_affinity, p, nodes, normalize=scores.default_normalize)
    assert s == {"n1": 100, "n2": 0}


def test_prefer_no_schedule_taints_reverse_normalized():
    soft = [{"key": "k", "effect": "PreferNoSchedule"}]
    nodes = [node("n1", taints=soft), node("n2")]
    s = score_all(scores.taint_toleration, pod("p"), nodes, normalize=scores.normalize_reverse)
    assert s == {"n1": 0, "n2": 100}
    tol = pod("p", tolerations=[{"key": "k", "operator": "Exists", "effect": "PreferNoSchedule"}])
    s = score_all(scores.taint_toleration, tol, nodes, normalize=scores.normalize_reverse)
    assert s == {"n1": 100, "n2": 100}


def test_inter_pod_affinity_preferred():
    nodes = [node("n1"), node("n2"), node("n3")]
    placed = [pod("db", labels={"app": "db"}, node_name="n1"),
              pod("web", labels={"app": "web"}, node_name="n2")]
    term = {"labelSelector": {"matchLabels": {"app": "db"}},
            "topologyKey": "kubernetes.io/hostname"}
    anti_term = {"labelSelector": {"matchLabels": {"app": "web"}},
                 "topologyKey": "kubernetes.io/hostname"}
    p = pod("p", affinity={
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": term}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": anti_term}]}})
    s = score_all(affinity.score, p, nodes, placed, normalize=affinity.normalize)
    assert s == {"n1": 100, "n2": 0, "n3": 50}


def test_topology_spread_soft():
    nodes = [node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "b"})]
    placed = [pod(f"a{i}", labels={"app": "web"}, node_name="n1") for i in range(2)]
    tsc = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "web"}}}]
    p = pod("p", labels={"app": "web"}, topologySpreadConstraints=tsc)
    s = score_all(spread.score, p, nodes, placed, normalize=spread.normalize)
    assert s["n2"] == 100 and s["n1"] < s["n2"]


def test_schedule_picks_best_and_breaks_ties_randomly():
    nodes = [node("n1"), node("n2"), node("n3")]
    busy = [pod("a", cpu="2", node_name="n1")]
    assert framework.schedule(pod("p", cpu="1"), infos(nodes, busy), random.Random(1)) in ("n2", "n3")
    seen = {framework.schedule(pod("p"), infos(nodes), random.Random(seed)) for seed in range(40)}
    assert seen == {"n1", "n2", "n3"}


def test_fit_error_message_matches_upstream():
    nodes = [node(f"n{i}") for i in range(1, 4)]
    with pytest.raises(FitError) as err:
        framework.schedule(pod("p", nodeSelector={"disk": "none"}), infos(nodes))
    assert err.value.message() == \
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    mixed = [node("n1", cpu="1"), node("n2", labels={"x": "y"}, cpu="1"),
             node("n3", taints=[{"key": "a", "value": "b", "effect": "NoSchedule"}])]
    with pytest.raises(FitError) as err:
        framework.schedule(pod("p", cpu="2"), infos(mixed))
    assert err.value.message() == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                                   "{a: b}, 2 Insufficient cpu.")
