"""End-to-end fixtures: one real ``manage.py up`` subprocess per test session, driven over HTTPS
only (kubectl, the official Python client, raw ``http.client``).  No Django test database is
used: the server owns its database.

* SQLite (a file in the temp data dir) unless ``DATABASE_URL`` is set; then a fresh PostgreSQL
  database ``apiserver_e2e_<random>`` is created on the server of ``DATABASE_URL`` (user
  ``postgres`` on 127.0.0.1:5432 by default) and dropped ``WITH (FORCE)`` at teardown.
* Teardown sends SIGTERM and requires the process to exit within 10 s (clean shutdown).
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from controller_support import WITHOUT_ROOT_CA

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = os.environ.get("E2E_KUBECTL", "/usr/bin/kubectl")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<no log: {exc}>"


class Server:
    """A running ``manage.py up``: its address, PKI files and client helpers."""

    def __init__(self, data_dir: Path, port: int, log_path: Path, proc: subprocess.Popen,
                 cache_dir: Path):
        self.data_dir = data_dir
        self.port = port
        self.host = "127.0.0.1"
        self.url = f"https://127.0.0.1:{port}"
        self.log_path = log_path
        self.proc = proc
        self.cache_dir = cache_dir
        self.kubeconfig = data_dir / "admin.kubeconfig"
        self.ca = data_dir / "pki" / "ca.crt"
        self.admin_cert = data_dir / "pki" / "admin.crt"
        self.admin_key = data_dir / "pki" / "admin.key"

    # -- kubectl ---------------------------------------------------------------------------
    def kubectl(self, *args, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        cmd = [KUBECTL, "--cache-dir", str(self.cache_dir), *map(str, args)]
        cp = subprocess.run(cmd, input=input, capture_output=True, text=True, env=env,
                            timeout=timeout)
        if check and cp.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(map(str, args))} exited {cp.returncode}\n"
                f"--- stdout ---\n{cp.stdout}\n--- stderr ---\n{cp.stderr}")
        return cp

    # -- raw HTTPS -------------------------------------------------------------------------
    def ssl_context(self, client_cert: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if client_cert:
            ctx.load_cert_chain(str(self.admin_cert), str(self.admin_key))
        return ctx

    def connection(self, client_cert: bool = True, timeout: float = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                           context=self.ssl_context(client_cert))

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                client_cert: bool = True, timeout: float = 30):
        """One request on a fresh connection: (status, headers dict lower-cased, body bytes)."""
        conn = self.connection(client_cert, timeout)
        try:
            hdrs = {"Accept": "application/json"}
            hdrs.update(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path: str, **kw):
        status, _, data = self.request("GET", path, **kw)
        assert status == 200, f"GET {path} -> {status}: {data[:500]!r}"
        return json.loads(data)


def _create_pg_database(base_url: str) -> tuple[str, str]:
    import psycopg

    u = urlparse(base_url)
    admin_url = urlunparse(u._replace(path="/postgres"))
    name = f"apiserver_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, urlunparse(u._replace(path=f"/{name}"))


def _drop_pg_database(base_url: str, name: str) -> None:
    import psycopg

    u = urlparse(base_url)
    admin_url = urlunparse(u._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_ready(server: Server, deadline: float) -> None:
    last = "not started"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited early with {server.proc.returncode}\n"
                               f"--- log tail ---\n{_tail(server.log_path)}")
        if server.ca.exists():
            try:
                conn = http.client.HTTPSConnection(server.host, server.port, timeout=2,
                                                   context=server.ssl_context(client_cert=False))
                conn.request("GET", "/readyz")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return
                last = f"/readyz -> {resp.status}"
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"server not ready within {START_TIMEOUT:.0f}s ({last})\n"
                       f"--- log tail ---\n{_tail(server.log_path)}")


@pytest.fixture(scope="session")
def server():
    tmp = Path(tempfile.mkdtemp(prefix="apiserver-e2e-"))
    data_dir = tmp / "data"
    cache_dir = tmp / "kubectl-cache"
    data_dir.mkdir()
    cache_dir.mkdir()
    port = _free_port()
    log_path = data_dir / "server.log"

    env = dict(os.environ)
    base_url = env.get("DATABASE_URL")
    pg_name = None
    if base_url:
        pg_name, env["DATABASE_URL"] = _create_pg_database(base_url)
    else:
        env.pop("DATABASE_URL", None)
    env.pop("APISERVER_DATA_DIR", None)
    env["PYTHONUNBUFFERED"] = "1"

    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--data-dir", str(data_dir), "--secure-port", str(port),
         WITHOUT_ROOT_CA],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(data_dir, port, log_path, proc, cache_dir)
    ok = False
    try:
        _wait_ready(srv, time.monotonic() + START_TIMEOUT)
        # the banner is printed just after the listener starts: allow it a moment
        banner = "serving on https://127.0.0.1:%d" % port
        banner_deadline = time.monotonic() + 5
        while banner not in log_path.read_text(errors="replace"):
            assert time.monotonic() < banner_deadline, f"no {banner!r} line\n{_tail(log_path)}"
            time.sleep(0.05)
        ok = True
        yield srv
    finally:
        exit_code = None
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                exit_code = proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        else:
            exit_code = proc.returncode
        log.close()
        if pg_name:
            _drop_pg_database(base_url, pg_name)
        log_tail = _tail(log_path)
        shutdown_log = log_path.read_bytes()[log_offset:].decode(errors="replace") \
            if log_path.exists() else ""
        shutil.rmtree(tmp, ignore_errors=True)
        if ok:
            # Clean shutdown: exits by itself within STOP_TIMEOUT after SIGTERM.
            assert exit_code is not None, \
                f"server did not exit within {STOP_TIMEOUT:.0f}s of SIGTERM\n{log_tail}"
            # 0, or death by the re-raised SIGTERM after uvicorn's graceful shutdown
            assert exit_code in (0, -signal.SIGTERM), \
                f"server exited with {exit_code} after SIGTERM\n{log_tail}"
            assert "Traceback" not in shutdown_log, f"traceback during shutdown\n{shutdown_log}"


@pytest.fixture(scope="session")
def kubectl(server):
    """``kubectl(*args, input=None, check=True)`` against the test server."""
    return server.kubectl


@pytest.fixture(scope="session")
def client(server):
    """An official ``kubernetes.client.ApiClient`` configured from the admin kubeconfig."""
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(server.kubeconfig))
    yield api
    api.close()


@pytest.fixture
def namespace(server):
    """A fresh namespace for one test (deleted afterwards, without waiting)."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    status, _, data = server.request(
        "POST", "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status == 201, f"create namespace {name}: {status} {data[:300]!r}"
    yield name
    server.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing e2e test, attach the tail of the server's log to the report."""
    outcome = yield
    rep = outcome.get_result()
    srv = item.funcargs.get("server") if hasattr(item, "funcargs") else None
    if srv is None and hasattr(item, "funcargs"):
        srv = next((v.__self__ for v in item.funcargs.values()
                    if getattr(v, "__self__", None).__class__ is Server), None)
    if rep.failed and isinstance(srv, Server):
        rep.sections.append(("server log (tail)", _tail(srv.log_path, 40)))
        if srv.proc.poll() is not None:
            rep.sections.append(("server process", f"exited with {srv.proc.returncode}"))


