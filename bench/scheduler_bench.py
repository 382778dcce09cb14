#!/usr/bin/env python
"""The scheduler's binding throughput with 100 nodes, next to the raw baseline (pod creates/s
with no scheduler) measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/apiserver_bench \\
        python bench/scheduler_bench.py --nodes 100 --pods 1000

One ``manage.py up --no-workers`` on a fresh data dir and, with ``DATABASE_URL``, a
fresh database next to the one it names (SQLite when unset; bench/cluster.py).
``--nodes`` Node objects (4 cpu, 16Gi, 110 pods, Ready) are created through the API.  Then:

* baseline: ``--pods`` pods (100m cpu) POSTed by ``--concurrency`` clients, with a
  ``schedulerName`` nobody serves: creates/s;
* backlog: ``--pods`` more pods for the scheduler are created while it is stopped, then
  ``manage.py scheduler`` starts; the figure is pods bound/s from its "caches synced" line
  to the last binding (polled by listing pods);
* live: the scheduler running, ``--pods`` more pods created as fast as the baseline;
  pods bound/s from the first create to the last binding.

``--owned``: every pod is labelled ``app=bench`` and controlled by one ReplicaSet (stored
only: no controller manager runs), so the scheduler scores the default topology spreading
(PodTopologySpread's system defaults over the ReplicaSet's selector) for each of them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apiserver.client import AsyncClient, load_kubeconfig  # noqa: E402
from cluster import ROOT, Cluster, database_label  # noqa: E402


def node(name: str) -> dict:
    alloc = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, scheduler: str, owner: dict | None = None) -> dict:
    meta: dict = {"name": name}
    if owner:
        meta.update(labels={"app": "bench"}, ownerReferences=[owner])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"schedulerName": scheduler, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "nginx",
                                     "resources": {"requests": {"cpu": "100m"}}}]}}


async def create_owner(client) -> dict:
    """The ReplicaSet (0 replicas) that controls every pod with --owned: its reference."""
    rs = await client.create("/apis/apps/v1/namespaces/bench/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "bench"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "bench",
            "uid": rs["metadata"]["uid"], "controller": True}


async def create_pods(client, prefix: str, n: int, scheduler: str, conc: int,
                      owner: dict | None = None) -> float:
    names = iter(range(n))
    start = time.monotonic()

    async def worker():
        for i in names:
            await client.create("/api/v1/namespaces/bench/pods",
                                pod(f"{prefix}-{i}", scheduler, owner))
    await asyncio.gather(*(worker() for _ in range(conc)))
    return time.monotonic() - start


async def wait_bound(client, prefix: str, n: int, timeout: float = 600) -> float:
    done = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = (await client.list("/api/v1/namespaces/bench/pods", {"limit": 500}))["items"]
        done = sum(1 for p in items if p["metadata"]["name"].startswith(prefix + "-")
                   and p["spec"].get("nodeName"))
        if done >= n:
            return time.monotonic()
        await asyncio.sleep(0.25)
    raise TimeoutError(f"only {done}/{n} pods bound")


def start_scheduler(kubeconfig: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "scheduler", "--kubeconfig",
                             str(kubeconfig), "--scheduler-name", "bench-sched"],
                            cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


async def bench(args, kubeconfig: Path, tmp: Path) -> dict:
    async with AsyncClient(load_kubeconfig(str(kubeconfig)), max_idle=args.concurrency + 4) as c:
        await c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "bench"}})
        for i in range(args.nodes):
            name = f"bench-node-{i}"
            await c.create("/api/v1/nodes", node(name))
            await c.patch(f"/api/v1/nodes/{name}", {"spec": {"taints": None}})
        owner = await create_owner(c) if args.owned else None
        base = await create_pods(c, "raw", args.pods, "nobody", args.concurrency, owner)
        out = {"nodes": args.nodes, "pods": args.pods, "concurrency": args.concurrency,
               "owned_by_a_replicaset": bool(args.owned),
               "baseline_creates_per_s": round(args.pods / base, 1)}

        await create_pods(c, "backlog", args.pods, "bench-sched", args.concurrency, owner)
        log = tmp / "scheduler.log"
        proc = start_scheduler(kubeconfig, log)
        try:
            while "caches synced" not in log.read_text(errors="replace"):
                await asyncio.sleep(0.05)
            t0 = time.monotonic()
            t1 = await wait_bound(c, "backlog", args.pods)
            out["backlog_binds_per_s"] = round(args.pods / (t1 - t0), 1)
            t0 = time.monotonic()
            created = await create_pods(c, "live", args.pods, "bench-sched", args.concurrency,
                                      owner)
            t1 = await wait_bound(c, "live", args.pods)
            out["live_creates_per_s"] = round(args.pods / created, 1)
            out["live_binds_per_s"] = round(args.pods / (t1 - t0), 1)
        except TimeoutError:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)   # why
            raise
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", default=None)
    ap.add_argument("--owned", action="store_true",
                    help="pods controlled by one ReplicaSet (default spreading scored)")
    args = ap.parse_args()
    # --no-workers: the scheduler under test is the only worker (with --owned a controller
    # manager would delete the pods its ReplicaSet of 0 replicas does not want)
    with Cluster(["--no-workers"], prefix="sched-bench-") as cluster:
        result = asyncio.run(bench(args, cluster.kubeconfig, cluster.tmp))
    result["database"] = database_label()
    for k, v in result.items():
        print(f"{k:>24}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))

if __name__ == "__main__":
    main()
