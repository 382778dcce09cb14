#!/usr/bin/env python
"""Pod startup latency at a steady create rate, then 100 simulated nodes holding 3,000 pods
(the kubelets' memory and CPU), each next to a raw baseline measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/apiserver_bench \\
        python bench/pod_startup_bench.py --nodes 100 --pods 600 --rate 20 --fill 3000

One ``manage.py up --nodes N`` (scheduler, N simulated kubelets, controller manager) on a
fresh data dir, and with ``DATABASE_URL`` on a fresh database next to the one it names
(bench/cluster.py).  Then:

* baseline: ``--pods`` pods with a ``schedulerName`` nobody serves, POSTed at ``--rate``/s
  on a fixed schedule (open loop: a slow create does not delay the next): the API's create
  latency (send → response), p50/p99; then deleted;
* startup: a watch on the startup pods is opened first; ``--pods`` schedulable pods are
  POSTed at ``--rate``/s the same way.  For each pod the watch records when it is first seen
  bound (spec.nodeName) and first seen with status.phase Running.  Startup latency is that
  time − the client's send time of the pod's create (the primary figure), and also − the
  pod's creationTimestamp (upstream's SLI definition, but the timestamp has one-second
  resolution, so this figure is late by up to 1 s); p50/p90/p99/max, target p99 ≤ 5 s
  (upstream's pod startup SLO, which also excludes image pulls: the simulated runtime's pull
  delay, 0.2 s by default, is included here); and the API requests per pod: the server's
  ``apiserver_request_total`` read before the first create and once all are Running, the
  difference over ``--pods``, in total and for the top kinds (verb resource/subresource;
  the bench's creates, and the node leases and status of the window, are in it);
* fill: pods POSTed by ``--fill-concurrency`` clients until the namespace holds ``--fill``
  (30 per node at the defaults), until all are Running; ``--settle`` seconds of quiet; then
  over ``--steady-seconds`` the CPU (utime+stime from /proc/PID/stat) and VmRSS of up's
  ``python -m workers.kubelet`` children (summed, per node, per pod), and of the API server
  (the ``up`` process), the scheduler and the controller manager.  Raw baseline: the VmRSS
  of a bare ``python -c "import workers.kubelet"`` (and, for reference, of ``pass`` and of
  the module a kubelet process runs, ``workers.kubelet.kubelet``).

PostgreSQL's own backends are not in any CPU or RSS figure.  Progress goes to stderr, the
report to stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apiserver.client import AsyncClient, load_kubeconfig, watch  # noqa: E402
from cluster import (CLK_TCK, ROOT, Cluster, child_pids, cpu_seconds,  # noqa: E402
                     database_label, format_requests, request_counts, request_delta,
                     requests_per_pod, retrying, rss_kib, wait_nodes_ready)
from raw_baselines import pct  # noqa: E402

NS = "bench"
PODS = f"/api/v1/namespaces/{NS}/pods"
TARGET_P99_S = 5.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pod(name: str, group: str, scheduler: str = "default-scheduler") -> dict:
    """A small schedulable pod; the requests make the scheduler spread them evenly."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"bench": group}},
            "spec": {"schedulerName": scheduler, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "nginx",
                                     "resources": {"requests": {"cpu": "10m",
                                                                "memory": "16Mi"}}}]}}


