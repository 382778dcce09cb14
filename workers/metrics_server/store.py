"""The metrics store (upstream metrics-server pkg/storage: node.go, pod.go): the last two
points of each node and container, and the usage computed from them.

CPU usage is the rate of the cumulative counter between the two points, in nanocores; the
window is the time between them.  A container whose start time is newer than its previous
point (restarted), or that has only one point, is measured from its start (counter 0 then),
as upstream does for a container that started between scrapes; a node needs two points.
Memory is the newest working set.  A pod has metrics only when every container it reports
has; objects that went away drop out at the next store.
"""
from __future__ import annotations

from dataclasses import dataclass

from .scraper import ContainerPoint, NodePoint


@dataclass(frozen=True)
class Usage:
    timestamp: float          # the newer point's time
    window: float             # seconds between the two points
    cpu_nanocores: int
    memory_bytes: int


def _rate(prev_t: float, prev_cpu: float, t: float, cpu: float) -> int | None:
    if t <= prev_t or cpu < prev_cpu:
        return None
    return int(round((cpu - prev_cpu) / (t - prev_t) * 1e9))


class MetricsStore:
    def __init__(self):
        self._nodes: dict[str, tuple[NodePoint | None, NodePoint]] = {}
        # (namespace, pod) → container name → (previous point, newest point)
        self._pods: dict[tuple, dict[str, tuple[ContainerPoint | None, ContainerPoint]]] = {}

    def store(self, results) -> None:
        """One scrape round: ``[(node name, NodePoint | None, {key: ContainerPoint})]``."""
        nodes, containers = {}, {}
        for name, node, points in results:
            if node is not None and node.cpu_seconds >= 0:
                old = self._nodes.get(name)
                prev = old[1] if old and old[1].timestamp < node.timestamp else \
                    (old[0] if old else None)
                nodes[name] = (prev, node)
            for (namespace, pod, container), point in points.items():
                old = self._pods.get((namespace, pod), {}).get(container)
                prev = None
                if old is not None:
                    last = old[1] if old[1].timestamp < point.timestamp else old[0]
                    if last is not None and last.start_time == point.start_time:
                        prev = last
                containers.setdefault((namespace, pod), {})[container] = (prev, point)
        self._nodes, self._pods = nodes, containers

    def node(self, name: str) -> Usage | None:
        pair = self._nodes.get(name)
        if not pair or pair[0] is None:
            return None
        prev, last = pair
        cpu = _rate(prev.timestamp, prev.cpu_seconds, last.timestamp, last.cpu_seconds)
        if cpu is None:
            return None
        return Usage(last.timestamp, last.timestamp - prev.timestamp, cpu, int(last.memory))

    @staticmethod
    def _container(pair) -> Usage | None:
        prev, last = pair
        if prev is not None:
            t0, c0 = prev.timestamp, prev.cpu_seconds
        elif last.start_time and last.start_time < last.timestamp:
            t0, c0 = last.start_time, 0.0
        else:
            return None
        cpu = _rate(t0, c0, last.timestamp, last.cpu_seconds)
        if cpu is None:
            return None
        return Usage(last.timestamp, last.timestamp - t0, cpu, int(last.memory))

    def pod(self, namespace: str, name: str) -> tuple[Usage, list] | None:
        """(the pod's timestamp and window, [(container name, Usage)]) or None.  The pod's
        time is its earliest container's, with that container's window (upstream
        pkg/storage/pod.go ``GetMetrics``)."""
        containers = self._pods.get((namespace, name))
        if not containers:
            return None
        out = []
        for container in sorted(containers):
            usage = self._container(containers[container])
            if usage is None:
                return None
            out.append((container, usage))
        earliest = min((u for _, u in out), key=lambda u: u.timestamp)
        return Usage(earliest.timestamp, earliest.window, 0, 0), out

    def pods(self) -> list[tuple[str, str]]:
        return list(self._pods)
