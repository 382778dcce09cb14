"""The serving state every view shares: the Store registry over the Scheme and storage.

Built once, lazily, after apps have filled the Scheme in ``ready()``.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def server_state():
    from apiserver.registry.store import StoreRegistry
    from apiserver.runtime.scheme import scheme
    from apiserver.storage.sql import SQLStorage

    class State:
        stores = StoreRegistry(scheme, SQLStorage())
    return State


_cache = None


async def watch_cache():
    """The process's watch cache, started on the running loop at first use.  On PostgreSQL a
    LISTEN connection wakes it for writes made by other server processes."""
    global _cache
    if _cache is None:
        from django.db import connection

        from apiserver.storage.sql import NOTIFY_CHANNEL
        from apiserver.storage.watch_cache import WatchCache
        cache = WatchCache(server_state().stores.storage)
        await cache.start()
        if _cache is None:
            _cache = cache
            if connection.vendor == "postgresql":
                import asyncio
                asyncio.get_running_loop().create_task(
                    cache.listen_postgres(_conninfo(), NOTIFY_CHANNEL))
        else:
            await cache.stop()
    return _cache


def _conninfo() -> str:
    from django.conf import settings
    db = settings.DATABASES["default"]
    parts = {"host": db.get("HOST"), "port": db.get("PORT"), "dbname": db.get("NAME"),
             "user": db.get("USER"), "password": db.get("PASSWORD")}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)
