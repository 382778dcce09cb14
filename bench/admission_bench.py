#!/usr/bin/env python
"""What the admission chain costs per pod create: kube-apiserver 1.32's default plugins next
to the chain switched off, in the same run, and each plugin's own time in-process.

    python bench/admission_bench.py --pods 500 --reps 3 --concurrency 1,4

Two servers from ``manage.py up --no-workers`` on fresh SQLite data dirs:

* ``default plugins``: the default set (``apiserver.admission.base.DEFAULT_ON``, as many of
  them as this server implements);
* ``no admission`` (the raw baseline): ``--disable-admission-plugins`` naming every default
  plugin, so no plugin runs;
* ``default + 1 webhook``: the default set and one ValidatingWebhookConfiguration for pod
  CREATEs whose ``url`` is an HTTPS webhook this script serves on 127.0.0.1 (a threaded
  ``http.server`` that allows every review; its CA is the caBundle).

On each, namespace ``bench`` and its ``default`` ServiceAccount (the ServiceAccount plugin
refuses pods without it, and no controller runs) are created, then per rep ``--pods`` pods
(one container with requests, ~1 KB) are POSTed by each of ``--concurrency`` clients over one
keep-alive HTTPS connection per client; the figure is pods created per second (median over
reps).  The admission cost per create is 1/rate(default) − 1/rate(none) at one client.

In-process, over a scratch SQLite database holding the same namespace and ServiceAccount,
the chain the default flags build is run on the same pod's CREATE attributes: each plugin's
``admit`` (if mutating) and ``validate`` (if validating) timed alone, median µs per call over
``--calls`` calls, and the whole chain (both phases).  Figures go to stdout (and --json PATH).
"""
from __future__ import annotations

import argparse
import atexit
import base64
import copy
import json
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authn_bench import Server  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from apiserver.admission.base import DEFAULT_ON  # noqa: E402  (no Django needed)

NS = "bench"


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
            "spec": {"containers": [{
                "name": "web", "image": "registry.example/web:1.2.3",
                "ports": [{"containerPort": 8080}],
                "env": [{"name": f"VAR_{i}", "value": "x" * 20} for i in range(8)],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"memory": "128Mi"}}}]}}


class AllowAll(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"            # keep-alive, as the server's webhook client
    disable_nagle_algorithm = True           # headers and body go out at once, as Go's

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": {"uid": review["request"]["uid"],
                                        "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_webhook() -> tuple[int, str]:
    """An allow-all HTTPS webhook on 127.0.0.1: (port, base64 caBundle)."""
    from apiserver.pki import PKI
    directory = tempfile.mkdtemp(prefix="admission-bench-hook-")
    atexit.register(shutil.rmtree, directory, True)
    pki = PKI(Path(directory)).ensure(hosts=("127.0.0.1",))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), AllowAll)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd.server_address[1], base64.b64encode(pki.ca_cert.read_bytes()).decode()


def add_webhook(server: Server, port: int, ca: str) -> None:
    body = {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "bench.example.com"},
            "webhooks": [{"name": "bench.example.com", "sideEffects": "None",
                          "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
                          "clientConfig": {"url": f"https://127.0.0.1:{port}/validate",
                                           "caBundle": ca},
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                     "apiVersions": ["v1"], "resources": ["pods"]}]}]}
    status, data = server.request(
        "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", body)
    if status != 201:
        raise RuntimeError(f"webhook configuration -> {status}: {data[:200]!r}")


def setup(server: Server) -> None:
    for path, body in (("/api/v1/namespaces", {"metadata": {"name": NS}}),
                       (f"/api/v1/namespaces/{NS}/serviceaccounts", {"metadata": {"name": "default"}})):
        status, data = server.request("POST", path, body)
        if status not in (201, 409):
            raise RuntimeError(f"POST {path} -> {status}: {data[:200]!r}")


