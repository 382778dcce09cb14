"""The cluster the worker benchmarks share (scheduler_bench, controller_bench,
pod_startup_bench): one ``manage.py up`` on a fresh data dir, and the /proc readings and
client helpers they all use.

``Cluster(args)`` is a context manager.  On entry it makes a scratch directory, and when
``DATABASE_URL`` is set a fresh PostgreSQL database ``<that database's name>_<pid>`` on the
same server (so a run never sees a previous run's objects); it starts ``manage.py up`` on a
free port in its own process group and returns once the server logs that it serves.  On
exit (also after an exception or Ctrl-C) it sends SIGTERM, waits, SIGKILLs the process group
if ``up`` did not stop, drops the scratch database and deletes the directory.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_label() -> str:
    """``postgresql`` when the run uses DATABASE_URL, else ``sqlite`` (``up``'s default)."""
    return "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"


class Cluster:
    """``manage.py up --data-dir TMP/data --secure-port PORT *up_args`` (see the module
    docstring).  Attributes once entered: ``tmp``, ``data``, ``kubeconfig`` (the admin's),
    ``log`` (up's stdout+stderr), ``proc`` (its Popen: ``proc.pid`` is the API server)."""

    def __init__(self, up_args: list[str], *, prefix: str = "bench-", start_timeout: float = 120,
                 stop_timeout: float = 60):
        self.up_args, self.prefix = list(up_args), prefix
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.proc: subprocess.Popen | None = None
        self.db_admin_url: str | None = None
        self.db_name: str | None = None

    def __enter__(self) -> "Cluster":
        self.tmp = Path(tempfile.mkdtemp(prefix=self.prefix))
        self.data = self.tmp / "data"
        self.kubeconfig = self.data / "admin.kubeconfig"
        self.log = self.tmp / "up.log"
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _fresh_database(self, env: dict) -> None:
        """Point ``env["DATABASE_URL"]`` at a new, empty database next to the given one."""
        url = urlsplit(env["DATABASE_URL"])
        base = url.path.lstrip("/") or "apiserver"
        self.db_name = f"{base}_{os.getpid()}"
        self.db_admin_url = urlunsplit(url._replace(path="/postgres"))
        import psycopg
        with psycopg.connect(self.db_admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{self.db_name}"')
        env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + self.db_name))

    def _start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if env.get("DATABASE_URL"):
            self._fresh_database(env)
        self.port = free_port()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "up", "--data-dir", str(self.data),
                 "--secure-port", str(self.port), *self.up_args],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        marker = f"serving on https://127.0.0.1:{self.port}"
        while marker not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("server did not start:\n" + self.log_tail())
            time.sleep(0.2)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def children(self, marker: str) -> list[int]:
        """PIDs of up's direct children whose command line contains ``marker``."""
        return child_pids(self.proc.pid, marker)

    def db_backend_pids(self) -> list[int]:
        """PostgreSQL backend PIDs connected to this run's database (none on SQLite), so
        their CPU can be told apart from other users of the same PostgreSQL server."""
        if not self.db_name:
            return []
        import psycopg
        with psycopg.connect(self.db_admin_url, autocommit=True) as c:
            rows = c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                             (self.db_name,)).fetchall()
        return sorted(r[0] for r in rows)

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)      # up stops its workers first
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            try:                                       # any worker up did not reap
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        if self.db_name:
            try:
                import psycopg
                with psycopg.connect(self.db_admin_url, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            except Exception as e:   # noqa: BLE001 - cleanup must not hide the results
                print(f"could not drop {self.db_name}: {e}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- /proc
def child_pids(parent: int, marker: str) -> list[int]:
    """Direct children of ``parent`` whose /proc cmdline contains ``marker`` (the workers
    run in their own sessions, so they are found by parent, not by process group)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read().replace(b"\0", b" "):
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue                                   # exited while we looked
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (/proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for {pid}")


# ----------------------------------------------------------------------------- API helpers
def ready(obj: dict) -> bool:
    """The object (Pod or Node) has condition Ready=True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in obj.get("status", {}).get("conditions") or [])


async def retrying(call, *args, **kwargs):
    """``call(*args)``, again after a 429 (max-in-flight), as client-go honours Retry-After."""
    from apiserver.client import ApiError
    while True:
        try:
            return await call(*args, **kwargs)
        except ApiError as exc:
            if exc.code != 429:
                raise
            await asyncio.sleep(exc.retry_after or 1.0)


async def wait_nodes_ready(client, n: int, timeout: float = 180) -> None:
    """Return once ``n`` Nodes are Ready; ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        got = sum(ready(x) for x in (await retrying(client.list, "/api/v1/nodes"))["items"])
        if got >= n:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"only {got}/{n} nodes became Ready")


def request_counts(kubeconfig) -> dict:
    """The API server's ``apiserver_request_total`` (its ``/metrics``), summed per
    ``(verb, resource, subresource)``: the requests it has answered so far."""
    import re
    import http.client
    from urllib.parse import urlsplit
    from apiserver.client import load_kubeconfig
    cfg = load_kubeconfig(kubeconfig)
    u = urlsplit(cfg.server)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=cfg.ssl_context(), timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out: dict = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        key = (labels["verb"], labels["resource"], labels["subresource"])
        out[key] = out.get(key, 0) + int(line.rsplit(" ", 1)[1])
    return out


def request_delta(before: dict, after: dict) -> dict:
    """The requests answered between two ``request_counts`` snapshots, per key (keys whose
    count did not change are left out)."""
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if after.get(k, 0) != before.get(k, 0)}


def request_kind(key: tuple) -> str:
    """``(verb, resource, subresource)`` as one label: ``POST pods/binding``, ``LIST pods``,
    ``GET (non-resource)`` for discovery, health checks and the like."""
    verb, resource, subresource = key
    if not resource:
        return f"{verb} (non-resource)"
    return f"{verb} {resource}/{subresource}" if subresource else f"{verb} {resource}"


def requests_per_pod(delta: dict, pods: int, top: int = 8) -> dict:
    """Summary of a ``request_delta`` over a window that started ``pods`` pods: the total,
    the total per pod, and the ``top`` request kinds by count, each per pod (largest first).
    Everything the server answered in the window is in it, the bench client's own requests
    and per-second background (node leases, status heartbeats) included."""
    total = sum(delta.values())
    kinds: dict = {}
    for key, n in delta.items():
        kind = request_kind(key)
        kinds[kind] = kinds.get(kind, 0) + n
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {"requests": total, "requests_per_pod": round(total / max(pods, 1), 2),
            "top_per_pod": {k: round(n / max(pods, 1), 2) for k, n in ranked}}


def format_requests(summary: dict) -> str:
    """A ``requests_per_pod`` result on one line: ``14.2 requests/pod (14,200): POST
    pods/binding 1.0, ...``."""
    top = ", ".join(f"{k} {v}" for k, v in summary["top_per_pod"].items())
    return (f"{summary['requests_per_pod']} requests/pod ({summary['requests']:,}): {top}")
