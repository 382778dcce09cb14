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
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                if self.queue.failures(key) < MAX_RETRIES:
                    log.info("%s: syncing %s: %s; retrying", self.name, key, exc)
                    self.queue.add_rate_limited(key)
                else:
                    log.warning("%s: dropping %s after %d retries: %s", self.name, key,
                                MAX_RETRIES, exc)
                    self.queue.forget(key)
            except Exception:
                log.exception("%s: syncing %s failed", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name