def rfc3339(text: str) -> float:
    """Seconds since the epoch of a metadata timestamp (``2026-12-04T21:05:03Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def stats(values: list[float]) -> dict:
    """p50/p90/p99/max in seconds, rounded to the millisecond; n."""
    s = sorted(values)
    out = {k: round(pct(s, p), 3) for k, p in (("p50", .5), ("p90", .9), ("p99", .99))}
    out["max"] = round(s[-1], 3) if s else float("nan")
    out["n"] = len(s)
    return out


async def paced_creates(client, group: str, n: int, rate: float, scheduler: str) -> dict:
    """POST ``n`` pods named GROUP-i at ``rate``/s on a fixed schedule, each in its own task.
    -> {name: (send wall time, response wall time, creationTimestamp seconds)}."""
    sent: dict = {}

    async def one(name: str) -> None:
        t_send = time.time()
        created = await retrying(client.create, PODS, pod(name, group, scheduler))
        sent[name] = (t_send, time.time(), rfc3339(created["metadata"]["creationTimestamp"]))

    start = time.monotonic()
    tasks = []
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(f"{group}-{i}")))
    await asyncio.gather(*tasks)
    return sent


class FirstSeen:
    """A watch on the pods labelled ``bench=GROUP`` from ``rv`` on, recording per pod the wall
    time it is first seen bound and first seen Running; resumes if the server ends it."""

    def __init__(self, client, group: str, rv: str):
        self.client, self.group, self.rv = client, group, rv
        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            events = watch(self.client, PODS, {"labelSelector": f"bench={self.group}"}, self.rv,
                           allow_bookmarks=True, timeout_seconds=3600)
            async for ev in events:
                now = time.time()
                obj = ev.get("object") or {}
                self.rv = (obj.get("metadata") or {}).get("resourceVersion") or self.rv
                if ev.get("type") not in ("ADDED", "MODIFIED"):
                    continue
                name = obj["metadata"]["name"]
                if obj.get("spec", {}).get("nodeName"):
                    self.bound.setdefault(name, now)
                if obj.get("status", {}).get("phase") == "Running":
                    self.running.setdefault(name, now)

    async def wait(self, n: int, timeout: float) -> None:
        """Until ``n`` pods were seen Running, or ``timeout`` seconds (then it just returns)."""
        deadline = time.monotonic() + timeout
        while len(self.running) < n and time.monotonic() < deadline:
            if self.task.done():
                self.task.result()                  # re-raise what ended the watch
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - it is being closed
            pass


async def phase_baseline(c, args) -> dict:
    log(f"baseline: {args.pods} unschedulable pods at {args.rate}/s")
    sent = await paced_creates(c, "raw", args.pods, args.rate, "nobody")
    out = {"create_latency_s": stats([r - s for s, r, _ in sent.values()]),
           "achieved_rate": round(args.pods / (max(s for s, _, _ in sent.values())
                                                - min(s for s, _, _ in sent.values())
                                                + 1 / args.rate), 1)}
    await retrying(c.delete, PODS, params={"labelSelector": "bench=raw"})
    while (await retrying(c.list, PODS, {"labelSelector": "bench=raw", "limit": 500}))["items"]:
        await asyncio.sleep(0.5)
    return out


async def phase_startup(c, wc, args, cluster: Cluster) -> dict:
    log(f"startup: {args.pods} pods at {args.rate}/s, watched")
    meter = CpuMeter(cluster)
    rv = (await retrying(c.list, PODS, {"limit": 1}))["metadata"]["resourceVersion"]
    seen = FirstSeen(wc, "startup", rv)
    await asyncio.sleep(1.0)                        # the watch request is on its way
    req0 = await asyncio.to_thread(request_counts, cluster.kubeconfig)
    meter.start()
    sent = await paced_creates(c, "startup", args.pods, args.rate, "default-scheduler")
    await seen.wait(args.pods, args.timeout)
    cpu = meter.stop()
    req1 = await asyncio.to_thread(request_counts, cluster.kubeconfig)
    await seen.stop()
    sends = [s for s, _, _ in sent.values()]
    running = {n: t for n, t in seen.running.items() if n in sent}
    out = {
        "achieved_rate": round(args.pods / (max(sends) - min(sends) + 1 / args.rate), 1),
        "create_latency_s": stats([r - s for s, r, _ in sent.values()]),
        "running_seen": len(running),
        "latency_from_send_s": stats([t - sent[n][0] for n, t in running.items()]),
        "latency_from_creation_timestamp_s": stats([t - sent[n][2] for n, t in running.items()]),
        "bound_from_send_s": stats([t - sent[n][0] for n, t in seen.bound.items() if n in sent]),
        "cpu_pct_of_core": cpu,
        "requests": requests_per_pod(request_delta(req0, req1), args.pods),
    }
    out["met_p99_from_send"] = out["latency_from_send_s"]["p99"] <= TARGET_P99_S \
        and len(running) == args.pods
    out["met_p99_from_creation_timestamp"] = \
        out["latency_from_creation_timestamp_s"]["p99"] <= TARGET_P99_S and len(running) == args.pods
    return out


async def phase_fill(c, args) -> dict:
    have = len((await retrying(c.list, PODS, {"limit": 500}))["items"])
    todo = max(args.fill - have, 0)
    log(f"fill: {todo} more pods ({args.fill_concurrency} clients) to {args.fill}")
    names = iter(range(todo))
    t0 = time.monotonic()

    async def worker():
        for i in names:
            await retrying(c.create, PODS, pod(f"fill-{i}", "fill"))
    await asyncio.gather(*(worker() for _ in range(args.fill_concurrency)))
    created = time.monotonic()
    deadline = t0 + args.timeout
    while True:
        items = (await retrying(c.list, PODS, {"limit": 500}))["items"]
        running = [p for p in items if p.get("status", {}).get("phase") == "Running"]
        if len(running) >= args.fill or time.monotonic() > deadline:
            break
        await asyncio.sleep(3)
    done = time.monotonic()
    per_node = Counter(p["spec"].get("nodeName") for p in running)
    return {"pods": len(items), "running": len(running), "created_s": round(created - t0, 1),
            "all_running_s": round(done - t0, 1),
            "pods_per_s": round(todo / (done - t0), 1) if todo else None,
            "nodes_used": len(per_node),
            "pods_per_node_min": min(per_node.values()) if per_node else 0,
            "pods_per_node_max": max(per_node.values()) if per_node else 0}


def kubelets_in(pid: int) -> int:
    """How many ``--node-name`` flags (kubelets) a kubelet process was started with."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0").count(b"--node-name")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores (/proc/stat, first line)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def process_groups(cluster: Cluster) -> dict[str, list[int]]:
    """This run's processes by role; ``postgres`` is the backends on this run's database."""
    up = cluster.proc.pid
    return {"kubelets": child_pids(up, "workers.kubelet"), "apiserver": [up],
            "scheduler": child_pids(up, "manage.py scheduler"),
            "controller_manager": child_pids(up, "manage.py controller-manager"),
            "postgres": cluster.db_backend_pids(), "bench_client": [os.getpid()]}