def create_pods(server: Server, prefix: str, n: int, clients: int) -> float:
    """Pods per second: ``clients`` threads, each POSTing ``n`` pods on one connection."""
    errors: list = []

    def client(c: int):
        conn = server.connection(True)
        hdrs = {"Accept": "application/json", "Content-Type": "application/json"}
        try:
            for i in range(n):
                conn.request("POST", f"/api/v1/namespaces/{NS}/pods",
                             body=json.dumps(pod(f"{prefix}-{c}-{i}")), headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 201:
                    errors.append(f"{resp.status}: {data[:300]!r}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError("pod create failed: " + errors[0])
    return n * clients / elapsed


def in_process(calls: int) -> tuple[list, dict, float]:
    """(plugin names, {plugin: median µs of its phases}, median µs of the whole chain)."""
    data_dir = tempfile.mkdtemp(prefix="admission-bench-")
    atexit.register(shutil.rmtree, data_dir, True)
    os.environ.pop("DATABASE_URL", None)
    os.environ["APISERVER_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apiserver.settings")
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    import orjson

    from apiserver.admission.base import Attributes, resolve
    from apiserver.authentication.user import UserInfo
    from apiserver.authorization.base import build
    from apiserver.options import Options
    from apiserver.registry.context import system_context
    from apiserver.runtime.errors import AlreadyExists
    from apiserver.server.chain import create_server_chain
    from apiserver.server.config import Config
    from apiserver.storage.models import Revision

    Revision.objects.get_or_create(id=1, defaults={"rv": 1, "compacted": 0})
    names, _ = resolve()
    completed = Config(options=Options(), admission_plugins=names,
                       authorizer=build(("AlwaysAllow",))).complete()
    create_server_chain(completed)
    stores, chain = completed.stores, completed.admission
    ctx = system_context("admission-bench")
    stores.store("", "v1", "namespaces").create(None, {"metadata": {"name": NS}}, ctx)
    try:        # some builds make it with the namespace, as the ServiceAccount controller
        stores.store("", "v1", "serviceaccounts").create(NS, {"metadata": {"name": "default"}},
                                                         ctx)
    except AlreadyExists:
        pass
    user = UserInfo("bench-user", groups=("system:authenticated",))
    body = orjson.loads(orjson.dumps(pod("p")))

    def attrs():
        return Attributes(operation="CREATE", group="", version="v1", kind="Pod",
                          resource="pods", subresource="", namespace=NS, name="p",
                          obj=copy.deepcopy(body), old=None, user=user)

    def timed(fn) -> float:
        samples = []
        for _ in range(calls):
            a = attrs()                      # the copy is made outside the timing
            t0 = time.perf_counter()
            fn(a)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1e6

    per_plugin = {}
    for name, plugin in zip(chain.names, chain.plugins):
        def both(a, plugin=plugin):
            if plugin.mutating and plugin.handles(a.operation):
                plugin.admit(a)
            if plugin.validating and plugin.handles(a.operation):
                plugin.validate(a)
        per_plugin[name] = timed(both)

    def whole(a):
        chain.admit(a)
        chain.validate(a)
    return list(chain.names), per_plugin, timed(whole)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pods", type=int, default=300, help="pods per client per rep")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", default="1,4")
    ap.add_argument("--calls", type=int, default=2000, help="in-process calls per plugin")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c]
    servers = {}
    rates: dict = {}
    try:
        servers["default plugins"] = Server("--no-workers")
        servers["no admission"] = Server("--no-workers", "--disable-admission-plugins",
                                         ",".join(DEFAULT_ON))
        servers["default + 1 webhook"] = Server("--no-workers")
        for server in servers.values():
            setup(server)
        add_webhook(servers["default + 1 webhook"], *start_webhook())
        for server in servers.values():
            create_pods(server, "warm", 20, 1)
        for rep in range(args.reps):
            for label, server in servers.items():
                for c in levels:
                    rates.setdefault((label, c), []).append(
                        create_pods(server, f"r{rep}c{c}", args.pods, c))
                    print(f"rep {rep + 1}: {label}, {c} client(s): {rates[(label, c)][-1]:.0f} "
                          "pods/s", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"pod creates over HTTPS, median of {args.reps} reps × {args.pods} pods per client")
    print(f"{'case':28} {'clients':>7} {'pods/s':>9} {'µs/pod':>9}")
    for (label, c), rate in med.items():
        print(f"{label:28} {c:7d} {rate:9.0f} {1e6 / rate:9.0f}")
    cost = {}
    for case in ("default plugins", "default + 1 webhook"):
        for c in levels:
            on, off = med[(case, c)], med[("no admission", c)]
            cost[f"{case} c{c}"] = (1 / on - 1 / off) * 1e6
            print(f"admission cost per create, {case}, at {c} client(s): "
                  f"{cost[f'{case} c{c}']:7.0f} µs ({(1 - on / off) * 100:4.1f} % of the raw "
                  "rate)")
    names, per_plugin, whole = in_process(args.calls)
    print(f"\nin-process, median µs per pod CREATE ({args.calls} calls each), "
          f"plugins in upstream order:")
    for name in names:
        print(f"  {name:36} {per_plugin[name]:8.1f}")
    print(f"  {'sum of plugins':36} {sum(per_plugin.values()):8.1f}")
    print(f"  {'whole chain (admit + validate)':36} {whole:8.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "pods_per_second": {f"{label} c{c}": r for (label, c), r in med.items()},
            "admission_cost_us": cost, "plugin_us": per_plugin, "chain_us": whole,
            "plugins": names}, indent=2))


if __name__ == "__main__":
    main()
