#!/usr/bin/env python
"""API throughput against the raw database limits, measured in the same run.

    python bench/api_throughput.py --backends sqlite,postgres --duration 5 --reps 3

Runs, in this order:
1. Raw baselines: on a scratch PostgreSQL database
   (created and dropped), INSERT of a ~2.2 KB Pod JSON (text column) + COMMIT per row at 1 and
   8 connections (threads), point SELECT by primary key at 1 and 8, and SELECT of 3,000 docs;
   the same on SQLite (WAL, synchronous=NORMAL, BEGIN IMMEDIATE per row) for reference.
2. For each backend: ``manage.py up`` as a subprocess on a fresh data dir (and for postgres a
   fresh database via DATABASE_URL) on a free port; after /readyz it drives the server over
   HTTPS with the admin client certificate (http.client, one keep-alive connection per worker
   thread) at 1 and 8 clients: create (POST), get (GET by name), update (PUT of the last
   returned object, with its resourceVersion), then LIST of a namespace holding 3,000 objects.
3. Prints throughput and p50/p99 per op and concurrency, LIST seconds, and MET / NOT MET for
   the project's targets (ratios to the raw PostgreSQL figures of this run; SQLite must meet the same
   absolute figures).  JSON goes to bench/results/ (gitignored).

Options: --kind pods|configmaps (default pods), --concurrency 1,8, --list-items 3000,
--list-reps 5, --pg-url postgres://postgres@127.0.0.1:5432, --no-raw, --keep, --json PATH.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_baselines import (configmap, dumps, loads, pod, raw_postgres, raw_sqlite,  # noqa: E402
                           run_workers, summarize)

REPO = Path(__file__).resolve().parent.parent
# Raw PostgreSQL medians measured earlier on a 2-core machine like this one (not an upstream
# figure), used only when PostgreSQL is unreachable in this run.
ANCHOR_RAW = {"pg_insert_c1": 2427, "pg_insert_c8": 5463, "pg_select_c1": 6236,
              "pg_select_c8": 12827}
# the project's targets: (label, op, concurrency, raw key, minimum ratio)
RATIO_TARGETS = [
    ("create, 1 client  >= 20% raw insert+commit c1", "create", 1, "pg_insert_c1", .20),
    ("create, 8 clients >= 15% raw insert+commit c8", "create", 8, "pg_insert_c8", .15),
    ("get,    1 client  >= 15% raw point select c1", "get", 1, "pg_select_c1", .15),
    ("get,    8 clients >= 12% raw point select c8", "get", 8, "pg_select_c8", .12)]
LIST_TARGET_S = 0.33          # for 3,000 items (25 % of the raw 37,220 rows/s); scaled for others

KINDS = {"pods": pod, "configmaps": configmap}


# ----------------------------------------------------------------------------- API client
class Client:
    """One keep-alive HTTPS connection; request() -> (status, body bytes)."""

    def __init__(self, port, ctx, timeout):
        self.port, self.ctx, self.timeout, self.conn = port, ctx, timeout, None
        self.errors = None    # set by the phase: shared error recorder

    def connect(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                timeout=self.timeout)
        self.conn.connect()
        return self

    def request(self, method, path, body=None):
        headers = {"Accept": "application/json", "User-Agent": "bench/api_throughput"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.connect()
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError) as e:
                self.close()
                if attempt == 2 or not isinstance(e, (http.client.RemoteDisconnected,
                                                      ConnectionResetError, BrokenPipeError)):
                    return 0, f"{type(e).__name__}: {e}".encode()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Errors:
    def __init__(self):
        self.lock, self.counts = threading.Lock(), {}

    def add(self, op, status, body):
        key = f"{op} -> {status} {body[:200].decode('utf-8', 'replace')}"
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1


class Server:
    def __init__(self, backend, kind, python, pg_url, keep, log, server_processes=1):
        self.backend, self.kind, self.log, self.keep = backend, kind, log, keep
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-api-{backend}-"))
        self.db = f"bench_api_{os.getpid()}" if backend == "postgres" else None
        self.pg_url, self.python, self.proc = pg_url, python, None
        self.server_processes = server_processes
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def start(self, timeout=120):
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        if self.db:
            import psycopg
            with psycopg.connect(f"{self.pg_url}/postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
                c.execute(f'CREATE DATABASE "{self.db}"')
            env["DATABASE_URL"] = f"{self.pg_url}/{self.db}"
        self.logfile = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(
            [self.python, "manage.py", "up", "--data-dir", str(self.dir), "--secure-port",
             str(self.port), "--no-workers", "--server-processes", str(self.server_processes)], cwd=REPO, env=env, stdout=self.logfile,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline, pki = time.monotonic() + timeout, self.dir / "pki"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if (pki / "admin.key").exists() and (pki / "ca.crt").exists():
                try:
                    self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
                    self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
                    status, _ = Client(self.port, self.ctx, 5).request("GET", "/readyz")
                    if status == 200:
                        return self
                except (OSError, ssl.SSLError):
                    pass
            time.sleep(0.25)
        raise RuntimeError(f"/readyz not 200 within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n=3000):
        try:
            return (self.dir / "server.log").read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def cpu_seconds(self):
        """User+system CPU of the server and its server processes (--server-processes N)."""
        pids = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
        except OSError:
            pass
        total = 0.0
        try:
            for pid in pids:
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
            return total
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        if getattr(self, "logfile", None):
            self.logfile.close()
        if self.db:
            try:
                import psycopg
                with psycopg.connect(f"{self.pg_url}/postgres", autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except Exception as e:   # noqa: BLE001 - cleanup must not hide the results
                self.log(f"  could not drop {self.db}: {e}")
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- API phases
def cpu_ticks():
    """(busy, total) jiffies of the whole machine, all cores (/proc/stat)."""
    try:
        f = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
        return sum(f) - f[3] - f[4], sum(f)
    except (OSError, ValueError):
        return 0, 0


def bench_api(server, args, log):
    make, kind = KINDS[args.kind], args.kind
    errors, seq, objects, lock = Errors(), iter(range(10 ** 9)), {}, threading.Lock()
    base = lambda ns: f"/api/v1/namespaces/{ns}/{kind}"   # noqa: E731
    cli = Client(server.port, server.ctx, args.timeout)
    for ns in ("bench", "bench-list"):
        st, body = cli.request("POST", "/api/v1/namespaces", dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        if st not in (200, 201, 409):
            raise RuntimeError(f"creating namespace {ns}: {st} {body[:300]!r}")
    cli.close()

    def setup(_):
        c = Client(server.port, server.ctx, args.timeout)
        return c.connect()

    def checked(op, st, body, ok=(200, 201)):
        if st in ok:
            return True
        errors.add(op, st, body)
        return False

    def create(c, ns="bench"):
        name = f"b-{next(seq)}"
        st, body = c.request("POST", base(ns), dumps(make(name, ns)))
        if st in (200, 201) and ns == "bench":
            with lock:
                objects[name] = body
        return checked("create", st, body)

    def get(c):
        name = random.choice(names)
        return checked("get", *c.request("GET", f"{base('bench')}/{name}"))

    def update(c):
        name = next(c.cycle)
        obj = loads(objects[name])
        obj["metadata"].setdefault("labels", {})["bench-gen"] = str(next(seq))
        st, body = c.request("PUT", f"{base('bench')}/{name}", dumps(obj))
        if st == 200:
            objects[name] = body
        return checked("update", st, body)

    # 3,000 objects for the LIST, created up front (8 workers, untimed).
    t0, filled = time.perf_counter(), [0]

    def fill(c):
        with lock:
            if filled[0] >= args.list_items or sum(errors.counts.values()) > 100:
                return None
            filled[0] += 1
        if not create(c, "bench-list"):
            with lock:
                filled[0] -= 1
            return False
        return True
    run_workers(8, setup, fill, 600,
                lambda e: errors.add("fill", "exception", repr(e).encode()))
    if filled[0] < args.list_items:
        raise RuntimeError(f"filling bench-list: only {filled[0]} created; errors: "
                           f"{json.dumps(errors.counts, indent=1)[:1500]}")
    log(f"  filled bench-list with {filled[0]} {kind} in {time.perf_counter() - t0:.1f}s")

    samples, names, list_times, list_bytes = {}, [], [], 0
    for rep in range(args.reps):
        for op, fn in (("create", create), ("get", get), ("update", update)):
            for c in args.conc:
                if op != "create" and not objects:
                    continue
                names = sorted(objects)
                random.shuffle(names)
                parts = [names[i::c] for i in range(c)]

                def setup_op(i, parts=parts):
                    cl = setup(i)
                    cl.cycle = itertools.cycle(parts[i])
                    return cl
                cpu_c, cpu_s, m0 = time.process_time(), server.cpu_seconds(), cpu_ticks()
                r = run_workers(c, setup_op, fn, args.duration,
                                lambda e, op=op: errors.add(op, "exception", repr(e).encode()))
                cpu_c, cpu_s, m1 = (time.process_time() - cpu_c,
                                    server.cpu_seconds() - cpu_s, cpu_ticks())
                busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
                samples.setdefault((op, c), []).append(r + (cpu_c, cpu_s, busy))
        c = setup(0)
        for _ in range(args.list_reps):
            t0 = time.perf_counter()
            st, body = c.request("GET", base("bench-list"))
            dt = time.perf_counter() - t0
            if st != 200:
                errors.add("list", st, body)
                continue
            n = len(loads(body)["items"])
            if n != args.list_items:
                errors.add("list", st, f"{n} items, expected {args.list_items}".encode())
            list_times.append(dt)
            list_bytes = len(body)
        c.close()
        log(f"  {server.backend} rep {rep + 1}/{args.reps} done")
    out = {}
    for (op, c), ss in samples.items():
        s = summarize([x[:4] for x in ss])
        ops = sum(x[0] for x in ss) or 1
        s["client_cpu_ms"] = sum(x[4] for x in ss) / ops * 1e3
        s["server_cpu_ms"] = sum(x[5] for x in ss) / ops * 1e3
        s["machine_busy_pct"] = statistics.median(x[6] for x in ss) * 100
        out[f"{op}_c{c}"] = s
    out["list"] = {"median_s": statistics.median(list_times) if list_times else float("nan"),
                   "min_s": min(list_times, default=float("nan")),
                   "max_s": max(list_times, default=float("nan")), "n": len(list_times),
                   "bytes": list_bytes}
    out["errors"] = errors.counts
    return out


# ----------------------------------------------------------------------------- report
def report(args, raw, api, raw_source):
    p = print
    reps = f"; median of {args.reps} reps x {args.duration:g}s" if "this run" in raw_source else ""
    p(f"\nload average at start {args.load0[0]:.2f}, at end {os.getloadavg()[0]:.2f} "
      f"(2 cores; above ~1.5 other tenants distort both the raw and the API figures)")
    p(f"\n=== Raw baselines ({raw_source}{reps}) ===")
    p(f"  {'test':<24}{'ops/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for k, v in sorted(raw.items(), key=lambda kv: (kv[0] == "pg_list", kv[0][:3], kv[0])):
        if k == "pg_list":
            p(f"  {'pg select ' + str(args.list_items) + ' docs':<24}{'':>10}"
              f"{v['p50_ms']:>9.1f}   (ms per query, joined into one array)")
        elif "ops_per_s" in v:
            p(f"  {k:<24}{v['ops_per_s']:>10,.0f}{v['p50_ms']:>9.3f}{v['p99_ms']:>9.3f}")
    verdicts = []
    for backend, res in api.items():
        p(f"\n=== API server: {backend} ({args.kind}; median of {args.reps} reps x "
          f"{args.duration:g}s) ===")
        if "failed" in res:
            p(f"  FAILED: {res['failed']}")
            continue
        p(f"  {'op':<8}{'clients':>8}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'cli CPU':>9}{'srv CPU':>9}{'busy':>6}  (CPU: ms per op; busy: all cores)")
        for op in ("create", "get", "update"):
            for c in args.conc:
                v = res.get(f"{op}_c{c}")
                if v:
                    p(f"  {op:<8}{c:>8}{v['ops_per_s']:>9,.0f}{v['p50_ms']:>9.2f}"
                      f"{v['p99_ms']:>9.2f}{v['errors']:>8}{v['client_cpu_ms']:>9.2f}"
                      f"{v['server_cpu_ms']:>9.2f}{v['machine_busy_pct']:>5.0f}%")
        li, rl = res["list"], raw.get("pg_list")
        p(f"  list of {args.list_items} {args.kind}: median {li['median_s']:.3f}s "
          f"(min {li['min_s']:.3f}, max {li['max_s']:.3f}, n={li['n']}, "
          f"{li['bytes'] / 1e6:.1f} MB)" + (f"; raw pg select of as many docs "
                                             f"{rl['p50_ms'] / 1e3:.3f}s" if rl else ""))
        for err, n in sorted(res["errors"].items(), key=lambda x: -x[1])[:10]:
            p(f"  ERROR x{n}: {err}")
        for label, op, c, key, ratio in RATIO_TARGETS:
            v, base = res.get(f"{op}_c{c}"), raw.get(key, {}).get("ops_per_s")
            if v and base:
                verdicts.append((backend, label, f"{v['ops_per_s']:,.0f}/s",
                                 f">= {ratio * base:,.0f}/s", v["ops_per_s"] / base,
                                 v["ops_per_s"] >= ratio * base))
        limit = LIST_TARGET_S * args.list_items / 3000
        verdicts.append((backend, f"list of {args.list_items} items <= {limit:.3g}s",
                         f"{li['median_s']:.3f}s", f"<= {limit:.3g}s",
                         rl["p50_ms"] / 1e3 / li["median_s"] if rl and li["n"] else None,
                         li["n"] > 0 and li["median_s"] <= limit))
    if verdicts:
        p("\n=== Targets (the project's; ratio = API / raw PostgreSQL of this run "
          "(LIST: raw time / API time); SQLite held to the same absolute figures) ===")
        p(f"  {'backend':<9}{'target':<48}{'measured':>11}{'threshold':>13}{'ratio':>8}  verdict")
        for b, label, m, t, r, ok in verdicts:
            rs = f"{r * 100:.1f}%" if r is not None else ""
            p(f"  {b:<9}{label:<48}{m:>11}{t:>13}{rs:>8}  {'MET' if ok else 'NOT MET'}")
    return [dict(zip(("backend", "target", "measured", "threshold", "ratio", "met"), v))
            for v in verdicts]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--kind", choices=sorted(KINDS), default="pods")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per timed phase")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", default="1,8", help="client counts, comma-separated")
    ap.add_argument("--list-items", type=int, default=3000)
    ap.add_argument("--list-reps", type=int, default=5, help="LIST requests per rep")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                    help="server URL without database name (trust auth)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for manage.py up")
    ap.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    ap.add_argument("--no-raw", action="store_true", help="use the recorded raw figures of a 2-core machine instead of measuring")
    ap.add_argument("--keep", action="store_true", help="keep server data dirs")
    ap.add_argument("--server-processes", type=int, default=1,
                    help="server processes (manage.py up --server-processes N)")
    ap.add_argument("--json", help="result file (default bench/results/api_throughput-*.json)")
    args = ap.parse_args(argv)
    args.conc = [int(x) for x in args.concurrency.split(",")]
    args.load0 = os.getloadavg()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so the finally blocks run

    raw, raw_source = {}, "measured in this run"
    if not args.no_raw:
        log("raw baselines ...")
        try:
            raw.update(raw_postgres(args.pg_url, args.reps, args.duration, args.conc,
                                    args.list_items, log))
        except Exception as e:   # noqa: BLE001
            log(f"  raw postgres failed ({e}); using the recorded 2-core figures")
        raw.update(raw_sqlite(args.reps, args.duration, args.conc, log))
    if "pg_insert_c1" not in raw:
        raw_source = "PostgreSQL figures recorded on a 2-core machine, not this run"
        raw.update({k: {"ops_per_s": v, "p50_ms": float("nan"), "p99_ms": float("nan")}
                    for k, v in ANCHOR_RAW.items()})

    api = {}
    for backend in args.backends.split(","):
        log(f"API server on {backend} ...")
        server = Server(backend, args.kind, args.python, args.pg_url, args.keep, log,
                        args.server_processes)
        try:
            server.start()
            api[backend] = bench_api(server, args, log)
        except Exception as e:   # noqa: BLE001 - report and go on with the next backend
            api[backend] = {"failed": f"{type(e).__name__}: {e}"}
        finally:
            server.stop()
    verdicts = report(args, raw, api, raw_source)
    path = Path(args.json or REPO / "bench" / "results" /
                time.strftime("api_throughput-%Y%m%d-%H%M%S.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": {k: v for k, v in vars(args).items()}, "raw": raw,
                                "raw_source": raw_source, "api": api, "targets": verdicts},
                               indent=1, default=str))
    print(f"\nJSON: {path}")
    return 2 if any("failed" in r for r in api.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
