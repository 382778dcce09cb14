"""The metrics store (workers/metrics_server/store.py; upstream metrics-server pkg/storage
node.go, pod.go): CPU as the rate between the last two points, a container restart seen by
its start time, a node needing two points, objects dropping out when not scraped."""
from __future__ import annotations

from workers.metrics_server.scraper import ContainerPoint, NodePoint
from workers.metrics_server.store import MetricsStore, Usage

MI = 2 ** 20


def node_point(t, cpu, memory=512 * MI):
    return NodePoint(t, cpu, memory)


def c(t, cpu, memory=64 * MI, start=50.0):
    return ContainerPoint(t, start, cpu, memory)


def test_a_node_needs_two_points_and_its_cpu_is_the_rate_between_them():
    s = MetricsStore()
    s.store([("n1", node_point(100.0, 10.0), {})])
    assert s.node("n1") is None
    s.store([("n1", node_point(115.0, 13.0, 600 * MI), {})])
    assert s.node("n1") == Usage(115.0, 15.0, 200_000_000, 600 * MI)
    # a repeated point (same timestamp) keeps the older pair
    s.store([("n1", node_point(115.0, 13.0, 600 * MI), {})])
    assert s.node("n1") == Usage(115.0, 15.0, 200_000_000, 600 * MI)
    s.store([("n1", node_point(130.0, 16.75), {})])
    assert s.node("n1") == Usage(130.0, 15.0, 250_000_000, 512 * MI)


def test_a_node_counter_going_back_gives_no_usage_and_a_failed_scrape_drops_it():
    s = MetricsStore()
    s.store([("n1", node_point(100.0, 10.0), {})])
    s.store([("n1", node_point(110.0, 5.0), {})])           # the node restarted
    assert s.node("n1") is None
    s.store([("n1", node_point(120.0, 6.0), {})])
    assert s.node("n1").cpu_nanocores == 100_000_000
    s.store([("n1", None, {})])                              # this round failed
    assert s.node("n1") is None and s.node("n2") is None


def test_a_container_first_seen_is_measured_from_its_start():
    s = MetricsStore()
    s.store([("n1", None, {("ns", "web", "app"): c(60.0, 2.5, start=50.0)})])
    usage, containers = s.pod("ns", "web")
    assert containers == [("app", Usage(60.0, 10.0, 250_000_000, 64 * MI))]
    assert (usage.timestamp, usage.window) == (60.0, 10.0)
    # without a start time before the point there is nothing to measure from
    s.store([("n1", None, {("ns", "new", "app"): c(60.0, 0.1, start=0.0)})])
    assert s.pod("ns", "new") is None
    assert s.pods() == [("ns", "new")]


def test_the_rate_between_two_points_and_a_restart_starts_over():
    s = MetricsStore()
    key = ("ns", "web", "app")
    s.store([("n1", None, {key: c(100.0, 20.0)})])
    s.store([("n1", None, {key: c(115.0, 23.0, 70 * MI)})])
    assert s.pod("ns", "web")[1] == [("app", Usage(115.0, 15.0, 200_000_000, 70 * MI))]
    # restarted at 120: the counter began at 0 then, the older point does not count
    s.store([("n1", None, {key: c(130.0, 1.0, start=120.0)})])
    assert s.pod("ns", "web")[1] == [("app", Usage(130.0, 10.0, 100_000_000, 64 * MI))]


def test_a_pod_has_metrics_only_when_every_container_has():
    s = MetricsStore()
    s.store([("n1", None, {("ns", "web", "a"): c(100.0, 1.0, start=90.0),
                           ("ns", "web", "b"): c(101.0, 1.0, start=0.0)})])
    assert s.pod("ns", "web") is None
    s.store([("n1", None, {("ns", "web", "a"): c(110.0, 2.0, start=90.0),
                           ("ns", "web", "b"): c(116.0, 4.0, start=0.0)})])
    usage, containers = s.pod("ns", "web")
    assert [name for name, _ in containers] == ["a", "b"]
    # the pod's time and window are its earliest container's
    assert (usage.timestamp, usage.window) == (110.0, 10.0)
    assert containers[1][1] == Usage(116.0, 15.0, 200_000_000, 64 * MI)


def test_pods_not_scraped_again_drop_out():
    s = MetricsStore()
    s.store([("n1", None, {("ns", "a", "c"): c(100.0, 1.0)}),
             ("n2", None, {("ns", "b", "c"): c(100.0, 1.0)})])
    assert sorted(s.pods()) == [("ns", "a"), ("ns", "b")]
    s.store([("n1", None, {("ns", "a", "c"): c(110.0, 2.0)})])
    assert s.pods() == [("ns", "a")] and s.pod("ns", "b") is None
