"""Helpers for the watch e2e modules (``test_watch_*.py``); this module holds no tests.

* ``ServerGroup``: one database (a fresh PostgreSQL database when ``DATABASE_URL`` is set,
  else a SQLite file in a shared data dir) and any number of server processes on it, each
  with its own flags and environment: ``up`` for the first, ``apiserver`` for more.  Stopped
  with SIGTERM (must exit within 10 s), the database dropped afterwards.
* ``WatchReader``: a raw HTTPS watch (``http.client``, admin client certificate) read line by
  line on a thread; every event is kept with its arrival time.
* ``Writer``: one keep-alive HTTPS connection issuing JSON requests.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from controller_support import WITHOUT_ROOT_CA
from conftest import (REPO_ROOT, START_TIMEOUT, STOP_TIMEOUT, Server, _create_pg_database,
                      _drop_pg_database, _free_port, _tail, _wait_ready)

ADMIN = {"Accept": "application/json"}


class ServerGroup:
    """Server processes sharing one database (and one data dir, hence one PKI)."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="apiserver-watch-e2e-"))
        self.data_dir = self.tmp / "data"
        self.data_dir.mkdir()
        self.base_url = os.environ.get("DATABASE_URL")
        self.pg_name = self.db_url = None
        if self.base_url:
            self.pg_name, self.db_url = _create_pg_database(self.base_url)
        self.servers: list[Server] = []
        self.logs = []

    @property
    def vendor(self) -> str:
        return "postgresql" if self.db_url else "sqlite"

    def start(self, *args: str, env: dict | None = None, command: str | None = None,
              workers: bool = False) -> Server:
        """Start one more server of the group.  ``up`` runs no controller manager unless
        ``workers`` (or ``--nodes``) asks for it: the tests of a server's own behaviour need
        none, and sixteen controllers' informers would only compete for the CPU."""
        command = command or ("up" if not self.servers else "apiserver")
        port = _free_port()
        e = dict(os.environ)
        e.pop("APISERVER_DATA_DIR", None)
        e.pop("DATABASE_URL", None)
        if self.db_url:
            e["DATABASE_URL"] = self.db_url
        e["PYTHONUNBUFFERED"] = "1"
        e.update(env or {})
        log_path = self.data_dir / f"server-{len(self.servers)}.log"
        log = open(log_path, "wb")
        self.logs.append(log)
        extra = []
        if command == "up" and "--no-workers" not in args:
            extra = [WITHOUT_ROOT_CA] if workers or "--nodes" in args else ["--no-workers"]
        proc = subprocess.Popen(
            [sys.executable, "manage.py", command, "--data-dir", str(self.data_dir),
             "--secure-port", str(port), *extra, *args],
            cwd=REPO_ROOT, env=e, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        cache_dir = self.tmp / f"kubectl-cache-{len(self.servers)}"
        cache_dir.mkdir()
        srv = Server(self.data_dir, port, log_path, proc, cache_dir)
        self.servers.append(srv)
        _wait_ready(srv, time.monotonic() + START_TIMEOUT)
        return srv

    def stop(self) -> None:
        problems = []
        for srv in reversed(self.servers):
            if srv.proc.poll() is None:
                srv.proc.send_signal(signal.SIGTERM)
                try:
                    code = srv.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    srv.proc.kill()
                    srv.proc.wait()
                    problems.append(f"port {srv.port}: no exit within {STOP_TIMEOUT:.0f}s of "
                                    f"SIGTERM\n{_tail(srv.log_path)}")
                    continue
                if code not in (0, -signal.SIGTERM):
                    problems.append(f"port {srv.port}: exit {code}\n{_tail(srv.log_path)}")
        for log in self.logs:
            log.close()
        if self.pg_name:
            _drop_pg_database(self.base_url, self.pg_name)
        shutil.rmtree(self.tmp, ignore_errors=True)
        assert not problems, "\n".join(problems)


def new_namespace(server: Server) -> str:
    name = f"w-{uuid.uuid4().hex[:10]}"
    status, _, data = server.request(
        "POST", "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status == 201, data
    return name


def list_rv(server: Server, path: str) -> tuple[str, list]:
    body = server.get_json(path)
    return body["metadata"]["resourceVersion"], body["items"]


class Writer:
    """One keep-alive connection; ``call`` returns (status, decoded JSON body)."""

    def __init__(self, server: Server):
        self.server = server
        self.conn = server.connection(timeout=60)

    def call(self, method: str, path: str, body=None, content_type="application/json"):
        headers = dict(ADMIN)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the keep-alive connection was closed by the server between requests: a
                # request that never reached it is safe to send once more
                if attempt:
                    raise
                self.conn.close()
                self.conn = self.server.connection(timeout=60)

    def close(self):
        self.conn.close()


class WatchReader:
    """``GET path`` (a watch) read on a thread.  ``events``: decoded lines in arrival order;
    ``arrivals``: monotonic arrival times; ``ended``: set when the server ended the stream."""

    def __init__(self, server: Server, path: str, headers: dict | None = None,
                 timeout: float = 60):
        self.path = path
        self.conn = server.connection(timeout=timeout)
        hdrs = dict(ADMIN)
        hdrs.update(headers or {})
        self.opened = time.monotonic()
        self.conn.request("GET", path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.events: list[dict] = []
        self.arrivals: list[float] = []
        self.raw_lines: list[bytes] = []
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self.closed_at: float | None = None
        self._changed = threading.Condition()
        if self.status != 200:
            self.body = self.resp.read()
            self.ended.set()
            return
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                self.raw_lines.append(line)
                event = json.loads(line)
                with self._changed:
                    self.events.append(event)
                    self.arrivals.append(time.monotonic())
                    self._changed.notify_all()
        except (OSError, ValueError, http.client.HTTPException) as exc:
            self.error = exc
        finally:
            self.closed_at = time.monotonic()
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def wait(self, predicate, timeout: float = 15) -> bool:
        """Wait until ``predicate(events)`` holds or the stream ends; returns its value."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or self.ended.is_set():
                    return bool(predicate(self.events))
                self._changed.wait(min(left, 0.2))
            return True

    def wait_count(self, n: int, timeout: float = 15) -> bool:
        return self.wait(lambda evs: len(evs) >= n, timeout)

    def close(self):
        """Drop the connection (the reader thread sees EOF or an error and ends)."""
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        if self.status == 200:
            self.thread.join(5)
        self.conn.close()


def summary(events: list[dict]) -> list[tuple]:
    """(type, resourceVersion, name) of each event: what ordering assertions compare."""
    return [(e["type"], int(e["object"]["metadata"]["resourceVersion"]),
             e["object"]["metadata"].get("name")) for e in events]
