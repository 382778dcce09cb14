"""The scheduling queue (pkg/scheduler/internal/queue/scheduling_queue.go): three places a
pending pod can be.

* ``active``: a heap ordered by ``spec.priority`` (highest first), then by the time the pod
  entered the queue (PrioritySort, the default QueueSort plugin); ``pop()`` waits on it.
* ``backoff``: pods that failed and wait ``initial * 2^(attempts-1)`` seconds, capped at
  ``maximum`` (upstream: 1 s and 10 s) before going back to ``active``.
* ``unschedulable``: pods no node fits.  A cluster event (``move_all``: a node added or
  changed, a pod deleted or finished) moves them to ``backoff`` (or ``active`` when their
  backoff has already expired); after ``unschedulable_timeout`` (upstream 5 min) they are
  retried anyway.

A pod is in at most one place, keyed ``namespace/name``; while it is being scheduled
("in flight") it is in none.  ``done_unschedulable`` after a failed attempt puts it in
``backoff`` instead of ``unschedulable`` when a move happened during its attempt, as
upstream's ``moveRequestCycle`` does, so an event racing the attempt is not lost.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field

from workers.scheduler.nodeinfo import pod_key


_GONE: dict = {"deleted": True}


@dataclass
class QueuedPod:
    pod: dict
    key: str
    added: float                          # when it (last) entered the queue: the sort tiebreak
    attempts: int = 0
    backoff_until: float = 0.0
    unschedulable_since: float = 0.0
    cycle: int = 0                        # scheduling cycle of its last pop
    extra: dict = field(default_factory=dict)

    @property
    def priority(self) -> int:
        return int((self.pod.get("spec") or {}).get("priority") or 0)


class SchedulingQueue:
    def __init__(self, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 unschedulable_timeout: float = 300.0, clock=time.monotonic):
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.unschedulable_timeout, self.clock = unschedulable_timeout, clock
        self.pods: dict[str, QueuedPod] = {}       # every queued pod, wherever it is
        self.where: dict[str, str] = {}            # key → active | backoff | unschedulable
        self._heap: list = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self.in_flight: dict[str, dict | None] = {}  # key → its newest update while in flight
        self.cycle = 0
        self._move_cycle = -1                       # cycle during which a move last happened

    # ---- adding and removing ------------------------------------------------------------
    def _push_active(self, qp: QueuedPod) -> None:
        self.where[qp.key] = "active"
        heapq.heappush(self._heap, (-qp.priority, qp.added, next(self._seq), qp.key))
        self._wake.set()

    def add(self, pod: dict) -> None:
        """A new pending pod (or an update of one already queued)."""
        key = pod_key(pod)
        if key in self.in_flight:
            self.in_flight[key] = pod
            return
        qp = self.pods.get(key)
        if qp is None:
            qp = self.pods[key] = QueuedPod(pod, key, self.clock())
            self._push_active(qp)
            return
        spec_changed = qp.pod.get("spec") != pod.get("spec") or \
            (qp.pod.get("metadata") or {}).get("labels") != (pod.get("metadata") or {}).get("labels")
        qp.pod = pod
        if spec_changed and self.where.get(key) == "unschedulable":
            self._requeue(qp)            # an updated pod may fit now (upstream: podUpdate)

    def delete(self, key: str) -> None:
        if key in self.in_flight:
            self.in_flight[key] = _GONE  # its attempt must not put it back
        self.pods.pop(key, None)
        self.where.pop(key, None)        # a heap entry left behind is skipped by pop()

    def __contains__(self, key: str) -> bool:
        return key in self.pods or key in self.in_flight

    def __len__(self) -> int:
        return len(self.pods)

    # ---- popping ------------------------------------------------------------------------
    def _flush_backoff(self) -> None:
        now = self.clock()
        for key, place in list(self.where.items()):
            qp = self.pods[key]
            if place == "backoff" and qp.backoff_until <= now:
                self._push_active(qp)
            elif place == "unschedulable" and \
                    now - qp.unschedulable_since >= self.unschedulable_timeout:
                self._requeue(qp)

    def next_wakeup(self) -> float | None:
        times = [self.pods[k].backoff_until for k, w in self.where.items() if w == "backoff"]
        times += [self.pods[k].unschedulable_since + self.unschedulable_timeout
                  for k, w in self.where.items() if w == "unschedulable"]
        return min(times) if times else None

    def try_pop(self) -> QueuedPod | None:
        self._flush_backoff()
        while self._heap:
            _, _, _, key = heapq.heappop(self._heap)
            if self.where.get(key) != "active":
                continue                 # deleted or moved since it was pushed
            qp = self.pods.pop(key)
            del self.where[key]
            self.in_flight[key] = None
            qp.attempts += 1
            self.cycle += 1
            qp.cycle = self.cycle
            return qp
        return None

    async def pop(self) -> QueuedPod:
        """The highest-priority active pod, waiting for one (or a backoff expiry)."""
        while True:
            qp = self.try_pop()
            if qp is not None:
                return qp
            self._wake.clear()
            wake = self.next_wakeup()
            timeout = None if wake is None else max(0.0, wake - self.clock()) + 0.01
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    # ---- after an attempt ---------------------------------------------------------------
    def backoff_duration(self, attempts: int) -> float:
        return min(self.initial_backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)

    def done(self, key: str) -> None:
        """The attempt ended with the pod bound (or gone)."""
        self.in_flight.pop(key, None)

    def _finish(self, qp: QueuedPod, pod: dict | None) -> bool:
        """False when the pod was deleted during its attempt."""
        newer = self.in_flight.pop(qp.key, None)
        if newer is _GONE:
            return False
        if pod is not None:
            qp.pod = pod
        if newer is not None:
            qp.pod = newer
        return True

    def done_unschedulable(self, qp: QueuedPod, pod: dict | None = None) -> None:
        """The attempt failed: park the pod until something changes (or back off)."""
        if not self._finish(qp, pod):
            return
        now = self.clock()
        qp.backoff_until = now + self.backoff_duration(qp.attempts)
        self.pods[qp.key] = qp
        if self._move_cycle >= qp.cycle:
            self.where[qp.key] = "backoff"
        else:
            qp.unschedulable_since = now
            self.where[qp.key] = "unschedulable"
        self._wake.set()

    def done_error(self, qp: QueuedPod) -> None:
        """An error that is not the pod's fault (API down, bind conflict): back off."""
        if not self._finish(qp, None):
            return
        qp.backoff_until = self.clock() + self.backoff_duration(qp.attempts)
        self.pods[qp.key] = qp
        self.where[qp.key] = "backoff"
        self._wake.set()

    def _requeue(self, qp: QueuedPod) -> None:
        if qp.backoff_until > self.clock():
            self.where[qp.key] = "backoff"
            self._wake.set()
        else:
            self._push_active(qp)

    def move_all(self) -> None:
        """A cluster event that may make unschedulable pods fit (MoveAllToActiveOrBackoffQueue)."""
        self._move_cycle = self.cycle
        for key, place in list(self.where.items()):
            if place == "unschedulable":
                self._requeue(self.pods[key])

    def count(self, place: str) -> int:
        return sum(1 for w in self.where.values() if w == place)
