#!/usr/bin/env python
"""What the aggregator's proxy adds to a GET, next to the same GET sent straight to the
backend in the same run.

    python bench/aggregator_bench.py --requests 500

One ``manage.py up`` on a fresh SQLite data dir and the test suite's extension API server
(tests/e2e/extension_backend.py: HTTPS, front-proxy client certificate required) registered
by a Service, its Endpoints and an APIService.  Over one keep-alive HTTPS connection each,
sequential GETs of the backend's echo resource: through the API server (authentication,
authorization, resolving the endpoint, a new TLS connection to the backend), and directly
to the backend with the front-proxy client certificate (the raw baseline).  Figures go to
stdout (and --json PATH).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from authn_bench import Server, time_requests  # noqa: E402

from tests.e2e.extension_backend import GROUP, VERSION, Backend  # noqa: E402

PATH = f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets"


def register(server: Server, backend: Backend) -> None:
    for path, doc in (
            ("/api/v1/namespaces/default/services",
             {"metadata": {"name": "demo-api"},
              "spec": {"ports": [{"port": 443, "targetPort": backend.port}]}}),
            ("/api/v1/namespaces/default/endpoints",
             {"metadata": {"name": "demo-api"},
              "subsets": [{"addresses": [{"ip": backend.address}],
                           "ports": [{"port": backend.port}]}]}),
            ("/apis/apiregistration.k8s.io/v1/apiservices",
             {"metadata": {"name": f"{VERSION}.{GROUP}"},
              "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 1000,
                       "versionPriority": 15, "caBundle": base64.b64encode(backend.ca.pem).decode(),
                       "service": {"namespace": "default", "name": "demo-api", "port": 443}}})):
        status, body = server.request("POST", path, doc)
        if status != 201:
            raise RuntimeError(f"POST {path} -> {status}: {body[:300]!r}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.request("GET", PATH)[0] == 200:
            return
        time.sleep(0.3)
    raise RuntimeError("the APIService did not become available")


def direct(backend: Backend, pki: Path, n: int) -> float:
    ctx = ssl.create_default_context(cadata=backend.ca.pem.decode())
    ctx.load_cert_chain(str(pki / "front-proxy-client.crt"), str(pki / "front-proxy-client.key"))
    ctx.check_hostname = False                 # dialled by address; the name is the Service's
    conn = http.client.HTTPSConnection(backend.address, backend.port, context=ctx, timeout=30)
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", PATH, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            resp.read()
            samples.append(time.perf_counter() - t0)
    finally:
        conn.close()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    server = Server()
    backend = Backend(Path(tempfile.mkdtemp(prefix="aggregator-bench-")),
                      server.pki / "front-proxy-ca.crt")
    try:
        register(server, backend)
        proxied = time_requests(server, PATH, args.requests, cert=True)
        raw = direct(backend, server.pki, args.requests)
        local = time_requests(server, "/api/v1/namespaces/default/configmaps?limit=1",
                              args.requests, cert=True)
    finally:
        backend.close()
        server.stop()
    figures = {"requests": args.requests, "proxied_get_ms": round(proxied * 1e3, 3),
               "direct_backend_get_ms": round(raw * 1e3, 3),
               "local_list_get_ms": round(local * 1e3, 3),
               "proxy_added_ms": round((proxied - raw) * 1e3, 3)}
    print(f"GET through the APIService: {figures['proxied_get_ms']} ms median")
    print(f"GET straight to the backend (raw baseline): {figures['direct_backend_get_ms']} ms")
    print(f"added by the aggregator: {figures['proxy_added_ms']} ms "
          f"(a local list GET on the same server: {figures['local_list_get_ms']} ms)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
