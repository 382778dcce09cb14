#!/usr/bin/env python
"""What authentication costs per request, against an unauthenticated /healthz in the same run.

    python bench/authn_bench.py --requests 2000 --reps 3

Starts ``manage.py up`` on a fresh SQLite data dir with a token file, creates a ConfigMap, a
ServiceAccount and a bound token for it (TokenRequest), then, over one keep-alive HTTPS
connection per case, times sequential requests:

* ``healthz (anonymous)``: GET /healthz with no credential — the floor of a request;
* ``GET, client certificate``: GET of the ConfigMap with the admin certificate (x509 is read
  once per connection, so this is the GET without an authentication cost to speak of);
* ``GET, token file (cached)``: the same GET with a static bearer token;
* ``GET, service-account JWT (cached)``: the same GET with the bound token;
* ``GET, service-account JWT (uncached)``: a second server with ``--token-success-cache-ttl=0s``,
  so every request verifies the signature and re-reads the ServiceAccount.

Two figures per credential: over HTTPS, (GET with the credential − GET with the client
certificate) / GET with the credential, which also charges the credential's bytes on the
wire to authentication; and in-process, the authentication stage alone — the union the flags
build (``apiserver.authentication.mechanisms.build``), with the same token file and a
service-account token signed by the same kind of key, answering a request scope, after one
warm-up call (so a cached token is answered from the token cache) — divided by the HTTPS GET
median.  The project's target: under 10 % of a GET for the cached cases.  Cases are
interleaved across ``--reps`` rounds and medians reported.  Figures go to stdout (and
--json PATH).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-static-token-0123456789"
TARGET_SHARE = 0.10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *flags: str):
        self.dir = Path(tempfile.mkdtemp(prefix="authn-bench-"))
        (self.dir / "tokens.csv").write_text(f'{TOKEN},bench-user,1001,"bench"\n')
        self.port = free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("DATABASE_URL", None)
        self.log = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--data-dir", str(self.dir / "data"),
             "--secure-port", str(self.port), "--token-auth-file", str(self.dir / "tokens.csv"),
             *flags], cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pki = self.dir / "data" / "pki"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/readyz", cert=False)[0] == 200:
                    return
            except (OSError, ssl.SSLError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start; see {self.dir / 'server.log'}")

    def context(self, cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        if cert:
            ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def connection(self, cert: bool) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(cert),
                                           timeout=30)

    def request(self, method, path, body=None, cert=True, headers=None):
        conn = self.connection(cert)
        try:
            hdrs = {"Accept": "application/json", "Content-Type": "application/json"}
            hdrs.update(headers or {})
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def setup(server: Server) -> str:
    """A ConfigMap to read, and a bound token of ServiceAccount default/bench."""
    server.request("POST", "/api/v1/namespaces/default/configmaps",
                   {"metadata": {"name": "bench"}, "data": {"k": "v" * 200}})
    server.request("POST", "/api/v1/namespaces/default/serviceaccounts",
                   {"metadata": {"name": "bench"}})
    status, body = server.request("POST", "/api/v1/namespaces/default/serviceaccounts/bench/token",
                                  {"apiVersion": "authentication.k8s.io/v1",
                                   "kind": "TokenRequest", "spec": {}})
    assert status == 201, body
    return json.loads(body)["status"]["token"]


def time_requests(server: Server, path: str, n: int, cert: bool, headers=None,
                  expect: int = 200) -> float:
    """Median seconds per request over ``n`` sequential GETs on one connection, each
    answered ``expect``."""
    conn = server.connection(cert)
    hdrs = {"Accept": "application/json", **(headers or {})}
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            samples.append(time.perf_counter() - t0)
            if resp.status != expect:
                raise RuntimeError(f"GET {path} -> {resp.status}, expected {expect}")
    finally:
        conn.close()
    return statistics.median(samples)


def stage_costs(token_file: Path, n: int = 20000) -> dict:
    """Seconds per call of the authentication union, in-process, for each credential."""
    import timeit

    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apiserver.settings")
    sys.path.insert(0, str(REPO))
    django.setup()
    from apiserver.authentication import mechanisms
    from apiserver.authentication.serviceaccount_tokens import Issuer, bound_claims, sign
    from apiserver.options import Options

    options = Options(token_auth_file=str(token_file), client_ca_file="(in-process)",
                      django_user_auth=False)
    issuer = Issuer("", options.service_account_issuer)
    sa = {"metadata": {"name": "bench", "namespace": "default", "uid": "u-1"}}
    token = sign(bound_claims(issuer.issuer, sa, issuer.default_audiences, 3600),
                 issuer.private_key)
    objects = {("serviceaccounts", "default", "bench"): sa}
    union = mechanisms.build(mechanisms.Dependencies(
        options=options, get_object=lambda r, ns, name: objects.get((r, ns, name)),
        token_issuer=issuer, api_audiences=mechanisms.api_audiences(options)))

    def scope(headers=(), tls=None):
        base = [(b"host", b"127.0.0.1"), (b"accept", b"application/json"),
                (b"user-agent", b"bench")]
        s = {"type": "http", "path": "/api/v1/namespaces/default/configmaps/bench",
             "headers": base + list(headers), "extensions": {}}
        if tls:
            s["extensions"]["tls"] = tls
        return s
    cert = {"k8s.subject": (("organizationName", "system:masters"),
                            ("commonName", "kubernetes-admin")),
            "k8s.verified_by": frozenset({"client-ca"}), "k8s.not_before": 0.0,
            "k8s.not_after": time.time() + 3600}
    cases = {"client certificate": lambda: scope(tls=cert),
             "token file (cached)": lambda: scope([(b"authorization", f"Bearer {TOKEN}".encode())]),
             "service-account JWT (cached)": lambda: scope(
                 [(b"authorization", f"Bearer {token}".encode())])}
    out = {}
    for name, make in cases.items():
        def once():
            s = make()
            union.needs_io(s)
            assert union.authenticate(s) is not None
            union.strip(s)
        once()
        out[name] = timeit.timeit(once, number=n) / n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    cm = "/api/v1/namespaces/default/configmaps/bench"
    cached, uncached = Server(), Server("--token-success-cache-ttl=0s")
    try:
        sa_token, sa_token_uncached = setup(cached), setup(uncached)
        cases = {
            "healthz (anonymous)": (cached, "/healthz", False, None),
            "GET, client certificate": (cached, cm, True, None),
            "GET, token file (cached)": (cached, cm, False, {"Authorization": f"Bearer {TOKEN}"}),
            "GET, service-account JWT (cached)": (cached, cm, False,
                                                  {"Authorization": f"Bearer {sa_token}"}),
            "GET, client certificate (no token cache)": (uncached, cm, True, None),
            "GET, service-account JWT (uncached)": (uncached, cm, False,
                                                    {"Authorization": f"Bearer {sa_token_uncached}"}),
        }
        for server, path, cert, headers in cases.values():       # warm up
            time_requests(server, path, 50, cert, headers)
        rounds = {name: [] for name in cases}
        for _ in range(args.reps):
            for name, (server, path, cert, headers) in cases.items():
                rounds[name].append(time_requests(server, path, args.requests, cert, headers))
    finally:
        cached.stop()
        uncached.stop()
    med = {name: statistics.median(v) for name, v in rounds.items()}
    print(f"{'case':44} {'median µs/request':>18}")
    for name, value in med.items():
        print(f"{name:44} {value * 1e6:18.0f}")
    print()
    results = {"median_seconds": med, "shares": {}}
    for name, base in (("GET, token file (cached)", "GET, client certificate"),
                       ("GET, service-account JWT (cached)", "GET, client certificate"),
                       ("GET, service-account JWT (uncached)",
                        "GET, client certificate (no token cache)")):
        share = max(0.0, med[name] - med[base]) / med[name]
        results["shares"][name] = share
        verdict = "" if "uncached" in name else (
            "MET" if share < TARGET_SHARE else "NOT MET")
        print(f"over HTTPS, authentication share of {name[5:]:34} {share * 100:5.1f} %  "
              f"{verdict}")
    tmp = Path(tempfile.mkdtemp(prefix="authn-stage-"))
    (tmp / "tokens.csv").write_text(f'{TOKEN},bench-user,1001,"bench"\n')
    stage = stage_costs(tmp / "tokens.csv")
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    get = med["GET, client certificate"]
    results["stage_seconds"] = stage
    for name, seconds in stage.items():
        share = seconds / get
        print(f"authentication stage in-process, {name:30} {seconds * 1e6:6.1f} µs = "
              f"{share * 100:4.1f} % of a GET  {'MET' if share < TARGET_SHARE else 'NOT MET'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
