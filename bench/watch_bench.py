#!/usr/bin/env python
"""Watch latency, fan-out, memory and slow-watcher handling against raw limits of the same run.

    python bench/watch_bench.py --backend postgres            # about 4-5 minutes
    python bench/watch_bench.py --backend postgres,sqlite --duration 5 --idle 2000   # quicker

1. Raw baselines: (a) LISTEN/NOTIFY commit -> notification, a
   writer thread here (INSERT 2.2 KB + pg_notify + COMMIT, 100/s) and a listener process;
   (b) fan-out of ``watch_load.py fanout-server`` (asyncio.start_server, a queue and writer
   task per connection, payload serialised once) to 1,000 clients in another process, 200
   events flat out; (c) server RSS growth per idle connection (5,000).  (b) and (c) also
   run with uvloop + TLS, the server's transport, for reference.
2. Per backend: ``manage.py up --no-workers`` (fresh data dir; postgres: fresh database);
   watchers in another process (``watch_load.py watchers``: uvloop, one TLS connection with
   the admin client certificate per watcher) on ``GET /api/v1/namespaces/NS/configmaps?watch=
   true&resourceVersion=RV``; writer threads here POST then PUT configmaps, each with the
   annotation ``bench/t0`` = CLOCK_MONOTONIC just before the request.  Each delivery gives
   receive - t0 (an UPPER bound of commit -> delivery: includes the write's round trip) and
   receive - arrival of the write's response (a LOWER bound: commit precedes the response).
   Phases: 100 watchers @ 100 writes/s; 1,000 @ 10/s; fan-out (1,000 watchers, 4 writers
   flat out, <= 300 events); slow watcher (control: 100 readers @ 100 writes/s of ~8 KB; then
   the same plus one watcher on a 4 KiB-receive-buffer socket that is not read until the end,
   when it must reach EOF); idle memory (fresh server each: 5,000 HTTP, then 5,000 websocket
   watches; VmRSS before/after).  Each watcher's events are checked against the writes'
   resourceVersions (missing, duplicate, out of order, unexpected).
3. The raw figure next to each result and MET / NOT MET per target.  See bench/README.md.
Options: --backend, --duration 10, --fanout-seconds 3, --slow-seconds 15, --slow-kb 8,
--idle 5000, --settle 2, --skip raw,latency,fanout,slow,memory, --pg-url, --keep, --json.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_throughput import Client, Server  # noqa: E402
from raw_baselines import configmap, dumps, loads  # noqa: E402
from watch_load import (Proc, SlowWatcher, cpu_s, free_port, lat, raise_nofile,  # noqa: E402
                        rss_kib)

HERE, REPO = Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent
mono = time.monotonic
INCOMPLETE = "returned without completing response"    # uvicorn's log line for an ended watch


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- raw baselines
def raw_notify(args, events=500, rate=100.0):
    import psycopg
    db = f"bench_watchraw_{os.getpid()}"
    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{db}"')
    listener = None
    try:
        dsn, doc = f"{args.pg_url}/{db}", dumps(configmap("x")).decode()
        with psycopg.connect(dsn) as w:
            w.execute("CREATE TABLE ev (id bigserial PRIMARY KEY, doc text)")
            w.commit()
            listener = Proc("notify-listen", "--dsn", dsn, "--n", events, python=args.python)
            listener.expect("ready", 30)
            sent, start = {}, mono()
            for i in range(events):
                time.sleep(max(0.0, start + i / rate - mono()))
                w.execute("INSERT INTO ev (doc) VALUES (%s)", (doc,))
                w.execute("SELECT pg_notify('bench_watch', %s)", (str(i),))
                t_c = mono()
                w.commit()
                sent[i] = (t_c, mono())
            got = dict(listener.expect("result", 70)["result"])
        return {"from_commit_sent": lat([t - sent[i][0] for i, t in got.items()]),
                "from_commit_returned": lat([t - sent[i][1] for i, t in got.items()]),
                "lost": events - len(got)}
    finally:
        if listener:
            listener.stop()
        with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def tls_files():
    d = tempfile.mkdtemp(prefix="bench-watch-tls-")
    cert, key = f"{d}/c.pem", f"{d}/k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    return cert, key


def raw_asyncio(args, n, events, tls=None):
    """Raw fan-out (events > 0) or idle memory (events == 0) of watch_load.py fanout-server."""
    port = free_port()
    srv = Proc("fanout-server", "--port", port, *(["--tls", *tls, "--uvloop"] if tls else []),
               python=args.python)
    load = None
    try:
        srv.expect("listening", 30)
        time.sleep(0.5)
        before = rss_kib(srv.pid)
        load = Proc("watchers", "--port", port, "--n", n, "--mode", "raw",
                    *(["--insecure-tls"] if tls else []), python=args.python)
        ready = load.expect("ready", 600)
        for _ in range(100):
            srv.send({"cmd": "count"})
            if srv.expect("conns", 10)["conns"] >= ready["ready"]:
                break
            time.sleep(0.2)
        if not events:
            time.sleep(args.settle)
            after = rss_kib(srv.pid)
            return {"n": ready["ready"], "rss_before_kib": before, "rss_after_kib": after,
                    "kib_per_conn": (after - before) / max(1, ready["ready"])}
        srv.send({"cmd": "fanout", "events": events})
        load.send({"cmd": "stop", "expected": {i: None for i in range(1, events + 1)},
                   "drain": 120})
        res = load.expect("result", 180)["result"]
        start = srv.expect("fanout_started", 30)
        res["duration_s"] = res["last_t"] - start["fanout_started"]
        res["deliveries_per_s"] = res["events"] / res["duration_s"]
        res["event_bytes"] = start["bytes"]
        return res
    finally:
        for p in (load, srv):
            if p:
                p.stop()


# ----------------------------------------------------------------------------- API server
def setup_ns(srv, ns):
    c = Client(srv.port, srv.ctx, 30)
    st, body = c.request("POST", "/api/v1/namespaces", dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    if st not in (200, 201, 409):
        raise RuntimeError(f"creating namespace {ns}: {st} {body[:300]!r}")
    st, body = c.request("GET", f"/api/v1/namespaces/{ns}/configmaps")
    c.close()
    if st != 200:
        raise RuntimeError(f"listing {ns}: {st} {body[:300]!r}")
    return (f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion="
            f"{loads(body)['metadata']['resourceVersion']}")


def write_load(srv, ns, rate, duration, kb=0, max_events=None, conc=1, pool=20):
    """`conc` threads, each writing sequentially over one keep-alive connection, together
    paced at `rate`/s (None: flat out); the first write of each of `pool` names per thread is
    a POST, later ones a PUT.  -> [(rv, t0, t_response)] sorted by rv, errors, response times."""
    out, errors, rtt, lock = [], collections.Counter(), [], threading.Lock()
    start, seq = mono(), iter(range(10 ** 9))

    def worker(w):
        c, objs = Client(srv.port, srv.ctx, 30), {}
        for k in range(10 ** 9):
            i = next(seq)
            if mono() - start >= duration or (max_events is not None and i >= max_events):
                break
            if rate:
                time.sleep(max(0.0, start + i / rate - mono()))
            name = f"w{w}-{k % pool}"
            obj = objs.get(name)
            if obj is None:
                obj = configmap(name, ns)
                if kb:
                    obj["data"] = {f"k{j:03d}": "x" * 1000 for j in range(kb)}
            obj["metadata"].setdefault("annotations", {})["bench/t0"] = f"{mono():.6f}"
            t0 = float(obj["metadata"]["annotations"]["bench/t0"])
            if name in objs:
                st, body = c.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/{name}",
                                     dumps(obj))
            else:
                st, body = c.request("POST", f"/api/v1/namespaces/{ns}/configmaps", dumps(obj))
            t1 = mono()
            with lock:
                if st in (200, 201):
                    objs[name] = o = loads(body)
                    out.append((int(o["metadata"]["resourceVersion"]), t0, t1))
                    rtt.append(t1 - t0)
                else:
                    errors[f"{st} {body[:120]!r}"] += 1
        c.close()
    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)
    return sorted(out), errors, rtt


def watch_phase(args, srv, ns, n, rate, duration, kb=0, max_events=None, slow=False,
                drain=20.0, conc=2):
    path = setup_ns(srv, ns)
    sw = SlowWatcher(srv, path) if slow else None
    load = Proc("watchers", "--port", srv.port, "--path", path, "--n", n, "--mode", "http",
                "--ca", srv.dir / "pki/ca.crt", "--cert", srv.dir / "pki/admin.crt", "--key",
                srv.dir / "pki/admin.key", python=args.python)
    try:
        ready = load.expect("ready", 600)
        c0 = (srv.cpu_seconds(), cpu_s(load.pid), time.process_time())
        writes, errors, rtt = write_load(srv, ns, rate, duration, kb, max_events, conc)
        load.send({"cmd": "stop", "expected": {rv: tr for rv, _, tr in writes}, "drain": drain})
        res = load.expect("result", drain + 180)["result"]
        res.update(ready=ready, writes=len(writes), write_errors=dict(errors),
                   write_rtt=lat(rtt), t_first_write=writes[0][1] if writes else None,
                   write_span_s=(writes[-1][2] - writes[0][1]) if writes else 0,
                   cpu_s={"server": srv.cpu_seconds() - c0[0], "load": cpu_s(load.pid) - c0[1],
                          "writer+bench": time.process_time() - c0[2]})
        if sw:    # unread until the server gives up on it (SEND_TIMEOUT, 10 s) or 20 s pass
            t, log_file = mono(), srv.dir / "server.log"
            while mono() - t < 20 and INCOMPLETE not in log_file.read_text(errors="replace"):
                time.sleep(0.25)
            waited = mono() - t
            res["slow"] = dict(sw.finish([rv for rv, _, _ in writes]), unread_after_writes_s=waited)
        return res
    finally:
        load.stop()
        if sw:
            sw.s.close()


def memory_phase(args, backend, mode):
    srv = Server(backend, "configmaps", args.python, args.pg_url, args.keep, log)
    try:
        srv.start()
        path = setup_ns(srv, "idle")
        common = ("--port", srv.port, "--path", path, "--mode", mode, "--ca",
                  srv.dir / "pki/ca.crt", "--cert", srv.dir / "pki/admin.crt", "--key",
                  srv.dir / "pki/admin.key")
        warm = Proc("watchers", *common, "--n", 50, python=args.python)  # imports, first use
        warm.expect("ready", 60)
        warm.stop()
        time.sleep(args.settle)
        before = rss_kib(srv.proc.pid)
        load = Proc("watchers", *common, "--n", args.idle, python=args.python)
        try:
            ready = load.expect("ready", 900)
            time.sleep(args.settle)
            after = rss_kib(srv.proc.pid)
        finally:
            load.stop()
        n = max(1, ready["ready"])
        return {"n": ready["ready"], "connect_failed": ready["failed"], "errors": ready["errors"],
                "connect_s": ready["connect_s"], "rss_before_kib": before, "rss_after_kib": after,
                "growth_mib": (after - before) / 1024, "kib_per_watcher": (after - before) / n}
    finally:
        srv.stop()


def fanout_phase(args, srv):
    r = watch_phase(args, srv, "fanout", 1000, None, args.fanout_seconds, max_events=300,
                    drain=120, conc=4)
    r["duration_s"] = (r["last_t"] or 0) - r["t_first_write"]
    r["deliveries_per_s"] = r["events"] / r["duration_s"] if r["duration_s"] > 0 else 0
    return r


def slow_phase(args, srv, slow=True):
    r = watch_phase(args, srv, f"slow{int(slow)}", 100, 100.0, args.slow_seconds,
                    kb=args.slow_kb, slow=slow)
    r["server_log_incomplete_responses"] = (srv.dir / "server.log").read_text(
        errors="replace").count(INCOMPLETE)
    return r


def bench_backend(args, backend):
    out = {}

    def guarded(key, msg, fn):
        if key.split("_")[0].removesuffix("ctl") in args.skip:
            return
        log(f"  {msg}")
        try:
            out[key] = fn()
        except Exception as e:   # noqa: BLE001 - report it and go on with the next phase
            log(f"  {key} failed: {type(e).__name__}: {e}")
            out[key] = {"failed": f"{type(e).__name__}: {e}"[:500]}
    if {"latency", "fanout", "slow"} - args.skip:
        srv = Server(backend, "configmaps", args.python, args.pg_url, args.keep, log)
        try:
            srv.start()
            for n, rate in ((100, 100.0), (1000, 10.0)):
                guarded(f"latency_{n}", f"latency: {n} watchers, {rate:g} writes/s, "
                        f"{args.duration:g}s", lambda n=n, rate=rate: watch_phase(
                            args, srv, f"lat{n}", n, rate, args.duration))
            guarded("fanout", f"fan-out: 1000 watchers, writer flat out {args.fanout_seconds:g}s"
                    " (<= 300 writes)", lambda: fanout_phase(args, srv))
            guarded("slowctl", f"slow-watcher control: 100 readers, 100 writes/s of ~{args.slow_kb}"
                    f" KB, {args.slow_seconds:g}s", lambda: slow_phase(args, srv, False))
            guarded("slow", f"slow watcher: 1 stalled + 100 readers, 100 writes/s of ~"
                    f"{args.slow_kb} KB, {args.slow_seconds:g}s", lambda: slow_phase(args, srv))
        finally:
            srv.stop()
    for mode in ("http", "ws"):
        guarded(f"memory_{mode}", f"memory: {args.idle} idle {mode} watchers (fresh server)",
                lambda mode=mode: memory_phase(args, backend, mode))
    return out


# ----------------------------------------------------------------------------- report
def report(args, raw, results):
    p = print
    p(f"\nload average at start {args.load0[0]:.2f}, at end {os.getloadavg()[0]:.2f} (2 cores)")
    p("\n=== Raw baselines (this run) ===")
    if "notify" in raw:
        r = raw["notify"]
        p(f"  (a) LISTEN/NOTIFY, 100/s, 1 listener process: COMMIT sent -> notification "
          f"p50 {r['from_commit_sent']['p50']:.2f} ms, p99 {r['from_commit_sent']['p99']:.2f} ms"
          f" (from COMMIT returned: p50 {r['from_commit_returned']['p50']:.2f}, p99 "
          f"{r['from_commit_returned']['p99']:.2f}); lost {r['lost']}")
    for key, label in (("fanout", "asyncio"), ("fanout_tls", "uvloop+TLS, reference")):
        if key in raw:
            r = raw[key]
            p(f"  (b) fan-out {label}: {r['watchers']} conns x {r['expected_per_watcher']} events "
              f"of {r['event_bytes']} B: {r['deliveries_per_s']:,.0f} deliveries/s; latency "
              f"p50 {r['lat_t0']['p50']:.0f} ms, p99 {r['lat_t0']['p99']:.0f} ms; missing "
              f"{r['missing']}")
    for key, label in (("idle", "asyncio"), ("idle_tls", "uvloop+TLS, reference")):
        if key in raw:
            r = raw[key]
            grow = (r['rss_after_kib'] - r['rss_before_kib']) / 1024
            p(f"  (c) idle memory {label}: {r['n']} conns, +{grow:.1f} MiB = "
              f"{r['kib_per_conn']:.1f} KiB per connection")
    rows = []
    notify_p99 = raw.get("notify", {}).get("from_commit_sent", {}).get("p99")
    fan = raw.get("fanout", {}).get("deliveries_per_s")
    fan_tls = raw.get("fanout_tls", {}).get("deliveries_per_s")
    idle = raw.get("idle", {}).get("kib_per_conn")
    for backend, res in results.items():
        p(f"\n=== API server on {backend} ===")
        if "failed" in res:
            p(f"  FAILED: {res['failed']}")
            continue
        for k, v in res.items():
            if "failed" in v:
                p(f"  {k} FAILED: {v['failed']}")
        res = {k: v for k, v in res.items() if "failed" not in v}
        p(f"  {'phase':<13}{'watchers':>9}{'writes':>7}{'w/s':>6}{'events':>9}{'missing':>8}"
          f"{'dup':>5}{'ooo':>5}{'ended':>6}   latency ms p50/p99/max: upper (t0->recv) | "
          f"lower (resp->recv)  write rtt p50/p99  CPU s srv/load")
        for k in ("latency_100", "latency_1000", "fanout", "slowctl", "slow"):
            r = res.get(k)
            if not r:
                continue
            u, lo, w = r["lat_t0"], r["lat_resp"], r["write_rtt"]
            rate = r['writes'] / max(r['write_span_s'], 1e-9)
            p(f"  {k:<13}{r['watchers']:>9}{r['writes']:>7}{rate:>6.0f}"
              f"{r['events']:>9}{r['missing']:>8}{r['duplicates']:>5}{r['out_of_order']:>5}"
              f"{r['ended']:>6}   {u['p50']:.1f}/{u['p99']:.1f}/{u['max']:.0f} | "
              f"{lo['p50']:.1f}/{lo['p99']:.1f}/{lo['max']:.0f}  {w['p50']:.1f}/{w['p99']:.1f}"
              f"  {r['cpu_s']['server']:.1f}/{r['cpu_s']['load']:.1f}")
            for e, c in list(r["errors"].items()) + list(r["write_errors"].items()):
                p(f"      error x{c}: {e}")
        if "fanout" in res:
            r = res["fanout"]
            p(f"  fan-out: {r['events']:,} deliveries in {r['duration_s']:.2f}s (first write "
              f"sent -> last delivery) = {r['deliveries_per_s']:,.0f}/s")
        if "slow" in res:
            s = res["slow"]["slow"]
            p(f"  slow watcher: got {s['events']} of {s['written']} events before the stream "
              f"ended; EOF after resuming: {s['eof']}; events a gap-free prefix: "
              f"{s['prefix_ok']}; kept unread {s['unread_after_writes_s']:.1f}s after the last "
              f"write; server log 'returned without completing response': "
              f"{res['slow']['server_log_incomplete_responses']}")
        for mode in ("http", "ws"):
            m = res.get(f"memory_{mode}")
            if m:
                p(f"  idle {mode:<4}: {m['n']} watchers (failed {m['connect_failed']}, "
                  f"{m['connect_s']:.0f}s to open): RSS {m['rss_before_kib'] / 1024:.0f} -> "
                  f"{m['rss_after_kib'] / 1024:.0f}"
                  f" MiB, +{m['growth_mib']:.1f} MiB = {m['kib_per_watcher']:.1f} KiB/watcher"
                  + (f"; errors {m['errors']}" if m["errors"] else ""))

        def bounded(r, limit):
            up, lo = r["lat_t0"]["p99"], r["lat_resp"]["p99"]
            return "MET" if up <= limit else ("NOT MET" if lo > limit else "MET (lower bound only)")
        for k, limit, label in (("latency_100", 10, "watch p99, 100 watchers @ 100 w/s"),
                                ("latency_1000", 200, "watch p99, 1000 watchers @ 10 w/s")):
            if k in res:
                r = res[k]
                rows.append((backend, label,
                             f"{r['lat_resp']['p99']:.1f}..{r['lat_t0']['p99']:.1f} ms",
                             f"<= {limit} ms", f"NOTIFY p99 {notify_p99:.2f} ms" if notify_p99
                             else "", bounded(r, limit)))
        if "fanout" in res:
            d = res["fanout"]["deliveries_per_s"]
            rows.append((backend, "fan-out deliveries/s, 1000 watchers", f"{d:,.0f}/s",
                         f">= {0.25 * fan:,.0f}/s" if fan else ">= 25% raw",
                         f"raw {fan:,.0f}/s = {d / fan:.0%}" + (
                             f"; TLS ref {d / fan_tls:.0%}" if fan_tls else "") if fan else "",
                         "MET" if fan and d >= 0.25 * fan else "NOT MET"))
        for mode in ("http", "ws"):
            m = res.get(f"memory_{mode}")
            if m:
                rows.append((backend, f"{args.idle} idle {mode} watchers, RSS growth",
                             f"{m['growth_mib']:.1f} MiB", f"<= {150 * args.idle / 5000:.0f} MiB",
                             f"{m['kib_per_watcher']:.1f} KiB/w = "
                             f"{m['kib_per_watcher'] / idle:.1f}x raw"
                             if idle else "", "MET" if m["n"] == args.idle and
                             m["growth_mib"] <= 150 * args.idle / 5000 else "NOT MET"))
        phases = [res[k] for k in ("latency_100", "latency_1000", "fanout", "slowctl", "slow")
                  if k in res]
        if phases:
            bad = sum(r["missing"] + r["duplicates"] + r["out_of_order"] for r in phases)
            silent = sum(r["missing"] for r in phases if r["ended"] == 0)
            rows.append((backend, "lost / duplicate / out-of-order events", f"{bad}", "0", "",
                         "MET" if bad == 0 else ("NOT MET" if silent else
                                                 "NOT MET (watch ended, not silent)")))
        if "slow" in res:
            r, s = res["slow"], res["slow"]["slow"]
            ok = s["eof"] and s["prefix_ok"] and s["events"] < s["written"] and \
                r["lat_t0"]["p99"] <= 10 and r["missing"] == 0
            ctl = res.get("slowctl", {}).get("lat_t0", {}).get("p99")
            rows.append((backend, "slow watcher closed, others p99 <= 10 ms",
                         f"closed={s['eof']}, p99 {r['lat_t0']['p99']:.1f} ms", "closed, <= 10 ms",
                         f"p99 without it {ctl:.1f} ms" if ctl else "", "MET" if ok else "NOT MET"))
    if rows:
        p("\n=== Targets; latency shown as lower..upper bound of "
          "commit -> delivery p99 ===")
        p(f"  {'backend':<9}{'target':<42}{'measured':>27}  {'threshold':<17}{'raw / ratio':<36}"
          "verdict")
        for b, label, m, t, raw_s, v in rows:
            p(f"  {b:<9}{label:<42}{m:>27}  {t:<17}{raw_s:<36}{v}")
    return [dict(zip(("backend", "target", "measured", "threshold", "raw", "verdict"), r))
            for r in rows]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="postgres", help="postgres and/or sqlite, comma-separated")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per paced latency phase")
    ap.add_argument("--fanout-seconds", type=float, default=3.0)
    ap.add_argument("--slow-seconds", type=float, default=15.0)
    ap.add_argument("--slow-kb", type=int, default=8, help="configmap data size, slow phase")
    ap.add_argument("--idle", type=int, default=5000, help="idle watchers for the memory phases")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before reading RSS")
    ap.add_argument("--skip", default="", help="comma list of raw,latency,fanout,slow,memory")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--keep", action="store_true", help="keep server data dirs (server.log)")
    ap.add_argument("--json", help="result file (default bench/results/watch_bench-*.json)")
    args = ap.parse_args(argv)
    args.skip, args.load0 = set(filter(None, args.skip.split(","))), os.getloadavg()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so the finally blocks run
    log(f"RLIMIT_NOFILE soft {raise_nofile(2 * args.idle + 1000)} (load processes raise their own)")
    raw = {}
    if "raw" not in args.skip:
        steps = [("notify", lambda: raw_notify(args)),
                 ("fanout", lambda: raw_asyncio(args, 1000, 200)),
                 ("idle", lambda: raw_asyncio(args, args.idle, 0))]
        tls = tls_files()
        steps += [("fanout_tls", lambda: raw_asyncio(args, 1000, 200, tls)),
                  ("idle_tls", lambda: raw_asyncio(args, args.idle, 0, tls))]
        try:
            for key, fn in steps:
                log(f"raw {key} ...")
                try:
                    raw[key] = fn()
                except Exception as e:   # noqa: BLE001 - report without this baseline
                    log(f"  raw {key} failed: {type(e).__name__}: {e}")
        finally:
            shutil.rmtree(Path(tls[0]).parent, ignore_errors=True)
    results = {}
    for backend in args.backend.split(","):
        log(f"API server on {backend} ...")
        try:
            results[backend] = bench_backend(args, backend)
        except Exception as e:   # noqa: BLE001
            log(f"  {backend} failed: {type(e).__name__}: {e}")
            results[backend] = {"failed": f"{type(e).__name__}: {e}"}
    rows = report(args, raw, results)
    path = Path(args.json or REPO / "bench" / "results" /
                time.strftime("watch_bench-%Y%m%d-%H%M%S.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": vars(args), "raw": raw, "results": results,
                                "targets": rows}, indent=1, default=str))
    print(f"\nJSON: {path}")
    return 2 if any("failed" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
