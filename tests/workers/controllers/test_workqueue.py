"""The work queue: one entry per key, never two workers on one key, back-off on failure."""
from __future__ import annotations

import asyncio

from workers.controllers.workqueue import WorkQueue


def run(coro):
    return asyncio.run(coro)


def test_a_key_added_twice_is_queued_once():
    async def go():
        q = WorkQueue()
        q.add("a")
        q.add("a")
        q.add("b")
        return len(q), [await q.get(), await q.get()]
    assert run(go()) == (2, ["a", "b"])


def test_a_key_added_while_processing_comes_back_after_done():
    async def go():
        q = WorkQueue()
        q.add("a")
        key = await q.get()
        q.add("a")                       # changed while a worker has it
        assert len(q) == 0               # not handed to a second worker
        q.done(key)
        return len(q), await q.get()
    assert run(go()) == (1, "a")


def test_rate_limited_re_adds_back_off_exponentially_and_forget_resets():
    async def go():
        q = WorkQueue(base_delay=0.01)
        loop = asyncio.get_running_loop()
        times = []
        for _ in range(3):
            start = loop.time()
            q.add_rate_limited("a")
            await q.get()
            q.done("a")
            times.append(loop.time() - start)
        failures = q.failures("a")
        q.forget("a")
        return times, failures, q.failures("a")
    times, failures, after = run(go())
    assert failures == 3 and after == 0
    assert times[0] >= 0.009 and times[1] >= 0.019 and times[2] >= 0.039


def test_shutdown_wakes_waiting_workers():
    async def go():
        q = WorkQueue()
        waiter = asyncio.ensure_future(q.get())
        await asyncio.sleep(0)
        q.shutdown()
        return await asyncio.wait_for(waiter, 1)
    assert run(go()) is None
