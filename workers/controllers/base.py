"""What every controller of the manager shares: a work queue of ``namespace/name`` keys, a
pool of worker tasks calling ``sync(key)``, and the retry policy (rate-limited re-adds on
failure, forgotten on success), as upstream's controllers' ``processNextWorkItem``."""
from __future__ import annotations

import asyncio
import logging

from apiserver.client import ApiError

from .workqueue import WorkQueue

log = logging.getLogger(__name__)

MAX_RETRIES = 15


class Controller:
    name = "controller"
    workers = 5

    def __init__(self):
        self.queue = WorkQueue(self.name)
        self._tasks: list[asyncio.Task] = []

    async def sync(self, key: str) -> None:
        """Bring the object ``key`` names to its desired state; raise to be retried."""
        raise NotImplementedError

    def start(self) -> None:
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-{i}"))

    async def stop(self) -> None:
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - handle_sync_error decides each
                self.handle_sync_error(key, exc)
            finally:
                self.queue.done(key)

    def handle_sync_error(self, key: str, exc: Exception) -> None:
        """What a failed ``sync(key)`` does with the key (upstream's ``handleErr``): an API
        or network error is re-added rate-limited up to ``MAX_RETRIES`` times, then
        dropped; anything else is logged with its traceback and re-added rate-limited.
        A controller with its own policy (the namespace controller) overrides this."""
        if isinstance(exc, (ApiError, OSError, asyncio.TimeoutError)):
            if self.queue.failures(key) < MAX_RETRIES:
                log.info("%s: syncing %s: %s; retrying", self.name, key, exc)
                self.queue.add_rate_limited(key)
            else:
                log.warning("%s: dropping %s after %d retries: %s", self.name, key,
                            MAX_RETRIES, exc)
                self.queue.forget(key)
            return
        log.error("%s: syncing %s failed", self.name, key, exc_info=exc)
        self.queue.add_rate_limited(key)


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name
