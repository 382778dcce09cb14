#!/usr/bin/env python
"""A Deployment rolled out by the controller manager on simulated nodes, next to the raw
baseline (the same number of pods POSTed by a client and bound by the scheduler) measured in
the same run; then the controller manager's CPU in steady state.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/apiserver_bench \\
        python bench/controller_bench.py --nodes 100 --replicas 1000 --steady-pods 3000

One ``manage.py up --nodes N`` (scheduler, N kubelets, controller manager) on a fresh data
dir and, with ``DATABASE_URL``, a fresh database next to the one it names (SQLite when unset;
bench/cluster.py).  Then:

* baseline: ``--replicas`` bare pods created by ``--concurrency`` clients, from the first
  create until every one is Running and Ready (the scheduler and kubelets at work, no
  controller); deleted afterwards;
* deployment: one Deployment of ``--replicas`` replicas, from its create until
  ``status.readyReplicas`` reaches it; writes per pod are the revisions the cluster committed
  in that window divided by the replicas (every create, update, patch, binding and status
  write takes one revision; reads are not counted);
* API requests per pod, in both windows: the server's ``apiserver_request_total`` (its
  ``/metrics``) read before the first create and once all are Ready, the difference over the
  pods, in total and for the top kinds (verb resource/subresource).  Everything the server
  answered is in it: the bench's own creates and polls (reported apart) and the cluster's
  background (node leases and status), which an idle window of ``--idle-seconds`` (after
  ``--settle`` seconds, once the nodes are Ready) measures per second;
* steady state: the Deployment scaled to ``--steady-pods``, once all are Ready the controller
  manager's CPU seconds (its process, from /proc) over ``--steady-seconds``, as a percentage
  of one core.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apiserver.client import AsyncClient, load_kubeconfig  # noqa: E402
from cluster import (Cluster, child_pids, cpu_seconds, database_label,  # noqa: E402
                     format_requests, ready, request_counts, request_delta,
                     requests_per_pod, retrying, wait_nodes_ready)

NS = "bench"


def template(labels: dict) -> dict:
    return {"metadata": {"labels": labels},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "web", "image": "nginx",
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


def deployment(replicas: int) -> dict:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": template(labels)}}


async def list_all(client, path: str, selector: str) -> list:
    return (await retrying(client.list, path, {"limit": 500, "labelSelector": selector}))["items"]


async def revision(client) -> int:
    return int((await client.list(f"/api/v1/namespaces/{NS}/configmaps",
                                  {"limit": 1}))["metadata"]["resourceVersion"])


async def counts(kubeconfig: Path) -> dict:
    """``request_counts`` off the event loop (it is a blocking HTTPS GET)."""
    return await asyncio.to_thread(request_counts, kubeconfig)


def window_requests(before: dict, after: dict, pods: int, seconds: float, polls: int,
                    background_per_s: float) -> dict:
    """``requests_per_pod`` of one window, with the bench's own polls in it and the
    background the idle rate predicts for its length, both per pod, and what is left
    once both are taken off (``net_per_pod_est``)."""
    out = requests_per_pod(request_delta(before, after), pods)
    out["bench_polls_per_pod"] = round(polls / pods, 2)
    out["background_per_pod_est"] = round(background_per_s * seconds / pods, 2)
    out["net_per_pod_est"] = round(out["requests_per_pod"] - out["bench_polls_per_pod"]
                                   - out["background_per_pod_est"], 2)
    return out


async def baseline(client, n: int, conc: int, timeout: float) -> tuple[float, int]:
    """Create ``n`` bare pods with ``conc`` clients and poll until all are Ready.
    -> (seconds from the first create, LIST polls made)."""
    names = iter(range(n))
    start = time.monotonic()

    async def worker():
        for i in names:
            pod = dict(template({"bench": "raw"}), apiVersion="v1", kind="Pod",
                       metadata={"name": f"raw-{i}", "labels": {"bench": "raw"}})
            await retrying(client.create, f"/api/v1/namespaces/{NS}/pods", pod)
    await asyncio.gather(*(worker() for _ in range(conc)))
    deadline = start + timeout
    polls = 0
    while time.monotonic() < deadline:
        pods = await list_all(client, f"/api/v1/namespaces/{NS}/pods", "bench=raw")
        polls += 1
        if sum(ready(p) for p in pods) >= n:
            return time.monotonic() - start, polls
        await asyncio.sleep(0.5)
    raise TimeoutError("baseline pods never became Ready")


async def wait_ready_replicas(client, n: int, timeout: float) -> tuple[float, int]:
    """Poll the Deployment until ``status.readyReplicas`` >= ``n``.
    -> (monotonic time it was seen, GET polls made)."""
    deadline = time.monotonic() + timeout
    got = polls = 0
    while time.monotonic() < deadline:
        d = await retrying(client.get, f"/apis/apps/v1/namespaces/{NS}/deployments/web")
        polls += 1
        got = d.get("status", {}).get("readyReplicas") or 0
        if got >= n:
            return time.monotonic(), polls
        await asyncio.sleep(0.5)
    raise TimeoutError(f"only {got}/{n} replicas Ready")


async def bench(args, kubeconfig: Path, up_pid: int) -> dict:
    out = {"nodes": args.nodes, "replicas": args.replicas}
    async with AsyncClient(load_kubeconfig(str(kubeconfig)), max_idle=args.concurrency + 4) as c:
        await c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": NS}})
        await wait_nodes_ready(c, args.nodes, 120)

        # The background rate: what the server answers with no pods coming (leases, node
        # status), so a window's share of it can be told apart from the per-pod work.  The
        # first seconds after the nodes are Ready still hold the controller manager's and
        # the kubelets' start-up LISTs and WATCHes, hence the settle first.
        await asyncio.sleep(args.settle)
        r0, w0 = await counts(kubeconfig), time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        idle = request_delta(r0, await counts(kubeconfig))
        idle_s = time.monotonic() - w0
        bg_rate = sum(idle.values()) / idle_s
        out["background_requests_per_s"] = round(bg_rate, 1)
        out["background_top_per_s"] = {       # per "pod" of a one-pod window = the count
            k: round(n / idle_s, 1)
            for k, n in requests_per_pod(idle, 1, top=4)["top_per_pod"].items()}

        r0 = await counts(kubeconfig)
        took, polls = await baseline(c, args.replicas, args.concurrency, args.timeout)
        r1 = await counts(kubeconfig)
        out["baseline_bare_pods_ready_s"] = round(took, 1)
        out["baseline_requests"] = window_requests(r0, r1, args.replicas, took, polls, bg_rate)
        await c.delete(f"/api/v1/namespaces/{NS}/pods", params={"labelSelector": "bench=raw"})
        while await list_all(c, f"/api/v1/namespaces/{NS}/pods", "bench=raw"):
            await asyncio.sleep(0.5)

        rv0 = await revision(c)
        r0 = await counts(kubeconfig)
        t0 = time.monotonic()
        await c.create(f"/apis/apps/v1/namespaces/{NS}/deployments", deployment(args.replicas))
        t1, polls = await wait_ready_replicas(c, args.replicas, args.timeout)
        r1 = await counts(kubeconfig)
        rv1 = await revision(c)
        out["deployment_all_ready_s"] = round(t1 - t0, 1)
        out["deployment_pods_per_s"] = round(args.replicas / (t1 - t0), 1)
        out["writes_per_pod"] = round((rv1 - rv0) / args.replicas, 2)
        out["deployment_requests"] = window_requests(r0, r1, args.replicas, t1 - t0,
                                                     polls, bg_rate)

        if args.steady_pods:
            await c.patch(f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale",
                          {"spec": {"replicas": args.steady_pods}})
            await wait_ready_replicas(c, args.steady_pods, args.timeout)
            await asyncio.sleep(5)                      # let the last status writes settle
            pids = child_pids(up_pid, "controller-manager")
            if not pids:
                raise RuntimeError("no controller-manager child of up")
            pid = pids[0]
            cpu0, w0 = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(args.steady_seconds)
            cpu1, w1 = cpu_seconds(pid), time.monotonic()
            out["steady_pods"] = args.steady_pods
            out["steady_controller_cpu_pct"] = round(100 * (cpu1 - cpu0) / (w1 - w0), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--steady-pods", type=int, default=3000)
    ap.add_argument("--steady-seconds", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=10.0,
                    help="seconds after the nodes are Ready before the idle window")
    ap.add_argument("--idle-seconds", type=float, default=20.0,
                    help="idle window measuring the background request rate (node leases "
                         "renew every 10 s, so a multiple of 10)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--kubelets-per-process", type=int, default=25)
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    up = ["--nodes", str(args.nodes), "--kubelets-per-process", str(args.kubelets_per_process)]
    with Cluster(up, prefix="controller-bench-") as cluster:
        result = asyncio.run(bench(args, cluster.kubeconfig, cluster.proc.pid))
    result["database"] = database_label()
    for k, v in result.items():
        if k.endswith("_requests"):
            v = (format_requests(v) + f"; of which bench polls {v['bench_polls_per_pod']}"
                 f"/pod, background ~{v['background_per_pod_est']}/pod, leaving "
                 f"~{v['net_per_pod_est']}/pod")
        elif k == "background_top_per_s":
            v = ", ".join(f"{kind} {n}" for kind, n in v.items())
        print(f"{k:>28}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))

if __name__ == "__main__":
    main()
