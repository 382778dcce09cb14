"""The simulated usage model (workers/kubelet/usage.py): per-container CPU rate and working
set from the annotations or the requests, CPU integrated into a monotonic counter, and the
node's own overhead.  Real ``PodWorker`` and ``ContainerRecord`` objects, a settable clock."""
from __future__ import annotations

import pytest

from workers.kubelet import status as st
from workers.kubelet.pods import PodWorker
from workers.kubelet.usage import (CPU_USAGE, MEMORY_USAGE, NODE_OVERHEAD, Stats,
                                   container_rates)

T0 = 1_800_000_000.0          # 2027-01-15T08:00:00Z
MI = 2 ** 20


class Clock:
    def __init__(self, t=T0):
        self.t = t

    def __call__(self):
        return self.t


def pod(name="web", annotations=None, containers=None):
    containers = containers or [{"name": "main", "image": "nginx"}]
    return {"metadata": {"namespace": "ns", "name": name, "uid": f"uid-{name}",
                         "annotations": annotations or {}},
            "spec": {"containers": containers}}


def started(p: dict, at: str = "2027-01-15T08:00:00Z") -> PodWorker:
    """A worker whose containers all run since ``at``."""
    w = PodWorker(None, p)
    w.start_time = at
    for i, rec in enumerate(w.containers):
        rec.state, rec.container_id, rec.started_at = st.RUNNING, f"{p['metadata']['name']}-{i}", at
    return w


def test_annotations_give_the_rates():
    p = pod(annotations={CPU_USAGE: "250m", MEMORY_USAGE: "64Mi"})
    assert container_rates(p, p["spec"]["containers"][0]) == (0.25, 64 * MI)


@pytest.mark.parametrize("resources, expected", [
    ({}, (0.001, 8 * MI)),                                            # no requests
    ({"requests": {"cpu": "500m", "memory": "128Mi"}}, (0.05, 64 * MI)),  # tenth, half
    ({"requests": {"cpu": "2"}}, (0.2, 8 * MI)),
])
def test_without_annotations_usage_follows_the_requests(resources, expected):
    spec = {"name": "main", "resources": resources}
    cpu, memory = container_rates(pod(containers=[spec]), spec)
    assert cpu == pytest.approx(expected[0]) and memory == expected[1]


def test_a_zero_or_empty_annotation_falls_back_to_the_default():
    spec = {"name": "main"}
    p = pod(annotations={CPU_USAGE: "0", MEMORY_USAGE: ""})
    assert container_rates(p, spec) == (0.001, 8 * MI)


def test_cpu_is_integrated_from_the_container_start_and_the_node_adds_its_overhead():
    clock = Clock(T0 + 10)
    stats = Stats(clock)
    w = started(pod(annotations={CPU_USAGE: "500m", MEMORY_USAGE: "100Mi"}))
    s = stats.sample([w])
    assert s.timestamp == T0 + 10 and s.node_start == T0 + 10
    (p,) = s.pods
    assert (p.namespace, p.name, p.uid, p.start_time) == ("ns", "web", "uid-web", T0)
    (c,) = p.containers
    assert (c.name, c.start_time, c.cpu_rate, c.memory) == ("main", T0, 0.5, 100 * MI)
    assert c.cpu_seconds == pytest.approx(5.0)                # 10 s at half a core
    assert s.node_cpu_rate == pytest.approx(0.5 + NODE_OVERHEAD["cpu"])
    assert s.node_memory == 100 * MI + NODE_OVERHEAD["memory"]
    assert s.node_cpu_seconds == 0.0                          # the node counts from its start
    clock.t += 4
    s = stats.sample([w])
    assert s.node_cpu_seconds == pytest.approx(4 * (0.5 + NODE_OVERHEAD["cpu"]))


def test_the_counter_stays_monotonic_when_the_rate_changes():
    clock = Clock(T0)
    stats = Stats(clock)
    w = started(pod(annotations={CPU_USAGE: "1"}))
    clock.t = T0 + 10
    first = stats.sample([w]).pods[0].containers[0].cpu_seconds
    assert first == pytest.approx(10.0)
    w.pod["metadata"]["annotations"][CPU_USAGE] = "100m"      # a patched annotation
    clock.t = T0 + 20
    second = stats.sample([w]).pods[0].containers[0]
    # the new rate applies from the last reading on, the old seconds are kept
    assert second.cpu_rate == pytest.approx(0.1)
    assert second.cpu_seconds == pytest.approx(11.0)
    clock.t = T0 + 19                                         # a clock stepping back
    assert stats.sample([w]).pods[0].containers[0].cpu_seconds >= second.cpu_seconds


def test_stopped_containers_leave_the_sample_and_a_new_id_starts_over():
    clock = Clock(T0 + 10)
    stats = Stats(clock)
    w = started(pod(annotations={CPU_USAGE: "1"}))
    assert stats.sample([w]).pods[0].containers[0].cpu_seconds == pytest.approx(10.0)
    w.containers[0].state = st.TERMINATED
    assert stats.sample([w]).pods == []                      # a pod with no running container
    rec = w.containers[0]
    rec.state, rec.container_id, rec.started_at = st.RUNNING, "web-restarted", \
        "2027-01-15T08:00:08Z"
    clock.t = T0 + 12
    c = stats.sample([w]).pods[0].containers[0]
    assert c.start_time == T0 + 8 and c.cpu_seconds == pytest.approx(4.0)


def test_timestamps_are_on_the_millisecond_grid():
    stats = Stats(Clock(T0 + 1.23456))
    assert stats.sample([]).timestamp == pytest.approx(T0 + 1.235)


def test_pod_totals_sum_their_containers():
    p = pod(annotations={CPU_USAGE: "200m", MEMORY_USAGE: "10Mi"},
            containers=[{"name": "a"}, {"name": "b"}])
    s = Stats(Clock(T0 + 5)).sample([started(p)])
    (u,) = s.pods
    assert [c.name for c in u.containers] == ["a", "b"]
    assert u.cpu_rate == pytest.approx(0.4) and u.memory == 20 * MI
    assert u.cpu_seconds == pytest.approx(2.0)