# The e2e modules whose subject is not the server's storage: worker processes (kubelets,
# the scheduler, the controller manager's controllers, the metrics server, a kopf operator),
# API clients whose behaviour does not depend on the database under the server, and the
# authenticator and authorizer configurations (OIDC, x509 and front proxy, bootstrap tokens
# and webhooks, ABAC/AlwaysDeny, log hygiene), which hold no state in it.  They run in the
# SQLite pass (the README's default start); the PostgreSQL pass runs every other module
# (storage, watch, restarts, the API surface, Django users and RBAC models, service-account
# tokens, admission, CRDs, the aggregator), keeping the two passes inside the suite's time
# budget.  E2E_ALL_BACKENDS=1 runs them on PostgreSQL too.
WORKER_MODULES = frozenset({
    "test_kubelet", "test_scheduler", "test_controller_manager", "test_daemonset",
    "test_statefulset", "test_jobs", "test_disruption", "test_endpoints", "test_pv_binder",
    "test_rootcacertpublisher", "test_metrics_server", "test_garbage_collection",
    "test_controller_manager_leader", "test_namespace_deletion", "test_crd_kopf",
    "test_auth_oidc", "test_auth_x509_proxy", "test_auth_bootstrap_webhook",
    "test_auth_no_credentials_logged", "test_authz_modes",
    # streaming through the API server to kubelets (no storage behaviour of their own)
    "test_streaming_apiserver", "test_streaming_kubectl", "test_logs_simulated",
    "test_streaming_process",
    # request bodies in Kubernetes protobuf: decoding, before any storage
    "test_kubectl_typed",
})


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("DATABASE_URL") or os.environ.get("E2E_ALL_BACKENDS"):
        return
    here = Path(__file__).resolve().parent
    keep, drop = [], []
    for item in items:
        path = Path(str(item.path)).resolve()
        (drop if path.parent == here and path.stem in WORKER_MODULES else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    if os.environ.get("DATABASE_URL") and not os.environ.get("E2E_ALL_BACKENDS"):
        return ("worker e2e modules run in the SQLite pass only: "
                + ", ".join(sorted(WORKER_MODULES)))
