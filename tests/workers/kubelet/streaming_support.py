"""Helpers for the kubelet streaming tests (tests/workers/kubelet/test_streaming*.py).  This
module holds no tests.

* ``SubprocessRuntime``: a runtime implementing the streaming contract of
  ``workers/kubelet/runtime.py`` with real processes (``asyncio.create_subprocess_exec``,
  a pseudo-terminal for tty sessions) and real TCP connections for port-forward, so exec,
  attach and port-forward run for real whatever runtime the kubelet ships.  A "container"
  is a shell loop answering ``got <line>`` for each stdin line (what attach joins); its
  logs are the ``LogLine``s a test appends (``add_log``), ``end_log`` ending a follow.
* ``Host``: what ``KubeletServer`` needs of the kubelet (``node_name``, ``workers``,
  ``runtime``, ``stats``), with pods added as running ``PodWorker``s.
* ``serve(host, pki, review_client)``: the real ``KubeletServer`` on ``HttpsServer`` over
  TLS on a free port, with the delegated authenticator (x509 of ``pki``'s client CA) and
  authorizer (reviews by the in-process API server of ``review_client``).
* ``https_get``: one GET over TLS, the body de-chunked; ``client_ssl``: client contexts.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import ssl
import struct
import termios

from workers.kubelet import status as st
from workers.kubelet.pods import PodWorker
from workers.kubelet.runtime import (ContainerNotRunning, ContainerStream, Image, LogLine,
                                     ProbeResult, PullResult, Runtime)
from workers.kubelet.server import KubeletServer
from workers.kubelet.usage import Stats
from workers.serving.delegated import DelegatedAuthenticator, DelegatedAuthorizer
from workers.serving.https import HttpsServer

ATTACH_LOOP = 'while read -r l; do echo "got $l"; done; exit 7'


class ProcessStream(ContainerStream):
    """One process: pipes, or a pseudo-terminal (stdout only, resizable)."""

    def __init__(self, proc, tty: bool, master: int | None = None, owned: bool = True):
        self.proc, self.tty, self.master, self.owned = proc, tty, master, owned
        self.sizes: list[tuple[int, int]] = []
        self.closed = False
        self._out: asyncio.Queue = asyncio.Queue()
        if master is not None:
            asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self):
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self._out.put_nowait(data)

    async def read_stdout(self) -> bytes:
        if self.tty:
            return await self._out.get()
        return await self.proc.stdout.read(65536)

    async def read_stderr(self) -> bytes:
        if self.tty:
            return b""
        return await self.proc.stderr.read(65536)

    async def write_stdin(self, data: bytes) -> None:
        if self.tty:
            os.write(self.master, data)
        elif self.proc.stdin is not None:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.tty:
            os.write(self.master, b"\x04")
        elif self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))
        if self.master is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width,
                                                                     0, 0))

    async def wait(self) -> int:
        return await self.proc.wait()

    async def close(self) -> None:
        self.closed = True
        if self.owned and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class SubprocessRuntime(Runtime):
    name = "subprocess"

    def __init__(self):
        self.containers: dict[str, asyncio.subprocess.Process] = {}
        self.log_lines: dict[str, list[LogLine]] = {}
        self.log_ended: dict[str, asyncio.Event] = {}
        self.sessions: list[ProcessStream] = []
        self.forwarded: list[tuple[dict, int]] = []

    # -- the lifecycle (enough for the tests: a container is one shell loop) --------------
    async def start(self, cid: str) -> None:
        self.containers[cid] = await asyncio.create_subprocess_exec(
            "sh", "-c", ATTACH_LOOP, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        self.log_lines.setdefault(cid, [])
        self.log_ended.setdefault(cid, asyncio.Event())

    async def stop_all(self) -> None:
        for proc in self.containers.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def pull_image(self, image, policy):
        return PullResult(image, 0, 0.0, True)

    def has_image(self, image):
        return True

    async def create_container(self, pod, container, attempt, *, init=False):
        return f"{container.get('name')}-{attempt}"

    async def start_container(self, cid):
        await self.start(cid)

    async def wait_container(self, cid):
        return await self.containers[cid].wait()

    async def stop_container(self, cid, grace):
        proc = self.containers.get(cid)
        if proc is not None and proc.returncode is None:
            proc.kill()
        return await proc.wait() if proc is not None else 0

    async def remove_pod(self, uid):
        pass

    async def list_images(self):
        return [Image("sha256:0")]

    async def probe(self, cid, kind, probe, host):
        return ProbeResult(True)

    # -- streaming ------------------------------------------------------------------------
    async def exec(self, cid, command, *, stdin, tty):
        if cid not in self.containers:
            raise ContainerNotRunning(cid)
        if tty:
            master, slave = os.openpty()
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
            os.close(slave)
            stream = ProcessStream(proc, True, master)
        else:
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            stream = ProcessStream(proc, False)
        self.sessions.append(stream)
        return stream

    async def attach(self, cid, *, stdin, tty):
        proc = self.containers.get(cid)
        if proc is None or proc.returncode is not None:
            raise ContainerNotRunning(cid)
        stream = ProcessStream(proc, False, owned=False)
        self.sessions.append(stream)
        return stream

    def add_log(self, cid: str, time: str, text: str, stream: str = "stdout") -> None:
        self.log_lines.setdefault(cid, []).append(LogLine(time, stream, text.encode()))
        self.log_ended.setdefault(cid, asyncio.Event())

    def end_log(self, cid: str) -> None:
        self.log_ended[cid].set()

    def logs(self, cid, *, follow):
        lines, ended = self.log_lines.get(cid, []), self.log_ended.get(cid)

        async def read():
            sent = 0
            while True:
                while sent < len(lines):
                    yield lines[sent]
                    sent += 1
                if not follow or ended is None or ended.is_set():
                    if sent == len(lines):
                        return
                    continue
                await asyncio.sleep(0.02)
        return read()

    async def port_forward(self, pod, port):
        self.forwarded.append((pod, port))
        return await asyncio.open_connection("127.0.0.1", port)


class Host:
    node_name = "node-1"

    def __init__(self, runtime):
        self.runtime = runtime
        self.workers: dict[str, PodWorker] = {}
        self.stats = Stats()

    def add_pod(self, name: str, containers: dict[str, str], namespace: str = "ns",
                uid: str | None = None, state: str = st.RUNNING) -> PodWorker:
        """A pod whose containers (name → container id) are in ``state``."""
        uid = uid or f"uid-{name}"
        w = PodWorker(None, {"metadata": {"namespace": namespace, "name": name, "uid": uid},
                             "spec": {"containers": [{"name": c, "image": "busybox"}
                                                     for c in containers]}})
        w.start_time = "2026-01-01T00:00:00Z"
        for rec in w.containers:
            rec.state, rec.container_id = state, containers[rec.name]
            rec.started_at = w.start_time
        self.workers[uid] = w
        return w


def client_ssl(pki, who: str | None = "admin") -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki["serving_cert"])
    if who:
        ctx.load_cert_chain(*map(str, pki[who]))
    return ctx


@contextlib.asynccontextmanager
async def serve(host, pki, review_client):
    authn = DelegatedAuthenticator(Unreachable(), pki["ca_file"])
    authz = DelegatedAuthorizer(review_client, always_allow_paths=(), always_allow_groups=())
    server = HttpsServer(KubeletServer(host, authn, authz), "127.0.0.1", 0,
                         pki["serving_cert"], pki["serving_key"], [pki["ca_file"]],
                         name="kubelet")
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop()


class Unreachable:
    async def create(self, path, body):
        raise OSError("connection refused")


async def https_get(port, path, ctx, headers=(), method="GET", timeout=10.0):
    """(status, headers, body) of one request (``Connection: close``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(status_line.split()[1]), hdrs, body


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2:]
    return bytes(out)


async def echo_server():
    """A TCP server on a free port that echoes each connection until its EOF."""
    async def handle(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def make_pki(directory) -> dict:
    """The kubelet's serving pair and a client CA with ``admin`` (system:masters) and
    ``node2`` (a node: not allowed to use another kubelet's API) certificates."""
    from tests.certs import CA
    from workers.serving.selfsigned import self_signed

    ca = CA("client-ca")
    cert, key = self_signed("localhost", ["127.0.0.1"], str(directory))
    return {"ca_file": str(ca.write(directory / "client-ca.crt")),
            "serving_cert": cert, "serving_key": key,
            "admin": ca.write_pair(directory, "admin", "admin", ["system:masters"]),
            "node2": ca.write_pair(directory, "node2", "system:node:node-2",
                                   ["system:nodes"])}