class CpuMeter:
    """CPU per process group between ``start()`` and ``stop()``, in % of one core, and the
    rest of the machine's busy time (``other``: processes outside this run, e.g. other
    users' tests on a shared machine).  A PID gone by ``stop()`` is left out."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def start(self) -> None:
        self.groups = process_groups(self.cluster)
        self.cpu0 = {p: _cpu_or_none(p) for pids in self.groups.values() for p in pids}
        self.m0, self.w0 = machine_ticks(), time.monotonic()

    def stop(self) -> dict:
        m1, wall = machine_ticks(), time.monotonic() - self.w0
        out, ours = {}, 0.0
        for g, pids in self.groups.items():
            used = 0.0
            for p in pids:
                now = _cpu_or_none(p)
                if now is not None and self.cpu0[p] is not None:
                    used += now - self.cpu0[p]
            out[g] = round(100 * used / wall, 1)
            ours += used
        busy_s = (m1[0] - self.m0[0]) / CLK_TCK
        out["machine_busy_pct_of_2_cores"] = round(
            100 * (m1[0] - self.m0[0]) / max(m1[1] - self.m0[1], 1), 1)
        out["other"] = round(100 * max(busy_s - ours, 0.0) / wall, 1)
        out["window_s"] = round(wall, 1)
        return out


def _cpu_or_none(pid: int) -> float | None:
    try:
        return cpu_seconds(pid)
    except (OSError, ValueError, IndexError):
        return None


def steady_window(cluster: Cluster, seconds: float) -> dict:
    """CPU over ``seconds`` (``CpuMeter``) and VmRSS at its end, per process group."""
    meter = CpuMeter(cluster)
    meter.start()
    time.sleep(seconds)
    cpu = meter.stop()
    out = {"cpu_pct_of_core": cpu, "processes": {g: len(p) for g, p in meter.groups.items()},
           "rss_mib": {g: round(sum(rss_kib(p) for p in pids) / 1024, 1)
                       for g, pids in meter.groups.items() if g not in ("postgres",)}}
    out["kubelets_per_process"] = max(kubelets_in(p) for p in meter.groups["kubelets"])
    return out


def bare_rss_kib(code: str) -> int:
    """VmRSS of a fresh ``python -c CODE`` process, read by itself once CODE has run."""
    probe = code + "\nprint([l.split()[1] for l in open('/proc/self/status') " \
                   "if l.startswith('VmRSS:')][0])"
    return int(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.split()[-1])


async def bench(args, cluster: Cluster) -> dict:
    out: dict = {"nodes": args.nodes, "pods": args.pods, "rate": args.rate,
                 "database": database_label()}
    cfg = load_kubeconfig(str(cluster.kubeconfig))
    async with AsyncClient(cfg, max_idle=64) as c, AsyncClient(cfg) as wc:
        await c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": NS}})
        log(f"waiting for {args.nodes} nodes to be Ready")
        await wait_nodes_ready(c, args.nodes, 300)
        out["baseline"] = await phase_baseline(c, args)
        out["startup"] = await phase_startup(c, wc, args, cluster)
        if args.fill:
            out["fill"] = await phase_fill(c, args)
            log(f"settling {args.settle:.0f} s, then a {args.steady_seconds:.0f} s window")
            await asyncio.sleep(args.settle)
            out["steady"] = await asyncio.to_thread(steady_window, cluster,
                                                    args.steady_seconds)
    out["raw_rss_kib"] = {"python -c pass": bare_rss_kib("pass"),
                          "import workers.kubelet": bare_rss_kib("import workers.kubelet"),
                          "import workers.kubelet.kubelet":
                              bare_rss_kib("import workers.kubelet.kubelet")}
    return out


def fmt(s: dict) -> str:
    return (f"p50 {s['p50']:.3f}  p90 {s['p90']:.3f}  p99 {s['p99']:.3f}  "
            f"max {s['max']:.3f} s  (n={s['n']})")


def report(r: dict) -> None:
    """The human-readable figures (the JSON holds the same and more)."""
    print(f"pod startup on {r['nodes']} simulated nodes, {r['database']}, "
          f"{r['pods']} pods at {r['rate']}/s")
    b, s = r["baseline"], r["startup"]
    print(f"  baseline create (unscheduled)  {fmt(b['create_latency_s'])}  "
          f"at {b['achieved_rate']}/s")
    print(f"  create during startup phase    {fmt(s['create_latency_s'])}  "
          f"at {s['achieved_rate']}/s")
    print(f"  bound, from create sent        {fmt(s['bound_from_send_s'])}")
    print(f"  Running, from create sent      {fmt(s['latency_from_send_s'])}  "
          f"{'MET' if s['met_p99_from_send'] else 'NOT MET'} (p99 <= {TARGET_P99_S:g} s)")
    print(f"  Running, from creationTimestamp {fmt(s['latency_from_creation_timestamp_s'])}  "
          f"{'MET' if s['met_p99_from_creation_timestamp'] else 'NOT MET'}")
    print(f"  seen Running: {s['running_seen']}/{r['pods']}")
    print("  CPU while starting, % of one core: " + cpu_line(s["cpu_pct_of_core"]))
    print(f"  API requests while starting ({s['cpu_pct_of_core']['window_s']} s): "
          + format_requests(s["requests"]))
    raw = r["raw_rss_kib"]
    print("  raw RSS: " + ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in raw.items()))
    if "steady" not in r:
        return
    f, st = r["fill"], r["steady"]
    cpu, rss, procs = st["cpu_pct_of_core"], st["rss_mib"], st["processes"]
    print(f"\n{f['pods']} pods ({f['running']} Running) on {f['nodes_used']} nodes, "
          f"{f['pods_per_node_min']}-{f['pods_per_node_max']} per node; fill took "
          f"{f['all_running_s']} s ({f['pods_per_s']} pods/s)")
    pods, nodes = max(f["running"], 1), r["nodes"]
    base = raw["import workers.kubelet"] / 1024
    print(f"  kubelets: {nodes} in {procs['kubelets']} processes "
          f"({st['kubelets_per_process']} per process)")
    print(f"    RSS total {rss['kubelets']:.1f} MiB = {rss['kubelets'] / nodes:.2f} MiB/node "
          f"= {1024 * rss['kubelets'] / pods:.0f} KiB/pod; above {procs['kubelets']} x the "
          f"{base:.1f} MiB import baseline: "
          f"{(rss['kubelets'] - procs['kubelets'] * base) / nodes:.2f} MiB/node")
    print(f"    CPU {cpu['kubelets']:.1f} % of one core = {cpu['kubelets'] / nodes:.3f} %/node "
          f"= {10_000 * cpu['kubelets'] / pods:.1f} us/s per pod")
    for g in ("apiserver", "scheduler", "controller_manager"):
        print(f"  {g:<18} RSS {rss[g]:7.1f} MiB  CPU {cpu[g]:6.1f} % of one core")
    print(f"  CPU over the {cpu['window_s']} s window, % of one core: " + cpu_line(cpu))


def cpu_line(cpu: dict) -> str:
    """One line of a ``CpuMeter`` result."""
    parts = [f"{g} {cpu[g]}" for g in ("apiserver", "postgres", "scheduler", "kubelets",
                                         "controller_manager", "bench_client", "other")]
    return ", ".join(parts) + f" (machine busy {cpu['machine_busy_pct_of_2_cores']} % of 2 cores)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--kubelets-per-process", type=int, default=None,
                    help="passed to up (default: up's own)")
    ap.add_argument("--pods", type=int, default=600, help="pods in each paced phase")
    ap.add_argument("--rate", type=float, default=20.0, help="creates per second")
    ap.add_argument("--fill", type=int, default=3000,
                    help="pods to hold for the steady window (0: skip)")
    ap.add_argument("--fill-concurrency", type=int, default=8)
    ap.add_argument("--settle", type=float, default=20.0)
    ap.add_argument("--steady-seconds", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds to wait for pods to be Running, per phase")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    up = ["--nodes", str(args.nodes)]
    if args.kubelets_per_process:
        up += ["--kubelets-per-process", str(args.kubelets_per_process)]
    log(f"starting up {' '.join(up)} ({database_label()})")
    with Cluster(up, prefix="pod-startup-bench-", start_timeout=180) as cluster:
        result = asyncio.run(bench(args, cluster))
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
