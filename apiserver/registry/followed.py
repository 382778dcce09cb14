"""A process-local copy of every object of one resource, kept current from the storage
change log: what upstream's admission plugins read through informers' listers (webhook
configurations, admission policies and bindings) instead of the database per request.

:class:`FollowedList` lists the resource once, then applies ``changes_after`` its cursor:
at once after a write of the resource committed in this process (the storage's
``resource_listeners``), else at most every ``poll_seconds`` for other processes' writes
(upstream's informers are eventually consistent the same way).  A compaction past the
cursor means a new list.  Thread-safe; the caller's thread does the reading.
"""
from __future__ import annotations

import threading
import time

import orjson

from apiserver.storage.base import Compacted

POLL_SECONDS = 1.0
BATCH = 500


class FollowedList:
    def __init__(self, store, *, poll_seconds: float = POLL_SECONDS):
        self.storage, self.resource = store.storage, store.resource
        self.poll_seconds = poll_seconds
        self._objects: dict[tuple[str, str], dict] = {}
        self._items: list[dict] = []
        self._cursor: int | None = None
        self._synced = 0.0
        self._dirty = True
        self._lock = threading.Lock()
        self.storage.resource_listeners.setdefault(self.resource, []).append(self._changed)

    def _changed(self, rv: int) -> None:           # any thread, after a local commit
        self._dirty = True

    def items(self) -> list[dict]:
        """Every object, in (namespace, name) order; do not modify them."""
        if self._dirty or time.monotonic() - self._synced >= self.poll_seconds:
            with self._lock:
                if self._dirty or time.monotonic() - self._synced >= self.poll_seconds:
                    self._sync()
        return self._items

    def _sync(self) -> None:
        self._dirty = False                     # a commit from now on asks for another pass
        changed = False
        try:
            changed = self._follow() if self._cursor is not None else self._relist()
        except Compacted:
            changed = self._relist()
        if changed:
            self._items = [self._objects[k] for k in sorted(self._objects)]
        self._synced = time.monotonic()

    def _relist(self) -> bool:
        page = self.storage.list(self.resource, None)
        objects = {}
        for doc in page.items:
            obj = orjson.loads(doc)
            meta = obj.get("metadata") or {}
            objects[(meta.get("namespace") or "", meta.get("name") or "")] = obj
        self._objects, self._cursor = objects, page.revision
        return True

    def _follow(self) -> bool:
        changed = False
        while True:
            rows = self.storage.changes_after(self._cursor, BATCH, resource=self.resource)
            for r in rows:
                key = (r.namespace or "", r.name)
                if r.type == "DELETED":
                    self._objects.pop(key, None)
                else:
                    self._objects[key] = orjson.loads(r.doc)
                changed = True
            if rows:
                self._cursor = rows[-1].rv
            if len(rows) < BATCH:
                return changed


class FollowedLists:
    """The followed lists of a few kinds, made on first use (admission plugins get the
    stores before the kinds are installed)."""

    def __init__(self, stores, group: str, version: str, *, poll_seconds: float = POLL_SECONDS):
        self.stores, self.group, self.version = stores, group, version
        self.poll_seconds = poll_seconds
        self._lists: dict[str, FollowedList] = {}
        self._lock = threading.Lock()

    def items(self, resource: str) -> list[dict]:
        """Every object of ``resource``; empty when the kind is not served."""
        followed = self._lists.get(resource)
        if followed is None:
            store = self.stores.store(self.group, self.version, resource)
            if store is None:
                return []
            with self._lock:
                followed = self._lists.get(resource)
                if followed is None:
                    followed = self._lists[resource] = FollowedList(
                        store, poll_seconds=self.poll_seconds)
        return followed.items()
