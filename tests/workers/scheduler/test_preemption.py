"""DefaultPreemption on plain dicts: victims, reprieves, node choice and the message."""
from __future__ import annotations

import pytest

from workers.scheduler import framework, preemption
from workers.scheduler.framework import FitError

from .helpers import infos, node, pod


def fit_error(p, inf):
    with pytest.raises(FitError) as err:
        framework.schedule(p, inf)
    return err.value


def test_not_helpful_message_for_unresolvable_nodes():
    inf = infos([node(f"n{i}") for i in range(1, 4)])
    p = pod("p", nodeSelector={"none": "x"})
    err = fit_error(p, inf)
    node_name, victims, msg = preemption.find_candidate(p, inf, err)
    assert node_name is None and not victims
    assert err.message(msg) == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_lowest_priority_victims_only_as_many_as_needed():
    nodes = [node("n1", cpu="2"), node("n2", cpu="2")]
    placed = [pod("low1", cpu="1", priority=1, node_name="n1"),
              pod("low2", cpu="1", priority=1, node_name="n1"),
              pod("mid1", cpu="1", priority=50, node_name="n2"),
              pod("mid2", cpu="1", priority=50, node_name="n2")]
    inf = infos(nodes, placed)
    p = pod("p", cpu="1", priority=100)
    err = fit_error(p, inf)
    node_name, victims, msg = preemption.find_candidate(p, inf, err)
    assert node_name == "n1" and msg == ""
    assert len(victims) == 1 and victims[0]["metadata"]["name"] in ("low1", "low2")


def test_no_victims_of_higher_priority():
    inf = infos([node("n1", cpu="1")], [pod("big", cpu="1", priority=100, node_name="n1")])
    p = pod("p", cpu="1", priority=10)
    err = fit_error(p, inf)
    node_name, _, msg = preemption.find_candidate(p, inf, err)
    assert node_name is None
    assert msg == "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    never = pod("p", cpu="1", priority=1000, preemptionPolicy="Never")
    assert preemption.find_candidate(never, inf, fit_error(never, inf))[2] == \
        "preemption: not eligible due to preemptionPolicy=Never."
