"""The garbage collector (workers/controllers/garbagecollector*.py) in this process against a
real ``manage.py up --no-workers`` (its own SQLite data dir; no controller manager of its
own, so this module's collector is the only one), with discovery re-read every second."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from apiserver.client import ApiError, AsyncClient, load_kubeconfig
from apiserver.management.commands.up import worker_children
from apiserver.pki import PKI
from workers.controllers.garbagecollector import GarbageCollector
from workers.controllers.informers import SharedInformers
from workers.controllers.manager import CONTROLLERS, RECORDER_NAMES

REPO_ROOT = Path(__file__).resolve().parents[3]
CM = "/api/v1/namespaces/{ns}/configmaps"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kubeconfig():
    tmp = Path(tempfile.mkdtemp(prefix="gc-test-"))
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    env.pop("APISERVER_DATA_DIR", None)
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "up", "--no-workers", "--data-dir",
                             str(tmp), "--secure-port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "server not ready"
            try:
                ctx = ssl.create_default_context(cafile=str(tmp / "pki" / "ca.crt"))
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx,
                                            timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.3)
        yield tmp / "admin.kubeconfig"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run(kubeconfig, scenario, timeout=90):
    """Run ``scenario(client, ns)`` with a started collector and a fresh namespace."""
    async def main():
        async with AsyncClient(load_kubeconfig(str(kubeconfig))) as client:
            ns = f"gc-{uuid.uuid4().hex[:8]}"
            await client.create("/api/v1/namespaces", {"metadata": {"name": ns}})
            gc = GarbageCollector(client, SharedInformers(client), None, resync_period=1.0)
            gc.start()
            try:
                await asyncio.wait_for(gc.running.wait(), 60)
                await scenario(client, ns, gc)
            finally:
                await gc.stop()
    asyncio.run(asyncio.wait_for(main(), timeout))


def cm(name, owners=(), **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, **({"ownerReferences": list(owners)} if owners else {}), **meta}}


def ref(obj, kind="ConfigMap", api_version="v1", block=None):
    out = {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
           "uid": obj["metadata"]["uid"]}
    if block is not None:
        out["blockOwnerDeletion"] = block
    return out


async def gone(client, path, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await client.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return True
            raise
        await asyncio.sleep(0.2)
    return False


async def until(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    return await check()


def test_registered_under_upstream_names():
    assert "garbagecollector" in CONTROLLERS
    assert RECORDER_NAMES["garbagecollector"] == "garbage-collector-controller"


def test_up_runs_the_controller_manager_even_without_nodes(tmp_path):
    children = worker_children(tmp_path, PKI(tmp_path).ensure(), "https://127.0.0.1:6443", 0,
                               10, "simulated", [])
    assert [c.name for c in children] == ["controller-manager"]
    assert children[0].argv[-3:] == ["--kubeconfig", str(tmp_path / "controller-manager.kubeconfig"),
                                     "--leader-elect"]


def test_background_collects_dependents_of_a_deleted_owner(kubeconfig):
    async def scenario(client, ns, gc):
        owner = await client.create(CM.format(ns=ns), cm("owner"))
        child = await client.create(CM.format(ns=ns), cm("child", [ref(owner)]))
        grandchild = await client.create(CM.format(ns=ns), cm("grandchild", [ref(child)]))
        await asyncio.sleep(0.5)
        assert (await client.get(f"{CM.format(ns=ns)}/child"))["metadata"]["uid"] == \
            child["metadata"]["uid"]          # its owner is there: nothing is collected
        await client.delete(f"{CM.format(ns=ns)}/owner")
        assert await gone(client, f"{CM.format(ns=ns)}/child")
        assert await gone(client, f"{CM.format(ns=ns)}/grandchild")
        assert grandchild["metadata"]["uid"]
    run(kubeconfig, scenario)


def test_an_owner_that_never_existed_or_has_another_uid_is_absent(kubeconfig):
    async def scenario(client, ns, gc):
        real = await client.create(CM.format(ns=ns), cm("real"))
        fake = {"apiVersion": "v1", "kind": "ConfigMap", "name": "real", "uid": str(uuid.uuid4())}
        await client.create(CM.format(ns=ns), cm("wrong-uid", [fake]))
        await client.create(CM.format(ns=ns), cm("missing", [{**fake, "name": "nobody"}]))
        # one live owner and one absent: only the dangling reference goes
        both = await client.create(CM.format(ns=ns), cm("both", [ref(real), {
            **fake, "name": "ghost"}]))
        assert await gone(client, f"{CM.format(ns=ns)}/wrong-uid")
        assert await gone(client, f"{CM.format(ns=ns)}/missing")

        async def trimmed():
            got = await client.get(f"{CM.format(ns=ns)}/both")
            return got["metadata"].get("ownerReferences") == [ref(real)] and got
        got = await until(trimmed)
        assert got and got["metadata"]["uid"] == both["metadata"]["uid"]
    run(kubeconfig, scenario)


def test_foreground_waits_for_blocking_dependents_then_removes_the_owner(kubeconfig):
    async def scenario(client, ns, gc):
        owner = await client.create(CM.format(ns=ns), cm("fg-owner"))
        # a finalizer holds the blocking dependent, so the owner must wait for it
        await client.create(CM.format(ns=ns), cm("fg-child", [ref(owner, block=True)],
                                                 finalizers=["example.com/hold"]))
        await client.create(CM.format(ns=ns), cm("fg-free", [ref(owner, block=False)]))
        marked = await client.delete(f"{CM.format(ns=ns)}/fg-owner",
                                     {"propagationPolicy": "Foreground"})
        assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]

        async def child_marked():
            got = await client.get(f"{CM.format(ns=ns)}/fg-child")
            return got["metadata"].get("deletionTimestamp")
        assert await until(child_marked)
        assert await gone(client, f"{CM.format(ns=ns)}/fg-free")
        held = await client.get(f"{CM.format(ns=ns)}/fg-owner")
        assert held["metadata"]["deletionTimestamp"]
        assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
        await client.patch(f"{CM.format(ns=ns)}/fg-child", {"metadata": {"finalizers": None}})
        assert await gone(client, f"{CM.format(ns=ns)}/fg-child")
        assert await gone(client, f"{CM.format(ns=ns)}/fg-owner")
    run(kubeconfig, scenario)


def test_orphan_removes_the_references_then_the_finalizer(kubeconfig):
    async def scenario(client, ns, gc):
        owner = await client.create(CM.format(ns=ns), cm("or-owner"))
        other = await client.create(CM.format(ns=ns), cm("or-other"))
        await client.create(CM.format(ns=ns), cm("or-child", [ref(owner), ref(other)]))
        await asyncio.sleep(0.5)
        await client.delete(f"{CM.format(ns=ns)}/or-owner", {"propagationPolicy": "Orphan"})
        assert await gone(client, f"{CM.format(ns=ns)}/or-owner")
        child = await client.get(f"{CM.format(ns=ns)}/or-child")
        assert child["metadata"]["ownerReferences"] == [ref(other)]
    run(kubeconfig, scenario)


def test_cluster_scoped_dependent_of_a_namespaced_owner_is_left_alone(kubeconfig):
    async def scenario(client, ns, gc):
        owner = await client.create(CM.format(ns=ns), cm("ns-owner"))
        name = f"gc-{uuid.uuid4().hex[:8]}"
        await client.create("/api/v1/namespaces", {"metadata": {
            "name": name, "ownerReferences": [ref(owner)]}})
        # a cluster-scoped owner of a cluster-scoped dependent does count
        # (no "kubernetes" finalizer: no namespace controller runs here to remove it)
        boss = await client.create("/api/v1/namespaces", {"metadata": {"name": name + "-b"},
                                                          "spec": {"finalizers": []}})
        await client.create("/api/v1/namespaces", {"metadata": {
            "name": name + "-c", "ownerReferences": [ref(boss, "Namespace")]}})
        await client.delete(f"{CM.format(ns=ns)}/ns-owner")
        await client.delete(f"/api/v1/namespaces/{name}-b")

        async def terminating():
            got = await client.get(f"/api/v1/namespaces/{name}-c")
            return got["metadata"].get("deletionTimestamp")
        assert await until(terminating)
        await asyncio.sleep(2)
        kept = await client.get(f"/api/v1/namespaces/{name}")
        assert not kept["metadata"].get("deletionTimestamp")
        await client.delete(f"/api/v1/namespaces/{name}")
    run(kubeconfig, scenario)


def test_custom_resources_are_discovered_and_collected(kubeconfig):
    group = f"g{uuid.uuid4().hex[:6]}.example.com"

    async def scenario(client, ns, gc):
        await client.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                         "openAPIV3Schema": {"type": "object",
                                             "x-kubernetes-preserve-unknown-fields": True}}}]}})
        widgets = f"/apis/{group}/v1/namespaces/{ns}/widgets"

        async def served():
            try:
                await client.get(widgets)
                return True
            except ApiError:
                return False
        assert await until(served)
        owner = await client.create(CM.format(ns=ns), cm("cr-owner"))
        w = await client.create(widgets, {"apiVersion": f"{group}/v1", "kind": "Widget",
                                          "metadata": {"name": "w1",
                                                       "ownerReferences": [ref(owner)]}})
        await client.create(CM.format(ns=ns), cm("owned-by-cr", [ref(w, "Widget",
                                                                     f"{group}/v1")]))
        await client.delete(f"{CM.format(ns=ns)}/cr-owner")
        assert await gone(client, f"{widgets}/w1")
        assert await gone(client, f"{CM.format(ns=ns)}/owned-by-cr")
        assert any(p.startswith(f"/apis/{group}/") for p in gc.monitors)
    run(kubeconfig, scenario)
