"""``WatchStream`` on its own, with a stand-in cache: what it may send and when.

A BOOKMARK promises that everything up to its resourceVersion has been sent (upstream
kubernetes/apiserver:pkg/storage/cacher/cacher.go, "bookmarkable" watchers); clients resume
from it.  The bookmark timer can fire in the
same loop iteration in which the tailer queues an event for this watcher: ``queue.get()`` is
then cancelled with the event still queued and the cache's revision already past it.
"""
from __future__ import annotations

import asyncio

import orjson

from apiserver.endpoints.watch import WatchSettings, WatchStream
from apiserver.filters.request_info import parse_request_info
from apiserver.storage.base import ChangeRecord
from apiserver.storage.watch_cache import Event, Watcher


class StandInCache:
    def __init__(self, rv: int):
        self.rv = rv
        self.watcher = None

    async def watch(self, resource, namespace, after, predicate=None):
        self.watcher = Watcher(resource, namespace, after, predicate)
        return self.watcher

    def unwatch(self, w):
        w.close()


def cm_event(rv: int, name: str) -> Event:
    doc = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "namespace": "ns", "resourceVersion": str(rv)}}).decode()
    return Event(ChangeRecord(rv, "configmaps", "ns", name, "ADDED", doc))


def test_no_bookmark_is_sent_ahead_of_a_queued_event(stores):
    store = stores.store("", "v1", "configmaps")
    info = parse_request_info("GET", "/api/v1/namespaces/ns/configmaps",
                              "watch=true&resourceVersion=10&allowWatchBookmarks=true"
                              "&timeoutSeconds=0.5")

    async def body():
        cache = StandInCache(10)
        stream = WatchStream(cache, store, info, "application/json",
                             WatchSettings(bookmark_seconds=0.05))
        await stream.prepare()
        w = cache.watcher
        real_get, raced = w.queue.get, []

        async def get():
            if not raced:
                # the tailer dispatches revision 11 to this watcher, and the bookmark timer
                # fires before this get() could take it
                raced.append(True)
                cache.rv = 11
                w.offer(cm_event(11, "a"))
                await asyncio.sleep(3600)
            return await real_get()

        w.queue.get = get
        return [orjson.loads(line) async for line in stream.lines()]

    lines = asyncio.run(asyncio.wait_for(body(), 10))
    seen = [(e["type"], int(e["object"]["metadata"]["resourceVersion"])) for e in lines]
    assert ("ADDED", 11) in seen, seen
    first_added = seen.index(("ADDED", 11))
    ahead = [rv for t, rv in seen[:first_added] if t == "BOOKMARK" and rv >= 11]
    assert not ahead, f"BOOKMARK {ahead} sent before the event at 11: {seen}"
    bookmarks = [rv for t, rv in seen if t == "BOOKMARK"]
    assert bookmarks and bookmarks == sorted(bookmarks)
