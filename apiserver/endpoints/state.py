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
