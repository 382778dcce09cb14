"""Resource usage of a node's containers, as the kubelet's stats provider reports it
(upstream pkg/kubelet/server/stats and the cAdvisor/CRI stats providers): cumulative CPU
core-seconds and the memory working set, per container, pod and node.

The simulated runtime has no processes, so usage is a model, read per container when asked:

* ``sim.kubelet/cpu-usage`` on the pod (a quantity, e.g. ``"250m"``) is each container's
  CPU rate; without it a container uses a tenth of its CPU request (1m with none).
* ``sim.kubelet/memory-usage`` (e.g. ``"64Mi"``) is each container's working set; without
  it half its memory request (8Mi with none).
* The node adds ``NODE_OVERHEAD`` (its own daemons) to the sum of its pods.

The annotations are read from the pod as the kubelet last saw it, so patching them changes
the usage from then on (what HPA tests need).  CPU is integrated between reads, so the
cumulative counter stays monotonic when the rate changes.  ``Stats.sample(workers)`` returns
one consistent reading for ``/metrics/resource`` and ``/stats/summary``; a runtime with real
processes (``ProcessRuntime.container_usage``) gives measured CPU and RSS instead of the
model, in the same shape.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from workers.scheduler.quantity import parse

from .status import RUNNING

CPU_USAGE = "sim.kubelet/cpu-usage"
MEMORY_USAGE = "sim.kubelet/memory-usage"
NODE_OVERHEAD = {"cpu": 0.05, "memory": 256 * 2 ** 20}     # cores, bytes


@dataclass
class ContainerUsage:
    name: str
    start_time: float             # unix seconds
    cpu_seconds: float            # cumulative core-seconds
    cpu_rate: float               # cores now
    memory: int                   # working set bytes


@dataclass
class PodUsage:
    namespace: str
    name: str
    uid: str
    start_time: float
    containers: list = field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        return sum(c.cpu_seconds for c in self.containers)

    @property
    def cpu_rate(self) -> float:
        return sum(c.cpu_rate for c in self.containers)

    @property
    def memory(self) -> int:
        return sum(c.memory for c in self.containers)


@dataclass
class Sample:
    timestamp: float              # unix seconds
    node_cpu_seconds: float
    node_cpu_rate: float
    node_memory: int
    pods: list
    node_start: float


def _unix(rfc3339: str) -> float:
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return time.time()


def _quantity(value, default: float) -> float:
    q = float(parse(value)) if value not in (None, "") else 0.0
    return q if q > 0 else default


def container_rates(pod: dict, spec: dict) -> tuple[float, int]:
    """(cpu cores, memory bytes) the model gives this container of ``pod`` now."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    requests = (spec.get("resources") or {}).get("requests") or {}
    cpu_default = _quantity(requests.get("cpu"), 0.01) * 0.1 if requests.get("cpu") else 0.001
    mem_default = _quantity(requests.get("memory"), 0) * 0.5 if requests.get("memory") \
        else 8 * 2 ** 20
    cpu = _quantity(ann.get(CPU_USAGE), cpu_default)
    memory = int(_quantity(ann.get(MEMORY_USAGE), mem_default))
    return cpu, memory


class Stats:
    """Integrates CPU per container id across reads; see the module docstring."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.started = clock()
        self._cpu: dict[str, tuple[float, float]] = {}      # cid → (last read, core-seconds)
        self._node_cpu = 0.0
        self._node_last = self.started

    def _integrate(self, cid: str, start: float, rate: float, now: float) -> float:
        last, total = self._cpu.get(cid, (min(start, now), 0.0))     # from its start
        total += rate * max(now - last, 0.0)
        self._cpu[cid] = (now, total)
        return total

    def _measured(self, worker, cid: str, now: float):
        """(core-seconds, cores, bytes) measured by a runtime with real processes
        (``container_usage``), or None for the model; the rate is taken between reads, and
        the counters never read 0 (metrics-server drops a pod with a zero value)."""
        measure = getattr(getattr(getattr(worker, "host", None), "runtime", None),
                          "container_usage", None)
        reading = measure(cid) if measure is not None else None
        if reading is None:
            return None
        total, memory = max(reading[0], 1e-6), max(int(reading[1]), 1)
        last, before = self._cpu.get(cid, (now, total))
        rate = (total - before) / (now - last) if now > last else 0.0
        self._cpu[cid] = (now, total)
        return total, max(rate, 0.0), memory

    def sample(self, workers) -> Sample:
        """One reading over the running containers of ``workers`` (the kubelet's pod
        workers: ``pod``, ``containers`` records and ``specs``)."""
        # on the millisecond grid the Prometheus timestamps have, so rates come out exact
        now = round(self.clock(), 3)
        pods, seen = [], set()
        for w in workers:
            meta = w.pod.get("metadata") or {}
            usage = PodUsage(meta.get("namespace", ""), meta.get("name", ""), w.uid or "",
                             _unix(w.start_time) if w.start_time else now)
            for rec in w.containers:
                if rec.state != RUNNING or not rec.container_id:
                    continue
                start = _unix(rec.started_at) if rec.started_at else now
                seen.add(rec.container_id)
                measured = self._measured(w, rec.container_id, now)
                if measured is not None:
                    usage.containers.append(ContainerUsage(rec.name, start, *measured))
                    continue
                cpu, memory = container_rates(w.pod, w.specs.get(("main", rec.name)) or {})
                usage.containers.append(ContainerUsage(
                    rec.name, start, self._integrate(rec.container_id, start, cpu, now),
                    cpu, memory))
            if usage.containers:
                pods.append(usage)
        for cid in set(self._cpu) - seen:          # stopped containers leave the model
            del self._cpu[cid]
        node_rate = NODE_OVERHEAD["cpu"] + sum(p.cpu_rate for p in pods)
        self._node_cpu += node_rate * max(now - self._node_last, 0.0)
        self._node_last = now
        memory = NODE_OVERHEAD["memory"] + sum(p.memory for p in pods)
        return Sample(now, self._node_cpu, node_rate, memory, pods, self.started)
