"""Informer logic against a scripted client: list, watch, resume, re-list on 410, diffing."""
from __future__ import annotations

import asyncio
import copy
import json

from apiserver.client.informer import Informer, key_of
from apiserver.client.rest import ApiError

from .fakes import status

PATH = "/api/v1/namespaces/ns/configmaps"


def cm(name, rv, ns="ns"):
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": ns,
                                              "resourceVersion": str(rv)}}


def cmlist(rv, *items):
    return {"kind": "ConfigMapList", "metadata": {"resourceVersion": str(rv)}, "items": list(items)}


def ev(kind, obj):
    return {"type": kind, "object": obj}


def bookmark(rv):
    return ev("BOOKMARK", {"kind": "ConfigMap", "metadata": {"resourceVersion": str(rv)}})


class ScriptedClient:
    """Answers ``list`` and ``request_stream`` from scripts; an exception in a script is
    raised at that point.  When the watch script runs out, the watch blocks forever."""

    def __init__(self, lists, watches):
        self.lists, self.watches = list(lists), list(watches)
        self.list_calls, self.watch_calls = [], []
        self.exhausted = asyncio.Event()

    async def list(self, path, params=None):
        self.list_calls.append(dict(params or {}))
        r = self.lists.pop(0)
        if isinstance(r, BaseException):
            raise r
        return copy.deepcopy(r)

    async def request_stream(self, path, params=None, *, read_timeout=None):
        assert path == PATH
        self.watch_calls.append(dict(params))
        if not self.watches:
            self.exhausted.set()
            await asyncio.Event().wait()
        script = self.watches.pop(0)
        if isinstance(script, BaseException):
            raise script
        for item in script:
            if isinstance(item, BaseException):
                raise item
            yield json.dumps(item).encode()


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, kind, obj, old):
        self.events.append((kind, key_of(obj), obj["metadata"]["resourceVersion"],
                            old["metadata"]["resourceVersion"] if old else None))


async def run_until_exhausted(inf, client, timeout=5):
    inf.start()
    await asyncio.wait_for(client.exhausted.wait(), timeout)
    await inf.close()


def test_list_then_watch_resumes_from_last_rv_and_bookmarks():
    async def main():
        client = ScriptedClient(
            [cmlist(10, cm("a", 5), cm("b", 6))],
            [[ev("ADDED", cm("c", 11)), ev("MODIFIED", cm("a", 12)), bookmark(15)],
             [ev("DELETED", cm("b", 16)), ConnectionResetError("dropped")],
             [ev("ADDED", cm("a", 17))]])
        rec = Recorder()
        inf = Informer(client, PATH, {"labelSelector": "x=y"}, rec, backoff=(0.01, 0.05),
                       timeout_range=(300, 600))
        await run_until_exhausted(inf, client)
        assert rec.events == [
            ("ADDED", "ns/a", "5", None), ("ADDED", "ns/b", "6", None),
            ("ADDED", "ns/c", "11", None), ("MODIFIED", "ns/a", "12", "5"),
            ("DELETED", "ns/b", "16", "6"), ("MODIFIED", "ns/a", "17", "12")]
        assert client.list_calls == [{"labelSelector": "x=y", "limit": 500}]
        assert [c["resourceVersion"] for c in client.watch_calls] == ["10", "15", "16", "17"]
        for call in client.watch_calls:
            assert call["watch"] == "true" and call["allowWatchBookmarks"] == "true"
            assert call["labelSelector"] == "x=y"
            assert 300 <= int(call["timeoutSeconds"]) <= 600
        assert sorted(inf.cache) == ["ns/a", "ns/c"]
        assert inf.get("a", "ns")["metadata"]["resourceVersion"] == "17"
        assert inf.synced.is_set() and inf.lists == 1 and inf.resource_version == "17"
    asyncio.run(main())


def test_expired_error_event_relists_and_computes_the_gap():
    async def main():
        client = ScriptedClient(
            [cmlist(3, cm("a", 1), cm("b", 2), cm("c", 3)),
             cmlist(20, cm("a", 1), cm("b", 8), cm("d", 9))],
            [[ev("ERROR", status(410, "Expired", "too old resource version: 3 (10)"))]])
        rec = Recorder()
        inf = Informer(client, PATH, None, rec, backoff=(0.01, 0.05))
        await run_until_exhausted(inf, client)
        assert rec.events[3:] == [("MODIFIED", "ns/b", "8", "2"), ("ADDED", "ns/d", "9", None),
                                  ("DELETED", "ns/c", "3", "3")]
        assert sorted(inf.cache) == ["ns/a", "ns/b", "ns/d"]
        assert inf.lists == 2 and [c["resourceVersion"] for c in client.watch_calls] == ["3", "20"]
    asyncio.run(main())


def test_http_410_relists_and_other_errors_back_off():
    async def main():
        client = ScriptedClient(
            [ConnectionRefusedError("not up yet"), cmlist(5, cm("a", 4)), cmlist(9)],
            [ApiError(500, "InternalError", "boom"), ApiError(410, "Gone", "compacted")])
        rec = Recorder()
        inf = Informer(client, PATH, None, rec, backoff=(0.01, 0.05), page_size=None)
        await run_until_exhausted(inf, client)
        assert len(client.list_calls) == 3 and client.list_calls[0] == {}
        assert rec.events == [("ADDED", "ns/a", "4", None), ("DELETED", "ns/a", "4", "4")]
        assert [c["resourceVersion"] for c in client.watch_calls] == ["5", "5", "9"]
    asyncio.run(main())


def test_restarted_informer_resumes_without_listing():
    async def main():
        client = ScriptedClient([], [[ev("DELETED", cm("a", 8))]])
        rec = Recorder()
        inf = Informer(client, PATH, None, rec)
        inf.cache = {"ns/a": cm("a", 4)}
        inf.resource_version = "7"
        await run_until_exhausted(inf, client)
        assert client.list_calls == [] and client.watch_calls[0]["resourceVersion"] == "7"
        assert rec.events == [("DELETED", "ns/a", "8", "4")] and inf.cache == {}
    asyncio.run(main())


def test_handler_failures_are_contained_and_async_handlers_awaited():
    async def main():
        client = ScriptedClient([cmlist(2, cm("a", 1), cm("b", 2))], [])
        seen = []

        async def handler(kind, obj, old):
            await asyncio.sleep(0)
            if obj["metadata"]["name"] == "a":
                raise RuntimeError("handler bug")
            seen.append(obj["metadata"]["name"])
        inf = Informer(client, PATH, None, handler)
        await run_until_exhausted(inf, client)
        assert seen == ["b"] and sorted(inf.cache) == ["ns/a", "ns/b"]
    asyncio.run(main())


def test_cluster_scoped_keys_and_stop():
    async def main():
        node = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "3"}}
        client = ScriptedClient([cmlist(3, node)], [])
        inf = Informer(client, PATH)
        task = inf.start()
        await inf.wait_synced(5)
        assert inf.get("n1") is not None and list(inf.cache) == ["n1"]
        await asyncio.wait_for(client.exhausted.wait(), 5)
        inf.stop()
        await asyncio.wait([task], timeout=5)
        assert task.cancelled()
    asyncio.run(main())
