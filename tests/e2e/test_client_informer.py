"""``apiserver.client`` (AsyncClient, watch, Informer) against a real ``manage.py up``.

This module starts its own server with ``--etcd-compaction-interval 1s`` so that old
resourceVersions are compacted within seconds and the 410 paths can be exercised.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from apiserver.client import ApiError, AsyncClient, Informer, key_of, load_kubeconfig, watch
from conftest import (REPO_ROOT, START_TIMEOUT, STOP_TIMEOUT, Server, _create_pg_database,
                      _drop_pg_database, _free_port, _wait_ready)

TRANSPORTS = ["http", "websocket"]


@pytest.fixture(scope="module")
def server():
    """A ``manage.py up`` compacting history every second (named ``server`` so the e2e
    report hook attaches its log to failures)."""
    tmp = Path(tempfile.mkdtemp(prefix="apiserver-client-e2e-"))
    data_dir, cache_dir = tmp / "data", tmp / "kubectl-cache"
    data_dir.mkdir()
    cache_dir.mkdir()
    port, log_path = _free_port(), data_dir / "server.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("APISERVER_DATA_DIR", None)
    base_url, pg_name = env.pop("DATABASE_URL", None), None
    if base_url:
        pg_name, env["DATABASE_URL"] = _create_pg_database(base_url)
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--data-dir", str(data_dir), "--secure-port",
         str(port), "--etcd-compaction-interval", "1s", "--no-workers"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(data_dir, port, log_path, proc, cache_dir)
    try:
        _wait_ready(srv, time.monotonic() + START_TIMEOUT)
        yield srv
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if pg_name:
            _drop_pg_database(base_url, pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def ns(server):
    name = f"cl-{uuid.uuid4().hex[:10]}"
    code, _, body = server.request("POST", "/api/v1/namespaces", body={
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert code == 201, body
    yield name
    server.request("DELETE", f"/api/v1/namespaces/{name}")


def arun(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def cm(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def rv(obj) -> str:
    return obj["metadata"]["resourceVersion"]


async def wait_until_compacted(c: AsyncClient, path: str, deadline: float = 15) -> None:
    """Until a watch from resourceVersion 1 gets the 410 ERROR event."""
    end = time.monotonic() + deadline
    while True:
        try:
            async for _ in watch(c, path, None, "1", timeout_seconds=1):
                break
        except ApiError as exc:
            if exc.status == 410:
                return
            raise
        assert time.monotonic() < end, "history was never compacted"
        await asyncio.sleep(0.3)


async def converge(inf: Informer, c: AsyncClient, path: str, deadline: float = 15) -> dict:
    """Wait until the informer's cache equals the server's list (key → resourceVersion)."""
    end = time.monotonic() + deadline
    while True:
        want = {key_of(o): rv(o) for o in (await c.list(path))["items"]}
        have = {k: rv(o) for k, o in inf.cache.items()}
        if want == have:
            return have
        assert time.monotonic() < end, f"informer did not converge: {have} != {want}"
        await asyncio.sleep(0.1)


def test_crud_round_trip(server, ns):
    async def main():
        async with AsyncClient(load_kubeconfig(server.kubeconfig)) as c:
            base = f"/api/v1/namespaces/{ns}/configmaps"
            made = await c.create(base, cm("one", a="1"))
            assert made["metadata"]["uid"] and made["data"] == {"a": "1"}
            for i in range(3):
                await c.create(base, cm(f"page-{i}"))
            assert (await c.get(f"{base}/one"))["metadata"]["uid"] == made["metadata"]["uid"]
            listed = await c.list(base, {"limit": 2})
            assert sorted(o["metadata"]["name"] for o in listed["items"]) == \
                ["one", "page-0", "page-1", "page-2"]
            assert int(rv(listed)) >= int(rv(made))
            patched = await c.patch(f"{base}/one", {"data": {"b": "2"}})
            assert patched["data"] == {"a": "1", "b": "2"}
            smp = await c.patch(f"{base}/one", {"metadata": {"labels": {"x": "y"}}},
                                "application/strategic-merge-patch+json")
            assert smp["metadata"]["labels"] == {"x": "y"}
            jp = await c.patch(f"{base}/one", [{"op": "remove", "path": "/data/a"}])
            assert jp["data"] == {"b": "2"}
            updated = await c.update(f"{base}/one", {**jp, "data": {"c": "3"}})
            assert updated["data"] == {"c": "3"}
            with pytest.raises(ApiError) as e:
                await c.update(f"{base}/one", {**jp, "data": {"stale": "1"}})
            assert (e.value.status, e.value.reason) == (409, "Conflict")
            with pytest.raises(ApiError) as e:
                await c.create(base, cm("one"))
            assert (e.value.status, e.value.reason) == (409, "AlreadyExists")
            with pytest.raises(ApiError) as e:
                await c.create(base, cm("Not_Valid"))
            assert (e.value.status, e.value.reason) == (422, "Invalid")
            await c.delete(f"{base}/one", {"propagationPolicy": "Background"})
            with pytest.raises(ApiError) as e:
                await c.get(f"{base}/one")
            assert (e.value.status, e.value.reason) == (404, "NotFound")
            assert e.value.message == 'configmaps "one" not found'
            assert len(c._idle) >= 1                      # keep-alive connections were reused
    arun(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_watch_sees_added_modified_deleted(server, ns, transport):
    async def main():
        async with AsyncClient(load_kubeconfig(server.kubeconfig)) as c:
            base = f"/api/v1/namespaces/{ns}/configmaps"
            start = rv(await c.list(base))
            seen = []

            async def consume():
                async for ev in watch(c, base, None, start, transport=transport,
                                      timeout_seconds=20):
                    if ev["type"] != "BOOKMARK":
                        o = ev["object"]
                        seen.append((ev["type"], o["metadata"]["name"], rv(o)))
                    if ev["type"] == "DELETED":
                        return
            task = asyncio.create_task(consume())
            a = await c.create(base, cm("w", v="1"))
            b = await c.patch(f"{base}/w", {"data": {"v": "2"}})
            await c.delete(f"{base}/w")
            await asyncio.wait_for(task, 15)
            assert [s[:2] for s in seen] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
            assert [s[2] for s in seen[:2]] == [rv(a), rv(b)]
            assert int(seen[2][2]) > int(rv(b))
            # resourceVersion unset: the current state first, as synthetic ADDED events
            await c.create(base, cm("x"))
            async for ev in watch(c, base, transport=transport, timeout_seconds=5):
                assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "x")
                break
    arun(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_watch_from_compacted_rv_is_410(server, ns, transport):
    async def main():
        async with AsyncClient(load_kubeconfig(server.kubeconfig)) as c:
            base = f"/api/v1/namespaces/{ns}/configmaps"
            await wait_until_compacted(c, base)
            with pytest.raises(ApiError) as e:
                async for _ in watch(c, base, None, "1", transport=transport):
                    pass
            assert (e.value.status, e.value.reason) == (410, "Expired")
            assert e.value.message.startswith("too old resource version: 1 (")
    arun(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_informer_converges(server, ns, transport):
    async def main():
        async with AsyncClient(load_kubeconfig(server.kubeconfig)) as c:
            base = f"/api/v1/namespaces/{ns}/configmaps"
            for i in range(3):
                await c.create(base, cm(f"pre-{i}"))
            events = []
            inf = Informer(c, base, None, lambda k, o, old: events.append(
                (k, o["metadata"]["name"])), transport=transport, timeout_range=(1, 2))
            inf.start()
            try:
                await inf.wait_synced(10)
                assert sorted(n for _, n in events) == ["pre-0", "pre-1", "pre-2"]
                for i in range(4):
                    await c.create(base, cm(f"new-{i}"))
                await c.patch(f"{base}/pre-0", {"data": {"k": "v"}})
                await c.patch(f"{base}/new-1", {"data": {"k": "v"}})
                await c.delete(f"{base}/pre-1")
                await c.delete(f"{base}/new-2")
                have = await converge(inf, c, base)
                assert sorted(have) == [f"{ns}/new-0", f"{ns}/new-1", f"{ns}/new-3",
                                        f"{ns}/pre-0", f"{ns}/pre-2"]
                assert ("DELETED", "pre-1") in events and ("MODIFIED", "new-1") in events
                # the 1-2 s watches end and resume from the last resourceVersion, no re-list
                await asyncio.sleep(2.5)
                await c.create(base, cm("late"))
                await converge(inf, c, base)
                assert inf.watches >= 2 and inf.lists == 1
            finally:
                await inf.close()
    arun(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_informer_relists_after_410_and_reports_the_gap(server, ns, transport):
    async def main():
        async with AsyncClient(load_kubeconfig(server.kubeconfig)) as c:
            base = f"/api/v1/namespaces/{ns}/configmaps"
            for name in ("keep", "gone", "changed"):
                await c.create(base, cm(name))
            events = []
            inf = Informer(c, base, None, lambda k, o, old: events.append(
                (k, o["metadata"]["name"])), transport=transport, backoff=(0.05, 0.5))
            inf.start()
            await inf.wait_synced(10)
            await converge(inf, c, base)
            await inf.close()                          # the gap: changes nobody watches
            events.clear()
            await c.delete(f"{base}/gone")
            await c.patch(f"{base}/changed", {"data": {"x": "1"}})
            await c.create(base, cm("born"))
            await wait_until_compacted(c, base)
            inf.resource_version = "1"                 # resume from a compacted revision
            inf.start()
            try:
                await converge(inf, c, base)
                assert inf.lists == 2
                assert isinstance(inf.last_error, ApiError) and inf.last_error.status == 410
                assert sorted(events) == [("ADDED", "born"), ("DELETED", "gone"),
                                          ("MODIFIED", "changed")]
                # and it keeps watching after the re-list
                await c.delete(f"{base}/keep")
                await converge(inf, c, base)
                assert ("DELETED", "keep") in events
            finally:
                await inf.close()
    arun(main())
