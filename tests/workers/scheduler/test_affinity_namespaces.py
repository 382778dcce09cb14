"""The namespaces of pod affinity terms: ``namespaces`` ∪ ``namespaceSelector`` (framework/
types.go AffinityTerm), the owner's namespace when neither is set, and the scheduler's
Namespace informer that supplies the labels."""
from __future__ import annotations

import random

import pytest

from workers.scheduler import affinity, framework
from workers.scheduler.framework import CycleState
from workers.scheduler.scheduler import Scheduler

from .helpers import infos, node, pod

NAMESPACES = {"alpha": {"team": "a"}, "beta": {"team": "b"}, "gamma": {"team": "a"},
              "delta": {}}
HOST = "kubernetes.io/hostname"


def term(**extra):
    return {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": HOST, **extra}


def required_affinity(t):
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}}


@pytest.mark.parametrize("extra, matched", [
    ({}, {"delta"}),                                        # the owner's namespace
    ({"namespaces": ["beta"]}, {"beta"}),
    ({"namespaceSelector": {"matchLabels": {"team": "a"}}}, {"alpha", "gamma"}),
    ({"namespaces": ["beta"], "namespaceSelector": {"matchLabels": {"team": "a"}}},
     {"alpha", "beta", "gamma"}),                           # the union
    ({"namespaceSelector": {}}, {"alpha", "beta", "gamma", "delta", "unknown"}),
    ({"namespaceSelector": {"matchExpressions": [
        {"key": "team", "operator": "NotIn", "values": ["a"]}]}}, {"beta", "delta"}),
    ({"namespaces": [], "namespaceSelector": None}, {"delta"}),
])
def test_term_namespaces(extra, matched):
    owner = pod("owner", ns="delta")
    t = {k: v for k, v in term(**extra).items() if v is not None}
    got = {ns for ns in (*NAMESPACES, "unknown")
           if affinity.term_matches(t, owner, pod("x", ns=ns, labels={"app": "db"}), NAMESPACES)}
    assert got == matched
    # the label selector still applies
    assert not any(affinity.term_matches(t, owner, pod("x", ns=ns, labels={"app": "web"}),
                                         NAMESPACES) for ns in NAMESPACES)


def test_required_affinity_follows_the_namespace_selector():
    nodes = [node("n1"), node("n2"), node("n3")]
    placed = [pod("db-a", ns="alpha", labels={"app": "db"}, node_name="n1"),
              pod("db-b", ns="beta", labels={"app": "db"}, node_name="n2")]
    p = pod("p", ns="delta", affinity=required_affinity(
        term(namespaceSelector={"matchLabels": {"team": "b"}})))
    picks = {framework.schedule(p, infos(nodes, placed), random.Random(s), NAMESPACES)
             for s in range(10)}
    assert picks == {"n2"}
    # without the Namespace labels nothing is selected, and no pod matches: the pod (which
    # does not match its own term) fits nowhere
    with pytest.raises(framework.FitError) as err:
        framework.schedule(p, infos(nodes, placed))
    assert "3 node(s) didn't match pod affinity rules" in err.value.message()


def test_existing_anti_affinity_selects_the_incoming_pods_namespace_by_labels():
    nodes = [node("n1"), node("n2")]
    guard = pod("guard", ns="beta", node_name="n1", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            term(namespaceSelector={"matchLabels": {"team": "a"}})]}})
    inf = infos(nodes, [guard])
    for ns, blocked in (("alpha", True), ("beta", False)):
        p = pod("p", ns=ns, labels={"app": "db"})
        st = affinity.inter_pod_affinity(p, inf["n1"], CycleState(p, inf, NAMESPACES))
        assert (st is not None) == blocked
        if blocked:
            assert st.reasons == ["node(s) didn't satisfy existing pods anti-affinity rules"]


def test_preferred_terms_use_the_namespace_selector():
    nodes = [node("n1"), node("n2")]
    placed = [pod("db", ns="gamma", labels={"app": "db"}, node_name="n2")]
    p = pod("p", ns="delta", affinity={"podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": term(
                namespaceSelector={"matchLabels": {"team": "a"}})}]}})
    inf = infos(nodes, placed)
    state = CycleState(p, inf, NAMESPACES)
    state.prescore(p, inf)
    raw = {n: affinity.score(p, info, state) for n, info in inf.items()}
    assert raw == {"n1": 0, "n2": 50}


def test_the_scheduler_keeps_namespace_labels_and_requeues_on_change():
    s = Scheduler(None)
    s.on_namespace("ADDED", {"metadata": {"name": "alpha", "labels": {"team": "a"}}}, None)
    assert s.namespace_labels == {"alpha": {"team": "a"}}
    s.queue.add(pod("waiting"))
    s.queue.done_unschedulable(s.queue.try_pop())
    assert s.queue.where["default/waiting"] == "unschedulable"
    old = {"metadata": {"name": "alpha", "labels": {"team": "a"}}}
    s.on_namespace("MODIFIED", {"metadata": {"name": "alpha", "labels": {"team": "a"},
                                             "annotations": {"x": "y"}}}, old)
    assert s.queue.where["default/waiting"] == "unschedulable"      # labels unchanged
    s.on_namespace("MODIFIED", {"metadata": {"name": "alpha", "labels": {"team": "z"}}}, old)
    assert s.namespace_labels["alpha"] == {"team": "z"}
    assert s.queue.where["default/waiting"] in ("active", "backoff")
    s.on_namespace("DELETED", {"metadata": {"name": "alpha"}}, None)
    assert s.namespace_labels == {}
