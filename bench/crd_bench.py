#!/usr/bin/env python
"""Custom resources next to ConfigMaps, in the same run: create and GET throughput over
HTTPS, and what CEL validation rules cost per object.

    python bench/crd_bench.py --objects 300 --reps 3 --concurrency 1,4

One ``manage.py up --no-workers`` on a fresh SQLite data dir.  Two CustomResourceDefinitions of the
same shape are applied and awaited (Established, then served): ``widgets`` (a structural
schema: types, a pattern, an enum, min/max, required) and ``celwidgets`` (the same plus
three ``x-kubernetes-validations`` rules, one a transition rule).  Per rep, for ConfigMaps
(the raw baseline: a built-in kind, no schema) and both custom resources, each of
``--concurrency`` clients POSTs ``--objects`` objects of ~1 KB over one keep-alive
connection, then GETs each by name; the figures are objects per second (median over reps).

In-process, the schema layer (``crds.schema``) validates the same object against both
schemas, ``--calls`` times each: the CEL cost per object is the difference of the medians
(it is also visible over HTTP as 1/rate(celwidgets) − 1/rate(widgets)).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authn_bench import Server  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
GROUP = "bench.example.com"
NS = "default"

SPEC_SCHEMA = {
    "type": "object", "required": ["image", "replicas"],
    "properties": {
        "image": {"type": "string", "pattern": "^[a-z0-9./:-]+$", "maxLength": 200},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 100},
        "minReplicas": {"type": "integer", "minimum": 0},
        "tier": {"type": "string", "enum": ["web", "db", "cache"]},
        "env": {"type": "array", "maxItems": 50, "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}},
        "ports": {"type": "array", "x-kubernetes-list-type": "set",
                  "items": {"type": "integer"}}}}
RULES = [
    {"rule": "self.minReplicas <= self.replicas",
     "message": "minReplicas must not exceed replicas"},
    {"rule": "self.env.all(e, e.name.size() < 64)", "message": "env names are short"},
    {"rule": "self.tier == oldSelf.tier", "message": "tier is immutable"},
]


def schema(with_cel: bool) -> dict:
    spec = json.loads(json.dumps(SPEC_SCHEMA))
    if with_cel:
        spec["x-kubernetes-validations"] = RULES
    return {"type": "object", "properties": {"spec": spec}}


def definition(plural: str, kind: str, with_cel: bool) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema(with_cel)}}]}}


def spec() -> dict:
    return {"image": "registry.example/web:1.2.3", "replicas": 3, "minReplicas": 1,
            "tier": "web", "ports": [8080, 8443],
            "env": [{"name": f"VAR_{i}", "value": "x" * 40} for i in range(12)]}


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "data": {f"VAR_{i}": "x" * 60 for i in range(12)}}


KINDS = {
    "configmaps": (f"/api/v1/namespaces/{NS}/configmaps", configmap),
    "widgets": (f"/apis/{GROUP}/v1/namespaces/{NS}/widgets",
                lambda n: {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                           "metadata": {"name": n, "labels": {"app": "bench"}}, "spec": spec()}),
    "celwidgets": (f"/apis/{GROUP}/v1/namespaces/{NS}/celwidgets",
                   lambda n: {"apiVersion": f"{GROUP}/v1", "kind": "CelWidget",
                              "metadata": {"name": n, "labels": {"app": "bench"}},
                              "spec": spec()}),
}


def wait_served(server: Server, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.request("GET", path)[0] == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{path} never served")


def run(server: Server, kind: str, prefix: str, n: int, clients: int) -> tuple[float, float]:
    """(creates/s, gets/s): ``clients`` threads, each on one connection."""
    path, make = KINDS[kind]
    errors: list = []
    hdrs = {"Accept": "application/json", "Content-Type": "application/json"}

    def phase(fn):
        threads = [threading.Thread(target=fn, args=(c,)) for c in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f"{kind}: {errors[0]}")
        return n * clients / (time.perf_counter() - t0)

    def create(c):
        conn = server.connection(True)
        try:
            for i in range(n):
                conn.request("POST", path, body=json.dumps(make(f"{prefix}-{c}-{i}")),
                             headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 201:
                    errors.append(f"POST {resp.status}: {data[:300]!r}")
                    return
        finally:
            conn.close()

    def get(c):
        conn = server.connection(True)
        try:
            for i in range(n):
                conn.request("GET", f"{path}/{prefix}-{c}-{i}", headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    errors.append(f"GET {resp.status}: {data[:300]!r}")
                    return
        finally:
            conn.close()

    return phase(create), phase(get)


def in_process(calls: int) -> tuple[float, float]:
    """Median µs of ``crds.schema.validate`` for one object without and with the rules
    (an update, so the transition rule runs too)."""
    from crds import schema as api

    obj = KINDS["widgets"][1]("w")
    old = json.loads(json.dumps(obj))
    out = []
    for with_cel in (False, True):
        s = schema(with_cel)
        assert not api.validate(s, obj, old), api.validate(s, obj, old)
        samples = []
        for _ in range(calls):
            t0 = time.perf_counter()
            api.validate(s, obj, old)
            samples.append(time.perf_counter() - t0)
        out.append(statistics.median(samples) * 1e6)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--objects", type=int, default=300, help="objects per client per rep")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", default="1,4")
    ap.add_argument("--calls", type=int, default=2000, help="in-process validations")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c]
    server = Server("--no-workers")
    rates: dict = {}
    try:
        for plural, kind, cel in (("widgets", "Widget", False),
                                  ("celwidgets", "CelWidget", True)):
            status, data = server.request("POST", "/apis/apiextensions.k8s.io/v1/"
                                          "customresourcedefinitions",
                                          definition(plural, kind, cel))
            if status != 201:
                raise RuntimeError(f"CRD {plural}: {status} {data[:300]!r}")
            wait_served(server, KINDS[plural][0])
        for kind in KINDS:
            run(server, kind, "warm", 20, 1)
        for rep in range(args.reps):
            for kind in KINDS:
                for c in levels:
                    created, got = run(server, kind, f"r{rep}c{c}", args.objects, c)
                    rates.setdefault((kind, c, "create"), []).append(created)
                    rates.setdefault((kind, c, "get"), []).append(got)
                    print(f"rep {rep + 1}: {kind}, {c} client(s): {created:.0f} creates/s, "
                          f"{got:.0f} gets/s", file=sys.stderr)
    finally:
        server.stop()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"over HTTPS (SQLite), median of {args.reps} reps × {args.objects} objects per client")
    print(f"{'kind':12} {'clients':>7} {'creates/s':>10} {'vs cm':>6} {'gets/s':>9} {'vs cm':>6}")
    for kind in KINDS:
        for c in levels:
            cr, gt = med[(kind, c, "create")], med[(kind, c, "get")]
            base_c, base_g = med[("configmaps", c, "create")], med[("configmaps", c, "get")]
            print(f"{kind:12} {c:7d} {cr:10.0f} {cr / base_c:6.2f} {gt:9.0f} {gt / base_g:6.2f}")
    for c in levels:
        cost = (1 / med[("celwidgets", c, "create")] - 1 / med[("widgets", c, "create")]) * 1e6
        print(f"CEL rules' cost per create over HTTPS at {c} client(s): {cost:6.0f} µs")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apiserver.settings")
    plain, cel = in_process(args.calls)
    print(f"in-process crds.schema.validate (update, {args.calls} calls): schema only "
          f"{plain:.1f} µs, with {len(RULES)} CEL rules {cel:.1f} µs: CEL costs "
          f"{cel - plain:.1f} µs per object")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rates": {f"{k} c{c} {op}": r for (k, c, op), r in med.items()},
            "validate_us": {"schema": plain, "cel": cel}}, indent=2))


if __name__ == "__main__":
    main()
