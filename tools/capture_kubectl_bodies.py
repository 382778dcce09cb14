#!/usr/bin/env python3
"""Capture the request bodies kubectl sends for typed ``create``/``auth`` commands.

Runs each command of ``COMMANDS`` twice against a throw-away local HTTP stub that records the
first body-carrying request and answers 500: once with kubectl 1.32 (which sends
``application/vnd.kubernetes.protobuf``) and once with kubectl 1.31 (which sends JSON for
the same Go object).  The pairs are written as ``<name>.pb`` / ``<name>.json`` into the
fixture directory used by ``tests/apiserver/runtime/protobuf/test_kubectl_fixtures.py``.

Usage::

    python tools/capture_kubectl_bodies.py --kubectl-pb kubectl.1.32 --kubectl-json kubectl.1.31 \\
        --out tests/apiserver/runtime/protobuf/fixtures

No network beyond 127.0.0.1 is used.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

BIN = bytes(range(256))  # a non-UTF-8 file for ConfigMap binaryData

COMMANDS = {
    "token": ["create", "token", "default", "--duration=10m", "--audience=foo", "--audience=bar",
              "--bound-object-kind=Pod", "--bound-object-name=x", "--bound-object-uid=1234"],
    "configmap": ["create", "configmap", "cm", "--from-literal=a=b", "--from-literal=c=",
                  "--from-file=bin={bin}"],
    "secret": ["create", "secret", "generic", "s", "--from-literal=k=v", "--type=Opaque"],
    "secret-docker": ["create", "secret", "docker-registry", "d", "--docker-server=r.io",
                      "--docker-username=u", "--docker-password=p"],
    "namespace": ["create", "namespace", "ns1"],
    "serviceaccount": ["create", "serviceaccount", "sa1"],
    "deployment": ["create", "deployment", "d", "--image=nginx", "--image=busybox",
                   "--replicas=3", "--port=80"],
    "service-clusterip": ["create", "service", "clusterip", "svc", "--tcp=80:8080", "--tcp=81:web"],
    "service-nodeport": ["create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"],
    "service-external": ["create", "service", "externalname", "ext", "--external-name=example.com"],
    "job": ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    "cronjob": ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *",
                "--restart=OnFailure", "--", "date"],
    "role": ["create", "role", "r", "--verb=get", "--verb=list", "--resource=pods",
             "--resource-name=a"],
    "rolebinding": ["create", "rolebinding", "rb", "--role=r", "--user=u", "--group=g",
                    "--serviceaccount=ns:sa"],
    "clusterrole": ["create", "clusterrole", "cr", "--verb=get", "--non-resource-url=/logs/*"],
    "clusterrole-aggregate": ["create", "clusterrole", "agg", "--aggregation-rule=a=b"],
    "clusterrolebinding": ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--user=u"],
    "quota": ["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2",
              "--scopes=BestEffort"],
    "priorityclass": ["create", "priorityclass", "pc", "--value=1000", "--description=x",
                      "--preemption-policy=Never"],
    "pdb": ["create", "poddisruptionbudget", "p", "--selector=app=x", "--min-available=50%"],
    "pdb-int": ["create", "poddisruptionbudget", "p2", "--selector=app=x", "--max-unavailable=1"],
    "ingress": ["create", "ingress", "ing", "--class=nginx",
                "--rule=foo.com/bar*=svc1:8080,tls=my-cert", "--rule=/path=svc2:http",
                "--annotation=a=b"],
    "can-i-list": ["auth", "can-i", "--list", "-n", "ns1"],
    "can-i": ["auth", "can-i", "get", "pods", "-n", "ns1", "--subresource=log"],
    "can-i-nonresource": ["auth", "can-i", "get", "/logs"],
    "whoami": ["auth", "whoami"],
}


# Minimal legacy discovery, so that commands resolving resource names (create role, can-i) run.
DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]},
}


class _Stub(http.server.BaseHTTPRequestHandler):
    captured: list = []

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if body:
            self.captured.append((self.command, self.path, self.headers.get("Content-Type"), body))
        answer = DISCOVERY.get(self.path.split("?")[0]) if self.command == "GET" else None
        if answer is not None:
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        status = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "message": "captured", "reason": "InternalError", "code": 500}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(status)))
        self.end_headers()
        self.wfile.write(status)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def log_message(self, *args):
        pass


def capture(kubectl: str, args: list[str], port: int) -> tuple | None:
    """Run one command against the stub; return the first (method, path, type, body)."""
    _Stub.captured = []
    with tempfile.TemporaryDirectory() as home:
        subprocess.run([kubectl, "--server", f"http://127.0.0.1:{port}", "--cache-dir",
                        os.path.join(home, "cache"), *args], capture_output=True, timeout=60,
                       env={"HOME": home, "PATH": os.environ.get("PATH", "")})
    return _Stub.captured[0] if _Stub.captured else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubectl-pb", required=True)
    ap.add_argument("--kubectl-json", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    os.makedirs(args.out, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as fh:
        fh.write(BIN)
    try:
        for name, cmd in COMMANDS.items():
            cmd = [c.format(bin=fh.name) for c in cmd]
            pb, js = capture(args.kubectl_pb, cmd, port), capture(args.kubectl_json, cmd, port)
            if not pb or not js or not pb[3].startswith(b"k8s\x00"):
                print(f"{name}: skipped (pb={pb and pb[:3]}, json={js and js[:3]})", file=sys.stderr)
                continue
            with open(os.path.join(args.out, f"{name}.pb"), "wb") as out:
                out.write(pb[3])
            with open(os.path.join(args.out, f"{name}.json"), "wb") as out:
                out.write(js[3])
            print(f"{name}: {pb[0]} {pb[1].split('?')[0]} ({len(pb[3])} bytes)")
    finally:
        os.unlink(fh.name)
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
