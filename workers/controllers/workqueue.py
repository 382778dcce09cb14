"""A rate-limited work queue of keys, as client-go's ``workqueue`` (util/workqueue/queue.go,
delaying_queue.go, default_rate_limiters.go).

A key is queued at most once however often it is added (``dirty``), and never handed to
two workers at once (``processing``): added while it is being processed, it is queued again
when ``done`` is called.  ``add_rate_limited`` re-adds a key after its own exponential
back-off (5 ms doubling to 1000 s, client-go's ``DefaultControllerRateLimiter`` item
limiter), ``forget`` resets it after a success.  asyncio only: one event loop's tasks share
a queue.
"""
from __future__ import annotations

import asyncio


class WorkQueue:
    def __init__(self, name: str = "", *, base_delay: float = 0.005, max_delay: float = 1000.0):
        self.name = name
        self.base_delay, self.max_delay = base_delay, max_delay
        self._queue: list[str] = []
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._ready.set()

    def add_after(self, key: str, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed (an earlier timer wins)."""
        if delay <= 0:
            return self.add(key)
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        timer = self._timers.get(key)
        if timer is not None and not timer.cancelled() and timer.when() <= when:
            return
        if timer is not None:
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, min(self.base_delay * (2 ** failures), self.max_delay))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str | None:
        """The next key to process (None once shut down)."""
        while not self._queue:
            if self._shutdown:
                return None
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.pop(0)
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._ready.set()

    def shutdown(self) -> None:
        self._shutdown = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._ready.set()
