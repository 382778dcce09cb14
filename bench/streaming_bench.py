#!/usr/bin/env python
"""Exec round-trip latency and port-forward throughput through the API server, each next
to the same thing over a direct connection, measured in the same run.

    python bench/streaming_bench.py --execs 30 --megabytes 64 --reps 3

One ``manage.py up --nodes 1 --node-runtime process`` on a fresh data dir (bench/cluster.py;
SQLite unless ``DATABASE_URL`` is set), two pods on its one kubelet: ``shell`` (``sleep``)
and ``web`` (``python3 -m http.server`` on a free port, serving a file of ``--megabytes``
MiB it wrote with ``head -c``).  Then:

* exec round trip of ``true`` (``--execs`` times each, p50/p90/max in ms):
  - ``kubectl exec shell -- true``: what a user waits, kubectl's own start-up included;
  - a websocket exec (``v5.channel.k8s.io``) from this process through the API server
    (``/api/v1/namespaces/default/pods/shell/exec``) until the exit Status arrives;
  - the same websocket exec straight to the kubelet's ``/exec`` endpoint with up's
    kubelet client certificate (no API server in the path);
  - raw baseline: ``fork``/``exec`` of ``true`` by this process (``subprocess.run``);
* port-forward throughput (MB/s, median of ``--reps`` downloads of the file):
  ``kubectl port-forward pod/web`` (SPDY through the API server to the kubelet) versus an
  HTTP GET straight to the pod's port on 127.0.0.1 (the process runtime's pods share the
  host's network).

Progress goes to stderr, the report to stdout.
"""
from __future__ import annotations

import argparse
import json
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import Cluster, free_port  # noqa: E402

from websockets.sync.client import connect  # noqa: E402


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def kubectl(c: Cluster, *args, check=True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(c.kubeconfig), *args],
                          capture_output=True, text=True, check=check, **kw)


def pod(name: str, command: list[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox", "command": command}]}}


def wait_running(c: Cluster, names: list[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = json.loads(kubectl(c, "get", "pods", "-o", "json").stdout)
        pods = {p["metadata"]["name"]: p for p in out["items"]}
        if all(pods.get(n, {}).get("status", {}).get("phase") == "Running" for n in names):
            return pods
        time.sleep(0.3)
    raise TimeoutError(f"pods {names} not Running:\n" + kubectl(c, "get", "pods").stdout)


def tls(ca: Path | None, cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:                   # the kubelet's serving certificate is its own
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    else:
        ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    return ctx


def ws_exec(url: str, ctx: ssl.SSLContext) -> float:
    """One websocket exec of ``true``: seconds from connect to the exit Status."""
    start = time.perf_counter()
    with connect(url, ssl=ctx, subprotocols=["v5.channel.k8s.io"],
                 open_timeout=30, max_size=None) as ws:
        while True:
            message = ws.recv(timeout=30)
            if isinstance(message, bytes) and message[:1] == b"\x03":
                status = json.loads(message[1:])
                if status.get("status") != "Success":
                    raise RuntimeError(f"exec failed: {status}")
                return time.perf_counter() - start


def summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"p50 {statistics.median(ms):7.1f} ms  p90 {p90:7.1f} ms  max {ms[-1]:7.1f} ms"


def timed(n: int, call) -> list[float]:
    call()                                               # warm-up, not counted
    out = []
    for _ in range(n):
        start = time.perf_counter()
        took = call()
        out.append(took if isinstance(took, float) else time.perf_counter() - start)
    return out


def download(port: int, name: str) -> tuple[float, int]:
    start = time.perf_counter()
    size = 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{name}", timeout=120) as resp:
        while chunk := resp.read(1 << 20):
            size += len(chunk)
    return time.perf_counter() - start, size


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--execs", type=int, default=30)
    ap.add_argument("--megabytes", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    with Cluster(["--nodes", "1", "--node-runtime", "process"], prefix="bench-stream-") as c:
        pki = c.data / "pki"
        web_port = free_port()
        site = c.tmp / "web"           # removed with the cluster's temporary directory
        serve = (f"mkdir -p {site} && cd {site} && "
                 f"head -c {args.megabytes << 20} /dev/zero > blob && "
                 f"exec python3 -m http.server {web_port} --bind 127.0.0.1")
        for body in (pod("shell", ["sleep", "3600"]), pod("web", ["sh", "-c", serve])):
            kubectl(c, "create", "-f", "-", input=json.dumps(body))
        pods = wait_running(c, ["shell", "web"])
        wait_port(web_port)
        node = json.loads(kubectl(c, "get", "node", pods["shell"]["spec"]["nodeName"],
                                  "-o", "json").stdout)
        kubelet_port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        log(f"pods Running on {node['metadata']['name']} (kubelet port {kubelet_port})")

        api = tls(pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
        direct = tls(None, pki / "apiserver-kubelet-client.crt",
                     pki / "apiserver-kubelet-client.key")
        via_api = (f"wss://127.0.0.1:{c.port}/api/v1/namespaces/default/pods/shell/exec"
                   "?command=true&container=c&stderr=true&stdout=true")
        to_kubelet = (f"wss://127.0.0.1:{kubelet_port}/exec/default/shell/c"
                      "?command=true&error=1&output=1")
        results = {
            "kubectl exec -- true": timed(args.execs, lambda: kubectl(c, "exec", "shell",
                                                                      "--", "true")),
            "websocket exec, through the API server": timed(
                args.execs, lambda: ws_exec(via_api, api)),
            "websocket exec, straight to the kubelet": timed(
                args.execs, lambda: ws_exec(to_kubelet, direct)),
            "raw: fork/exec of true": timed(args.execs, lambda: subprocess.run(["true"])),
        }

        local = free_port()
        forward = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(c.kubeconfig), "port-forward", "pod/web",
             f"{local}:{web_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(local)
            throughput = {}
            for label, port in (("kubectl port-forward (through the API server)", local),
                                ("direct GET to the pod's port", web_port)):
                rates = []
                for _ in range(args.reps):
                    took, size = download(port, "blob")
                    if size != args.megabytes << 20:
                        raise RuntimeError(f"{label}: got {size} bytes")
                    rates.append(size / took / 1e6)
                throughput[label] = rates
        finally:
            forward.terminate()
            forward.wait(10)

    print(f"exec round trip of `true`, {args.execs} each (after one warm-up):")
    for label, seconds in results.items():
        print(f"  {label:42} {summary(seconds)}")
    print(f"port-forward: {args.megabytes} MiB over HTTP, median of {args.reps}:")
    for label, rates in throughput.items():
        print(f"  {label:48} {statistics.median(rates):8.1f} MB/s  "
              f"(runs: {', '.join(f'{r:.1f}' for r in rates)})")
    ratio = (statistics.median(throughput["direct GET to the pod's port"])
             / statistics.median(throughput["kubectl port-forward (through the API server)"]))
    print(f"  direct / through the API server: {ratio:.1f}x")


if __name__ == "__main__":
    main()
