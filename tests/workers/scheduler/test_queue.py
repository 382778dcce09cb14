"""The scheduling queue: priority order, backoff, parking and moving on cluster events."""
from __future__ import annotations

import asyncio

from workers.scheduler.queue import SchedulingQueue

from .helpers import pod


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_priority_then_fifo():
    q = SchedulingQueue(clock=Clock())
    q.add(pod("a", priority=1))
    q.add(pod("b", priority=10))
    q.add(pod("c", priority=1))
    assert [q.try_pop().key for _ in range(3)] == ["default/b", "default/a", "default/c"]
    assert q.try_pop() is None


def test_backoff_doubles_to_the_maximum():
    q = SchedulingQueue(1.0, 10.0, clock=Clock())
    assert [q.backoff_duration(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]


def test_unschedulable_waits_for_an_event_then_its_backoff():
    clock = Clock()
    q = SchedulingQueue(1.0, 10.0, clock=clock)
    q.add(pod("a"))
    qp = q.try_pop()
    q.done_unschedulable(qp)
    assert q.where["default/a"] == "unschedulable"
    clock.t += 5
    assert q.try_pop() is None                 # no event: stays parked
    q.move_all()
    assert q.try_pop().key == "default/a"      # backoff (1 s) long over: active at once
    q.done_unschedulable(q.pods.get("default/a") or qp)


def test_move_during_attempt_goes_to_backoff():
    clock = Clock()
    q = SchedulingQueue(1.0, 10.0, clock=clock)
    q.add(pod("a"))
    qp = q.try_pop()
    q.move_all()                                # a node appeared while it was being scheduled
    q.done_unschedulable(qp)
    assert q.where["default/a"] == "backoff"
    assert q.try_pop() is None
    clock.t += 1.01
    assert q.try_pop().key == "default/a"


def test_updates_and_deletes_while_in_flight():
    q = SchedulingQueue(clock=Clock())
    q.add(pod("a"))
    qp = q.try_pop()
    q.add(pod("a", labels={"v": "2"}))          # an update during the attempt is kept
    q.done_error(qp)
    assert q.pods["default/a"].pod["metadata"]["labels"] == {"v": "2"}
    qp = q.pods["default/a"]
    q.where["default/a"] = "active"
    q._push_active(qp)
    qp = q.try_pop()
    q.delete("default/a")                        # deleted during the attempt: not re-added
    q.done_unschedulable(qp)
    assert "default/a" not in q


def test_pop_waits_for_backoff_expiry():
    async def go():
        q = SchedulingQueue(0.05, 0.1)
        q.add(pod("a"))
        qp = await q.pop()
        q.done_error(qp)
        return (await asyncio.wait_for(q.pop(), 2)).key
    assert asyncio.run(go()) == "default/a"
