"""Watching custom resources: the process's watch cache serves them as any kind (events from
the change log, selectors, apiVersion rewritten for a non-storage version).  Real commits
(``threaded_db``): the cache tails the change log on a thread of its own."""
from __future__ import annotations

import asyncio
import threading

import orjson
import pytest
from django.db import connection, connections

from tests.crds.test_serving_support import CRONTABS, GROUP, create_crd, crontab, serving_world, \
    source_of


class LoopThread:
    """An event loop in a thread, for watches that outlive one request.  Every coroutine it
    runs shares one database connection (Django keeps connections per async context, so
    each task would otherwise open, and leak, its own)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.conn = None

    def run(self, coro, timeout=15):
        async def shared():
            if self.conn is None:
                self.conn = connections["default"]
            connections["default"] = self.conn
            return await coro
        return asyncio.run_coroutine_threadsafe(shared(), self.loop).result(timeout)

    def close(self, cacher):
        """Stop the watch cache and give back every connection this loop's threads opened
        (the cache reader's, the NOTIFY listener's, the loop thread's own)."""
        async def stop():
            cache = await cacher.get()
            await cacher.stop()
            if cacher._listener is not None:
                await asyncio.gather(cacher._listener, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(cache.reader,
                                                             lambda: connection.close())
            cache.reader.shutdown(wait=True)
            connections["default"].close()
        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _events(resp) -> list:
    assert resp.status_code == 200, resp.content
    return [orjson.loads(line) for line in resp.content.splitlines() if line.strip()]


def test_watch_custom_resources_with_selectors_and_versions(threaded_db, monkeypatch):
    # once the watch cache runs, the source's passes run inline (InlineExecutor) on the loop
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    completed, head, client = serving_world()
    create_crd(completed.storage)
    start = completed.storage.current_revision()
    assert client.post(CRONTABS, crontab("a", color="red")).status_code == 201
    assert client.post(CRONTABS, crontab("b", color="blue")).status_code == 201
    assert client.patch(f"{CRONTABS}/a", {"spec": {"replicas": 4}},
                        "application/merge-patch+json").status_code == 200
    assert client.patch(f"{CRONTABS}/b", {"spec": {"color": "red"}},
                        "application/merge-patch+json").status_code == 200
    assert client.delete(f"{CRONTABS}/a").status_code == 200
    source_of(head).poll_seconds = 3600     # current: the watch requests need no pass
    loop = LoopThread()
    try:
        every = _events(loop.run(client.acall(
            "GET", CRONTABS, query=f"watch=1&resourceVersion={start}&timeoutSeconds=1")))
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in every] == [
            ("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("MODIFIED", "b"),
            ("DELETED", "a")]
        assert {e["object"]["apiVersion"] for e in every} == {f"{GROUP}/v1"}

        red = _events(loop.run(client.acall(
            "GET", CRONTABS,
            query=f"watch=1&resourceVersion={start}&timeoutSeconds=1"
                  "&fieldSelector=spec.color%3Dred")))
        # b enters the selector (ADDED), a leaves by deletion
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in red] == [
            ("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]

        labelled = _events(loop.run(client.acall(
            "GET", f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs",
            query=f"watch=1&resourceVersion={start}&timeoutSeconds=1&labelSelector=app%3Db")))
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in labelled] == [
            ("ADDED", "b"), ("MODIFIED", "b")]
        assert {e["object"]["apiVersion"] for e in labelled} == {f"{GROUP}/v1beta1"}
    finally:
        loop.close(completed.cacher)


@pytest.mark.django_db
def test_watch_of_an_unserved_resource_is_not_found():
    completed, head, client = serving_world()
    resp = client.get(CRONTABS, query={"watch": "1"})
    assert resp.status_code == 404


def test_definition_changes_reach_served_resources_through_the_watch_cache(threaded_db,
                                                                         monkeypatch):
    """Once the process's watch cache runs, the source watches the definitions through it:
    a deletion reaches requests of a served group-version at once, without the poll."""
    import time

    from crds.serving import CRD_RESOURCE

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")   # passes run inline on the loop
    completed, head, client = serving_world()
    create_crd(completed.storage)
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    source = source_of(head)
    source.poll_seconds = 3600
    loop = LoopThread()
    try:
        # any client's watch starts the watch cache; the next request subscribes
        now = completed.storage.current_revision()      # from a revision: no initial list
        _events(loop.run(client.acall("GET", "/api/v1/namespaces",
                                      query=f"watch=1&timeoutSeconds=0.2&resourceVersion={now}")))
        assert loop.run(client.acall("GET", CRONTABS)).status_code == 200
        deadline = time.monotonic() + 5
        while source._watcher is None and time.monotonic() < deadline:
            loop.run(asyncio.sleep(0.05))
        assert source._watcher is not None
        found, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
        completed.storage.delete(CRD_RESOURCE, "", f"crontabs.{GROUP}", rv)
        codes = []
        while time.monotonic() < deadline:
            codes.append(loop.run(client.acall("GET", CRONTABS)).status_code)
            if codes[-1] == 404:
                break
            loop.run(asyncio.sleep(0.02))
        assert codes[-1] == 404, codes
    finally:
        loop.close(completed.cacher)
