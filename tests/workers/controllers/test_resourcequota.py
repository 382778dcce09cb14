"""The resourcequota controller (workers/controllers/resourcequota.py and its evaluators,
resourcequota_evaluators.py).

Its evaluators are checked against the server's (resources/quota/evaluators.py, which the
ResourceQuota admission plugin charges creates with) and the server's quantity printing; the
controller runs in this process against a real ``manage.py up --no-workers`` (its own SQLite
data dir, no controller manager, so this module's controller is the only one writing quota
status besides admission)."""
from __future__ import annotations

import asyncio
import copy
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
from fractions import Fraction
from pathlib import Path

import pytest

from apiserver.client import ApiError, AsyncClient, load_kubeconfig
from apiserver.runtime.quantity import parse_quantity
from resources.admission.resource_quota import _text
from resources.quota import evaluators as server_ev
from workers.controllers import resourcequota_evaluators as ev
from workers.controllers.informers import SharedInformers
from workers.controllers.manager import CONTROLLERS, parse_args
from workers.controllers.resourcequota import ResourceQuotaController

REPO_ROOT = Path(__file__).resolve().parents[3]


def pod(name, containers=None, init=None, **spec):
    spec = {"containers": containers or [{"name": "c", "image": "busybox"}], **spec}
    if init:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def ctr(name, requests=None, limits=None, **extra):
    res = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": name, "image": "busybox", "resources": res, **extra}


# ---- the evaluators, without a server ---------------------------------------------------------
@pytest.mark.parametrize("text", ["100m", "1", "1Gi", "1024Mi", "0.5", "1e3", "1.5Gi", "129e6",
                                  "2k", "1.000000001m", "12.3n", "0", "5.5"])
def test_quantities_parse_and_print_as_the_servers(text):
    assert ev.parse(text) == parse_quantity(text).value
    for like in ("1", "1Gi", "1e3", None):
        assert ev.format_like(ev.parse(text), like) == _text(parse_quantity(text).value, like)


CREATES = [
    ("pods", pod("a", [ctr("c1", {"cpu": "100m"}), ctr("c2", {"cpu": "200m", "memory": "1Gi"},
                                                         {"cpu": "1", "memory": "1Gi"})],
                 init=[ctr("i", {"cpu": "500m"})], overhead={"cpu": "10m"})),
    ("pods", pod("b", [ctr("c", {"example.com/gpu": "2", "ephemeral-storage": "1Gi"},
                           {"example.com/gpu": "2"})],
                 init=[ctr("side", {"cpu": "50m"}, restartPolicy="Always")])),
    ("services", {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [
        {"name": "http", "port": 80}, {"name": "https", "port": 443}]}}),
    ("services", {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [
        {"port": 80}]}}),
    ("services", {"metadata": {"name": "ip"}, "spec": {"ports": [{"port": 80}]}}),
    ("persistentvolumeclaims", {"metadata": {"name": "c"}, "spec": {
        "storageClassName": "fast", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}),
    ("configmaps", {"metadata": {"name": "m"}}),
    ("secrets", {"metadata": {"name": "s"}}),
    ("resourcequotas", {"metadata": {"name": "q"}}),
    ("replicationcontrollers", {"metadata": {"name": "r"}}),
]


@pytest.mark.parametrize("resource,obj", CREATES, ids=lambda v: v if isinstance(v, str) else "")
def test_what_a_create_adds_agrees_with_the_admission_plugin(resource, obj):
    """The two writers of status.used count a new object the same (on every name the
    admission plugin knows)."""
    mine = ev.object_usage(resource, "", obj, 0.0)
    theirs = server_ev.usage(resource, "", obj)
    assert {k: v for k, v in mine.items() if k in theirs} == theirs


