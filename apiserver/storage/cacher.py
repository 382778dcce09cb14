"""The process's watch cache, owned by the server config (upstream: the cacher that
kubernetes/apiserver:pkg/storage/cacher/cacher.go puts in front of etcd, one per process).

:class:`Cacher` starts the :class:`~apiserver.storage.watch_cache.WatchCache` on the running
event loop at the first watch, and on PostgreSQL opens a LISTEN connection whose NOTIFYs wake
it for writes made by other server processes.  ``stop`` ends every open watch (shutdown).
"""
from __future__ import annotations

import asyncio

from apiserver.storage.sql import NOTIFY_CHANNEL
from apiserver.storage.watch_cache import POLL_SECONDS, WatchCache


class Cacher:
    def __init__(self, storage, *, poll_seconds: float = POLL_SECONDS, database: dict | None = None):
        self.storage = storage
        self.poll_seconds = poll_seconds
        self.database = database or {}     # Django's DATABASES["default"]: LISTEN on PostgreSQL
        self._cache: WatchCache | None = None
        self._listener: asyncio.Task | None = None
        self._starting: asyncio.Lock | None = None

    async def get(self) -> WatchCache:
        """The started cache (started here on first use, on the running loop)."""
        if self._cache is not None:
            return self._cache
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._cache is None:
                cache = WatchCache(self.storage, poll_seconds=self.poll_seconds)
                await cache.start()
                if self.database.get("ENGINE", "").endswith("postgresql"):
                    self._listener = asyncio.get_running_loop().create_task(
                        cache.listen_postgres(_conninfo(self.database), NOTIFY_CHANNEL))
                self._cache = cache
        return self._cache

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        if self._cache is not None:
            await self._cache.stop()


def _conninfo(db: dict) -> str:
    parts = {"host": db.get("HOST"), "port": db.get("PORT"), "dbname": db.get("NAME"),
             "user": db.get("USER"), "password": db.get("PASSWORD")}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)
