"""Raw database baselines (INSERT + COMMIT, point SELECT) and the shared helpers of
bench/api_throughput.py: the benchmark documents, the timed worker loop, statistics.

    python bench/raw_baselines.py --duration 5 --reps 3      # raw figures only

PostgreSQL: a scratch database (created, dropped afterwards) with ``objs(id bigserial PK,
key text UNIQUE, doc text)``; INSERT of a ~2.2 KB Pod JSON + COMMIT per row (autocommit) on
1 and 8 connections (one thread each), point SELECT by primary key over 20,000 rows on 1 and
8 connections, and SELECT of N docs joined into one JSON array (the LIST ceiling).
SQLite (reference): WAL, synchronous=NORMAL, ``BEGIN IMMEDIATE`` + INSERT + COMMIT per row
on one connection, point SELECT on 1 and 8 connections.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time

try:
    import orjson
    dumps, loads = orjson.dumps, orjson.loads
except ImportError:   # the client's JSON cost is not what is measured, but keep it small
    dumps, loads = (lambda o: json.dumps(o, separators=(",", ":")).encode()), json.loads


# ----------------------------------------------------------------------------- documents
def pod(name: str, ns: str = "bench") -> dict:
    """A realistic Pod, ~2.2 KB of compact JSON (a typical Deployment-made Pod)."""
    env = [{"name": f"SETTING_{i}", "value": f"value-{i:04d}-abcdefghij"} for i in range(16)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": ns,
        "labels": {"app": "bench", "tier": "backend", "pod-template-hash": "5d8f7c9b4d",
                   "app.kubernetes.io/name": "bench-api", "app.kubernetes.io/version": "1.4.2"},
        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                        "kubectl.kubernetes.io/default-container": "app"}},
        "spec": {
            "containers": [{
                "name": "app", "image": "registry.example.com/bench/api:1.4.2",
                "imagePullPolicy": "IfNotPresent", "args": ["--port=8080", "--metrics=9090"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": env,
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/app"},
                                 {"name": "cache", "mountPath": "/var/cache/app"}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                   "periodSeconds": 10, "timeoutSeconds": 1},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"}],
            "volumes": [{"name": "data", "emptyDir": {}},
                        {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}]}}


def configmap(name: str, ns: str = "bench") -> dict:
    data = {f"key-{i:02d}.conf": f"setting_{i} = " + "x" * 80 for i in range(20)}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}}, "data": data}



# ----------------------------------------------------------------------------- statistics
def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(p * (len(sorted_values) - 1))))]


def summarize(samples):
    """samples: list of (ops, seconds, latencies, errors) per rep -> dict of medians/percentiles."""
    rates = [ops / sec for ops, sec, _, _ in samples if sec > 0]
    lat = sorted(x for _, _, ls, _ in samples for x in ls)
    return {"ops_per_s": statistics.median(rates) if rates else 0.0, "rates": rates,
            "p50_ms": pct(lat, .5) * 1e3, "p99_ms": pct(lat, .99) * 1e3, "n": len(lat),
            "errors": sum(e for *_, e in samples)}


def run_workers(n, setup, op, duration, on_exception=None):
    """n threads; each builds its state (untimed), waits at a barrier, then calls op(state)
    until the deadline.  op returns True (ok), False (error) or None (this worker is done);
    an exception in setup or op ends that worker, counts one error and goes to
    on_exception(exc).  -> (ops, seconds, latencies, errors)."""
    start, results = [0.0], [None] * n
    barrier = threading.Barrier(n + 1, action=lambda: start.__setitem__(0, time.perf_counter()))

    def work(i):
        ok, bad, lats, state = 0, 0, [], None
        try:
            state = setup(i)
        except Exception as e:   # noqa: BLE001 - reported through on_exception
            bad, state = 1, e
        barrier.wait()
        deadline = start[0] + duration
        try:
            while not isinstance(state, Exception):
                t0 = time.perf_counter()
                if t0 >= deadline:
                    break
                r = op(state)
                if r:
                    ok += 1
                    lats.append(time.perf_counter() - t0)
                elif r is None:
                    break
                else:
                    bad += 1
        except Exception as e:   # noqa: BLE001
            bad, state = bad + 1, e
        results[i] = (ok, bad, lats, time.perf_counter())
        if isinstance(state, Exception):
            (on_exception or (lambda e: print(f"worker: {e!r}", file=sys.stderr)))(state)
        elif hasattr(state, "close"):
            state.close()
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait(timeout=120)
    for t in threads:
        t.join(duration + 120)
    done = [r for r in results if r]
    end = max((r[3] for r in done), default=start[0] + duration)
    return (sum(r[0] for r in done), end - start[0], [x for r in done for x in r[2]],
            sum(r[1] for r in done) + (n - len(done)))


# ----------------------------------------------------------------------------- raw baselines
def raw_postgres(pg_url, reps, duration, conc, list_items, log):
    import psycopg
    admin_dsn, db = f"{pg_url}/postgres", f"bench_raw_{os.getpid()}"
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db}"')
        c.execute(f'CREATE DATABASE "{db}"')
    dsn, out = f"{pg_url}/{db}", {}
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE TABLE objs (id bigserial PRIMARY KEY, key text UNIQUE, doc text)")
            c.execute("CREATE TABLE readset (id bigserial PRIMARY KEY, key text UNIQUE, doc text)")
            with c.cursor().copy("COPY readset (key, doc) FROM STDIN") as cp:
                for i in range(20000):
                    cp.write_row((f"bench/r-{i}", dumps(pod(f"r-{i}")).decode()))
            c.execute("VACUUM ANALYZE readset")
        counter, doc = iter(range(10 ** 9)), dumps(pod("NAME")).decode()

        def connect(_):
            return psycopg.connect(dsn, autocommit=True)

        def insert(cn):
            i = next(counter)
            cn.execute("INSERT INTO objs (key, doc) VALUES (%s, %s)",
                       (f"bench/p-{i}", doc.replace("NAME", f"p-{i}", 1)))
            return True

        def select(cn):
            return cn.execute("SELECT doc FROM readset WHERE id = %s",
                              (random.randint(1, 20000),)).fetchone() is not None

        samples = {}
        for rep in range(reps):
            for c in conc:
                with psycopg.connect(dsn, autocommit=True) as cn:
                    cn.execute("TRUNCATE objs")
                    cn.execute("CHECKPOINT")
                for name, fn in (("insert", insert), ("select", select)):
                    samples.setdefault(f"pg_{name}_c{c}", []).append(
                        run_workers(c, connect, fn, duration))
            with psycopg.connect(dsn, autocommit=True) as cn:
                for _ in range(3):
                    t0 = time.perf_counter()
                    rows = cn.execute("SELECT doc FROM readset ORDER BY key LIMIT %s",
                                      (list_items,)).fetchall()
                    b"[" + b",".join(r[0].encode() for r in rows) + b"]"
                    samples.setdefault("pg_list", []).append(
                        (1, time.perf_counter() - t0, [time.perf_counter() - t0], 0))
            log(f"  raw postgres rep {rep + 1}/{reps} done")
        out = {k: summarize(v) for k, v in samples.items()}
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return out


def raw_sqlite(reps, duration, conc, log):
    d = tempfile.mkdtemp(prefix="bench-raw-sqlite-")
    path, samples = os.path.join(d, "raw.db"), {}
    try:
        def connect(_):
            cn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            cn.execute("PRAGMA journal_mode=WAL")
            cn.execute("PRAGMA synchronous=NORMAL")
            return cn
        cn = connect(0)
        cn.execute("CREATE TABLE objs (id INTEGER PRIMARY KEY, key TEXT UNIQUE, doc TEXT)")
        cn.execute("CREATE TABLE readset (id INTEGER PRIMARY KEY, key TEXT UNIQUE, doc TEXT)")
        cn.execute("BEGIN")
        cn.executemany("INSERT INTO readset (key, doc) VALUES (?, ?)",
                       ((f"bench/r-{i}", dumps(pod(f"r-{i}")).decode()) for i in range(20000)))
        cn.execute("COMMIT")
        cn.close()
        counter, doc = iter(range(10 ** 9)), dumps(pod("NAME")).decode()

        def insert(c):
            i = next(counter)
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT INTO objs (key, doc) VALUES (?, ?)",
                      (f"bench/p-{i}", doc.replace("NAME", f"p-{i}", 1)))
            c.execute("COMMIT")
            return True

        def select(c):
            return c.execute("SELECT doc FROM readset WHERE id = ?",
                             (random.randint(1, 20000),)).fetchone() is not None
        for rep in range(reps):
            samples.setdefault("sqlite_insert_c1", []).append(
                run_workers(1, connect, insert, duration))
            for c in conc:
                samples.setdefault(f"sqlite_select_c{c}", []).append(
                    run_workers(c, connect, select, duration))
            log(f"  raw sqlite rep {rep + 1}/{reps} done")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return {k: summarize(v) for k, v in samples.items()}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="raw PostgreSQL/SQLite baselines")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)   # noqa: E731
    out = raw_postgres(args.pg_url, args.reps, args.duration, [1, 8], 3000, log)
    out.update(raw_sqlite(args.reps, args.duration, [1, 8], log))
    for k, v in out.items():
        print(f"{k:<20}{v['ops_per_s']:>10,.0f}/s  p50 {v['p50_ms']:.3f} ms  "
              f"p99 {v['p99_ms']:.3f} ms")


if __name__ == "__main__":
    main()