def test_pod_requests_follow_upstreams_pod_requests():
    used = ev.object_usage("pods", "", CREATES[0][1], 0.0)
    # max(containers 300m, init 500m) + overhead 10m; limits only where set (+ overhead)
    assert used["requests.cpu"] == used["cpu"] == Fraction(51, 100)
    assert used["limits.cpu"] == Fraction(101, 100)
    assert used["requests.memory"] == 2 ** 30
    extended = ev.object_usage("pods", "", CREATES[1][1], 0.0)
    assert extended["requests.example.com/gpu"] == 2 and "example.com/gpu" not in extended
    assert extended["requests.ephemeral-storage"] == 2 ** 30
    # a sidecar runs beside the containers, and an init container after it beside it too:
    # 50m + 20m (resources/quota/evaluators.py charges 50m here: it leaves the sidecar out)
    sidecar = pod("s", init=[ctr("side", {"cpu": "50m"}, restartPolicy="Always"),
                             ctr("i", {"cpu": "20m"})])
    assert ev.object_usage("pods", "", sidecar, 0.0)["requests.cpu"] == Fraction(7, 100)


def test_terminal_pods_and_pods_stuck_terminating_keep_only_their_object_count():
    done = dict(pod("d", [ctr("c", {"cpu": "1"})]), status={"phase": "Succeeded"})
    assert ev.object_usage("pods", "", done, 0.0) == {"count/pods": 1}
    stuck = pod("s", [ctr("c", {"cpu": "1"})])
    stuck["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z",
                             deletionGracePeriodSeconds=30)
    t0 = ev._parse_time("2026-01-01T00:00:00Z")
    assert ev.object_usage("pods", "", stuck, t0 + 10)["pods"] == 1
    assert ev.object_usage("pods", "", stuck, t0 + 31) == {"count/pods": 1}


def test_load_balancers_without_node_ports_count_only_explicit_ones():
    svc = {"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                    "ports": [{"port": 80, "nodePort": 30001}, {"port": 81}]}}
    assert ev.service_usage(svc)["services.nodeports"] == 1


def test_a_claim_resized_is_charged_the_larger_of_request_and_allocation():
    pvc = {"metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
           "spec": {"storageClassName": "new", "resources": {"requests": {"storage": "1Gi"}}},
           "status": {"allocatedResources": {"storage": "3Gi"}}}
    used = ev.claim_usage(pvc)
    assert used["requests.storage"] == 3 * 2 ** 30
    assert used["old.storageclass.storage.k8s.io/requests.storage"] == 3 * 2 ** 30


def _quota(name, hard, status_hard=None, used=None):
    status = {k: v for k, v in (("hard", status_hard), ("used", used)) if v is not None}
    return {"metadata": {"name": name, "namespace": "n"}, "spec": {"hard": hard},
            "status": status}


def test_quotas_whose_status_lacks_hard_or_usage_go_to_the_priority_queue():
    ctl = ResourceQuotaController(None, SharedInformers(None), None)
    ctl.add_quota(_quota("new", {"pods": "1"}, {"pods": "1"}))
    ctl.add_quota(_quota("raised", {"pods": "2"}, {"pods": "1"}, {"pods": "0"}))
    ctl.add_quota(_quota("known", {"pods": "1"}, {"pods": "1"}, {"pods": "0"}))
    assert sorted(ctl.missing_usage._queue) == ["n/new", "n/raised"]
    assert ctl.queue._queue == ["n/known"]
    # a status-only change (admission raising used) queues nothing; a spec change does
    old = _quota("known", {"pods": "1"}, {"pods": "1"}, {"pods": "0"})
    ctl._on_quota("MODIFIED", _quota("x", {"pods": "1"}, {"pods": "1"}, {"pods": "1"}), old)
    assert ctl.queue._queue == ["n/known"] and len(ctl.missing_usage) == 2
    ctl._on_quota("MODIFIED", _quota("y", {"pods": "3"}, {"pods": "3"}, {"pods": "1"}), old)
    assert ctl.queue._queue == ["n/known", "n/y"]


def test_only_updates_that_free_usage_replenish():
    ctl = ResourceQuotaController(None, SharedInformers(None), None)
    ctl.quotas.cache["n/q"] = _quota("q", {"pods": "2"}, {"pods": "2"}, {"pods": "1"})
    ctl.quotas.cache["n/cm"] = _quota("cm", {"configmaps": "2"}, {"configmaps": "2"},
                                      {"configmaps": "0"})
    handler = ctl._replenisher("pods", "")
    running = dict(pod("p"), metadata={"name": "p", "namespace": "n"})
    handler("MODIFIED", dict(running, metadata={**running["metadata"], "labels": {"a": "b"}}),
            running)
    assert len(ctl.queue) == 0
    handler("MODIFIED", dict(running, status={"phase": "Failed"}), running)
    assert ctl.queue._queue == ["n/q"]        # only the quota tracking pods
    ctl._replenisher("configmaps", "")("DELETED", {"metadata": {"name": "m",
                                                                "namespace": "n"}}, None)
    assert ctl.queue._queue == ["n/q", "n/cm"]


# ---- a real server -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kubeconfig():
    tmp = Path(tempfile.mkdtemp(prefix="rq-test-"))
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


def run(kubeconfig, scenario, *, controller=True, sync_period=300.0, timeout=90):
    """``scenario(client, ns, ctl)`` in a fresh namespace, with a started controller (whose
    informers started and synced first, as the manager does) unless ``controller=False``."""
    async def main():
        async with AsyncClient(load_kubeconfig(str(kubeconfig))) as client:
            ns = f"rq-{uuid.uuid4().hex[:8]}"
            await client.create("/api/v1/namespaces", {"metadata": {"name": ns}})
            if not controller:
                await scenario(client, ns, None)
                return
            informers = SharedInformers(client)
            ctl = ResourceQuotaController(client, informers, None, sync_period=sync_period)
            informers.start()
            await informers.wait_synced(30)
            ctl.start()
            try:
                await scenario(client, ns, ctl)
            finally:
                await ctl.stop()
                await informers.close()
    asyncio.run(asyncio.wait_for(main(), timeout))


async def until(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    return await check()


def used_of(client, ns, name="q"):
    async def get():
        q = await client.get(f"/api/v1/namespaces/{ns}/resourcequotas/{name}")
        return (q.get("status") or {}).get("used")
    return get


async def wait_used(client, ns, want, name="q", timeout=15.0):
    got = used_of(client, ns, name)

    async def check():
        used = await got()
        return used if used == want else None
    return await until(check, timeout) or await got()


async def make_quota(client, ns, hard, name="q", **spec):
    return await client.create(f"/api/v1/namespaces/{ns}/resourcequotas", {
        "metadata": {"name": name}, "spec": {"hard": hard, **spec}})


def test_registered_under_upstreams_name_with_upstreams_flags():
    assert "resourcequota" in CONTROLLERS
    args = parse_args(["--kubeconfig", "k", "--resource-quota-sync-period", "30s"])
    assert args.resource_quota_sync_period == 30.0 and args.concurrent_resource_quota_syncs == 5
    assert parse_args(["--kubeconfig", "k"]).resource_quota_sync_period == 300.0


def test_the_server_alone_keeps_no_usage(kubeconfig):
    """Usage is the controller manager's job (as upstream): the server computes none."""
    async def scenario(client, ns, _):
        await make_quota(client, ns, {"configmaps": "3"})
        await asyncio.sleep(2)
        assert await used_of(client, ns)() is None
    run(kubeconfig, scenario, controller=False)


def test_status_counts_every_kind_of_the_namespace(kubeconfig):
    async def scenario(client, ns, ctl):
        base = f"/api/v1/namespaces/{ns}"
        a = copy.deepcopy(CREATES[0][1])
        del a["spec"]["overhead"]               # the server requires a RuntimeClass for it
        await client.create(f"{base}/pods", a)
        await client.create(f"{base}/pods", pod("b", [ctr("c", {"example.com/gpu": "2"},
                                                            {"example.com/gpu": "2"})]))
        for resource, obj in CREATES[2:8]:
            await client.create(f"{base}/{resource}", obj)
        await client.create(f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "metadata": {"name": "d"}, "spec": {
                "replicas": 0, "selector": {"matchLabels": {"app": "d"}}, "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        hard = {"pods": "10", "count/pods": "10", "requests.cpu": "4", "limits.cpu": "4",
                "requests.memory": "4Gi", "requests.example.com/gpu": "4", "services": "5",
                "services.loadbalancers": "2", "services.nodeports": "5",
                "persistentvolumeclaims": "3", "requests.storage": "10Gi",
                "fast.storageclass.storage.k8s.io/requests.storage": "5Gi",
                "configmaps": "5", "secrets": "5", "resourcequotas": "2",
                "count/deployments.apps": "2"}
        await make_quota(client, ns, hard)
        want = {"pods": "2", "count/pods": "2", "requests.cpu": "500m", "limits.cpu": "1",
                "requests.memory": "1Gi", "requests.example.com/gpu": "2", "services": "3",
                "services.loadbalancers": "1", "services.nodeports": "3",
                "persistentvolumeclaims": "1", "requests.storage": "2Gi",
                "fast.storageclass.storage.k8s.io/requests.storage": "2Gi",
                "configmaps": "1", "secrets": "1", "resourcequotas": "1",
                "count/deployments.apps": "1"}
        assert await wait_used(client, ns, want, timeout=5) == want
        q = await client.get(f"{base}/resourcequotas/q")
        assert q["status"]["hard"] == hard
        # nothing changed: a sync writes nothing
        assert await ctl.sync_quota(q) is False
        assert (await client.get(f"{base}/resourcequotas/q"))["metadata"]["resourceVersion"] \
            == q["metadata"]["resourceVersion"]
        # a changed spec.hard reaches status.hard
        await client.patch(f"{base}/resourcequotas/q", {"spec": {"hard": {"secrets": "7"}}})

        async def hard_synced():
            s = (await client.get(f"{base}/resourcequotas/q"))["status"]
            return s["hard"].get("secrets") == "7" and s["used"].get("secrets") == "1"
        assert await until(hard_synced)
    run(kubeconfig, scenario)


def test_deletes_and_pods_turning_terminal_free_usage(kubeconfig):
    async def scenario(client, ns, ctl):
        base = f"/api/v1/namespaces/{ns}"
        await make_quota(client, ns, {"pods": "5", "count/pods": "5", "requests.cpu": "2",
                                      "configmaps": "3", "count/deployments.apps": "2"})
        await wait_used(client, ns, {"pods": "0", "count/pods": "0", "requests.cpu": "0",
                                     "configmaps": "0", "count/deployments.apps": "0"})
        for name in ("a", "b"):
            await client.create(f"{base}/pods", pod(name, [ctr("c", {"cpu": "250m"})]))
        await client.create(f"{base}/configmaps", {"metadata": {"name": "m"}})
        await client.create(f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "metadata": {"name": "d"}, "spec": {
                "replicas": 0, "selector": {"matchLabels": {"app": "d"}}, "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        full = {"pods": "2", "count/pods": "2", "requests.cpu": "500m", "configmaps": "1",
                "count/deployments.apps": "1"}
        assert await used_of(client, ns)() == full          # admission charged the creates
        await client.delete(f"{base}/pods/a", {"gracePeriodSeconds": 0})
        await client.delete(f"{base}/configmaps/m")
        await client.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/d")
        want = {"pods": "1", "count/pods": "1", "requests.cpu": "250m", "configmaps": "0",
                "count/deployments.apps": "0"}
        assert await wait_used(client, ns, want) == want
        b = await client.get(f"{base}/pods/b")
        b["status"] = {"phase": "Succeeded"}
        await client.update(f"{base}/pods/b/status", b)
        # a terminal pod uses no compute and no "pods"; count/pods counts every object
        want = {"pods": "0", "count/pods": "1", "requests.cpu": "0", "configmaps": "0",
                "count/deployments.apps": "0"}
        assert await wait_used(client, ns, want) == want
    run(kubeconfig, scenario)


def test_scoped_quotas_count_only_the_pods_in_scope(kubeconfig):
    async def scenario(client, ns, ctl):
        base = f"/api/v1/namespaces/{ns}"
        pc = f"high-{ns}"
        await client.create("/apis/scheduling.k8s.io/v1/priorityclasses",
                            {"metadata": {"name": pc}, "value": 1000})
        try:
            await client.create(f"{base}/pods", pod("plain"))
            await client.create(f"{base}/pods", pod("burst", [ctr("c", {"cpu": "100m"})],
                                                    activeDeadlineSeconds=60))
            await client.create(f"{base}/pods", pod("high", priorityClassName=pc))
            await client.create(f"{base}/pods", pod("cross", affinity={"podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "topologyKey": "kubernetes.io/hostname", "namespaces": ["other"],
                    "labelSelector": {"matchLabels": {"a": "b"}}}]}}))
            scoped = {"be": {"scopes": ["BestEffort"]}, "nbe": {"scopes": ["NotBestEffort"]},
                      "term": {"scopes": ["Terminating"]},
                      "nterm": {"scopes": ["NotTerminating"]},
                      "cross": {"scopes": ["CrossNamespacePodAffinity"]},
                      "pc-in": {"scopeSelector": {"matchExpressions": [{
                          "scopeName": "PriorityClass", "operator": "In", "values": [pc]}]}},
                      "pc-notin": {"scopeSelector": {"matchExpressions": [{
                          "scopeName": "PriorityClass", "operator": "NotIn",
                          "values": [pc]}]}}}
            for name, spec in scoped.items():
                await make_quota(client, ns, {"pods": "10"}, name=name, **spec)
            await make_quota(client, ns, {"count/pods": "10", "configmaps": "5"}, name="all",
                             scopes=["NotTerminating"])
            want = {"be": "3", "nbe": "1", "term": "1", "nterm": "3", "cross": "1",
                    "pc-in": "1", "pc-notin": "3"}
            for name, n in want.items():
                assert await wait_used(client, ns, {"pods": n}, name=name) == {"pods": n}, name
            # a scoped quota covers pods only
            got = await wait_used(client, ns, {"count/pods": "3", "configmaps": "0"}, "all")
            assert got == {"count/pods": "3", "configmaps": "0"}
        finally:
            await client.delete(f"/apis/scheduling.k8s.io/v1/priorityclasses/{pc}")
    run(kubeconfig, scenario)


def test_a_write_from_a_stale_quota_is_refused_and_recomputed(kubeconfig):
    """The status write carries the quota's resourceVersion: a count admission raised
    meanwhile is never put back (409), and the sync re-reads and recomputes."""
    async def scenario(client, ns, ctl):
        base = f"/api/v1/namespaces/{ns}"
        await make_quota(client, ns, {"pods": "3"})
        await wait_used(client, ns, {"pods": "0"})
        stale = await client.get(f"{base}/resourcequotas/q")
        await client.create(f"{base}/pods", pod("a"))           # admission: pods 0 -> 1
        with pytest.raises(ApiError) as err:
            await ctl.sync_quota(stale)
        assert err.value.status == 409
        assert await used_of(client, ns)() == {"pods": "1"}
        await ctl.sync(f"{ns}/q")
        assert await wait_used(client, ns, {"pods": "1"}) == {"pods": "1"}
    run(kubeconfig, scenario)


def test_the_periodic_resync_repairs_usage_no_event_reported(kubeconfig):
    async def scenario(client, ns, ctl):
        base = f"/api/v1/namespaces/{ns}"
        await make_quota(client, ns, {"configmaps": "5"})
        await wait_used(client, ns, {"configmaps": "0"})
        q = await client.get(f"{base}/resourcequotas/q")
        q["status"]["used"] = {"configmaps": "4"}       # a status write queues nothing
        await client.update(f"{base}/resourcequotas/q/status", q)
        assert await used_of(client, ns)() == {"configmaps": "4"}
        assert await wait_used(client, ns, {"configmaps": "0"}, timeout=10) == \
            {"configmaps": "0"}
    run(kubeconfig, scenario, sync_period=1.0)
