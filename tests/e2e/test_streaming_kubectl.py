"""kubectl and the Python client through the API server to a real kubelet API.

The kubelet here is the real ``KubeletServer`` (workers/kubelet/server.py) on its HTTPS
server, with a serving certificate of the cluster CA for its node, the cluster CA as its
client CA (so it authenticates the API server's kube-apiserver-kubelet-client certificate)
and the test runtime of tests/workers/kubelet/streaming_support.py, whose exec and attach
run real processes on this machine and whose port-forward dials 127.0.0.1.  So these tests
cover the whole path a user's stream takes: kubectl (websocket v5, SPDY fallback,
SPDY-over-websocket port-forward, plain SPDY port-forward) → authentication, authorization,
admission → the API server's take-over of the connection → the kubelet → a process.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.certs import CA
from tests.workers.kubelet.streaming_support import Host, SubprocessRuntime, Unreachable
from workers.kubelet.server import KubeletServer
from workers.serving.delegated import DelegatedAuthenticator, DelegatedAuthorizer
from workers.serving.https import HttpsServer

from conftest import KUBECTL


class Kubelet:
    """A kubelet API on its own event loop thread, and its Node in the API server."""

    def __init__(self, server):
        self.server = server
        self.node = f"kl-{uuid.uuid4().hex[:6]}"
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        d = Path(tempfile.mkdtemp(prefix="kubelet-e2e-"))
        pki = server.data_dir / "pki"
        cert, key = CA.from_pki(pki).write_pair(d, "serving", self.node, client=False,
                                                hosts=(self.node, "127.0.0.1"))
        self.runtime = SubprocessRuntime()
        self.host = Host(self.runtime)
        self.host.node_name = self.node
        authn = DelegatedAuthenticator(Unreachable(), str(pki / "ca.crt"))
        authz = DelegatedAuthorizer(Unreachable(), always_allow_paths=(),
                                    always_allow_groups=("system:masters",))
        self.https = HttpsServer(KubeletServer(self.host, authn, authz), "127.0.0.1", 0,
                                 str(cert), str(key), [str(pki / "ca.crt")], name="kubelet")
        self.run(self.https.start())
        status, _, body = server.request("POST", "/api/v1/nodes", body={
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": self.https.port}}}})
        assert status == 201, body

    def run(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def pod(self, namespace, name, containers=("app",)):
        """A Running pod on this node whose containers are live processes here."""
        status, _, body = self.server.request(
            "POST", f"/api/v1/namespaces/{namespace}/pods", body={
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": self.node,
                         "containers": [{"name": c, "image": "busybox"} for c in containers]}})
        assert status == 201, body
        pod = self.server.get_json(f"/api/v1/namespaces/{namespace}/pods/{name}")
        pod["status"] = {"phase": "Running", "podIP": "10.244.9.9"}
        status, _, body = self.server.request(
            "PUT", f"/api/v1/namespaces/{namespace}/pods/{name}/status", body=pod)
        assert status == 200, body
        cids = {c: f"{namespace}-{name}-{c}" for c in containers}
        self.host.add_pod(name, cids, namespace=namespace, uid=pod["metadata"]["uid"])

        async def start():
            for cid in cids.values():
                await self.runtime.start(cid)
        self.run(start())
        return cids

    def close(self):
        self.run(self.runtime.stop_all())
        self.run(self.https.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.server.request("DELETE", f"/api/v1/nodes/{self.node}")


@pytest.fixture(scope="module")
def kubelet(server):
    k = Kubelet(server)
    yield k
    k.close()


def _kubectl(server, *args, input=None, env=None, timeout=30):
    e = dict(os.environ, KUBECONFIG=str(server.kubeconfig), **(env or {}))
    return subprocess.run([KUBECTL, "--cache-dir", str(server.cache_dir), *args], input=input,
                          capture_output=True, text=True, env=e, timeout=timeout)


# ---- exec ---------------------------------------------------------------------------------

def test_kubectl_exec(server, namespace, kubelet):
    kubelet.pod(namespace, "p")
    cp = _kubectl(server, "exec", "p", "-n", namespace, "--", "echo", "hi")
    assert (cp.returncode, cp.stdout) == (0, "hi\n"), cp.stderr
    cp = _kubectl(server, "exec", "-i", "p", "-n", namespace, "--", "cat", input="abc\n")
    assert (cp.returncode, cp.stdout) == (0, "abc\n"), cp.stderr
    cp = _kubectl(server, "exec", "p", "-n", namespace, "--", "sh", "-c", "echo err >&2; exit 5")
    assert cp.returncode == 5, (cp.stdout, cp.stderr)
    assert "err\n" in cp.stderr and "command terminated with exit code 5" in cp.stderr


def test_kubectl_exec_over_spdy(server, namespace, kubelet):
    kubelet.pod(namespace, "s")
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    cp = _kubectl(server, "exec", "s", "-n", namespace, "--", "echo", "over", "spdy", env=env)
    assert (cp.returncode, cp.stdout) == (0, "over spdy\n"), cp.stderr
    cp = _kubectl(server, "exec", "-i", "s", "-n", namespace, "--", "cat", input="x\ny\n",
                  env=env)
    assert (cp.returncode, cp.stdout) == (0, "x\ny\n"), cp.stderr
    cp = _kubectl(server, "exec", "s", "-n", namespace, "--", "sh", "-c", "exit 3", env=env)
    assert cp.returncode == 3, cp.stderr


def test_kubectl_exec_picks_the_container(server, namespace, kubelet):
    kubelet.pod(namespace, "two", containers=("a", "b"))
    cp = _kubectl(server, "exec", "two", "-c", "b", "-n", namespace, "--", "echo", "in-b")
    assert (cp.returncode, cp.stdout) == (0, "in-b\n"), cp.stderr
    cp = _kubectl(server, "exec", "two", "-c", "zz", "-n", namespace, "--", "true")
    assert cp.returncode != 0
    assert "container zz is not valid for pod two" in cp.stderr, cp.stderr


def test_kubectl_cp_both_ways(server, namespace, kubelet, tmp_path):
    kubelet.pod(namespace, "c")
    remote = Path(tempfile.mkdtemp(prefix="kubectl-cp-"))
    src = tmp_path / "hello.txt"
    src.write_text("copied through exec\n")
    cp = _kubectl(server, "cp", str(src), f"{namespace}/c:{remote}/hello.txt")
    assert cp.returncode == 0, cp.stderr
    assert (remote / "hello.txt").read_text() == "copied through exec\n"
    back = tmp_path / "back.txt"
    cp = _kubectl(server, "cp", f"{namespace}/c:{remote}/hello.txt", str(back))
    assert cp.returncode == 0, cp.stderr
    assert back.read_text() == "copied through exec\n"


def test_kubectl_attach(server, namespace, kubelet):
    kubelet.pod(namespace, "att")
    cp = _kubectl(server, "attach", "-i", "att", "-n", namespace, input="one\n", timeout=30)
    assert "got one" in cp.stdout, (cp.stdout, cp.stderr)


# ---- logs ---------------------------------------------------------------------------------

def test_kubectl_logs_and_follow(server, namespace, kubelet):
    cids = kubelet.pod(namespace, "lg")
    cid = cids["app"]
    kubelet.runtime.add_log(cid, "2026-01-01T00:00:01.000000000Z", "first\n")
    kubelet.runtime.add_log(cid, "2026-01-01T00:00:02.000000000Z", "second\n")
    cp = _kubectl(server, "logs", "lg", "-n", namespace)
    assert (cp.returncode, cp.stdout) == (0, "first\nsecond\n"), cp.stderr
    cp = _kubectl(server, "logs", "lg", "-n", namespace, "--tail=1", "--timestamps")
    assert cp.stdout == "2026-01-01T00:00:02Z second\n", cp.stderr     # Go RFC3339Nano
    follow = subprocess.Popen([KUBECTL, "--cache-dir", str(server.cache_dir), "logs", "-f",
                               "lg", "-n", namespace], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, KUBECONFIG=str(server.kubeconfig)))
    try:
        assert follow.stdout.readline() == "first\n"
        assert follow.stdout.readline() == "second\n"
        kubelet.loop.call_soon_threadsafe(
            kubelet.runtime.add_log, cid, "2026-01-01T00:00:03.000000000Z", "third\n")
        assert follow.stdout.readline() == "third\n"
        kubelet.loop.call_soon_threadsafe(kubelet.runtime.end_log, cid)
        assert follow.wait(15) == 0
    finally:
        if follow.poll() is None:
            follow.kill()


# ---- port-forward -------------------------------------------------------------------------

@pytest.fixture
def echo_port():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_kubectl_port_forward(server, namespace, kubelet, echo_port, websockets):
    kubelet.pod(namespace, "pf")
    local = _free_port()
    proc = subprocess.Popen([KUBECTL, "--cache-dir", str(server.cache_dir), "port-forward",
                             "-n", namespace, "pod/pf", f"{local}:{echo_port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, KUBECONFIG=str(server.kubeconfig),
                                     KUBECTL_PORT_FORWARD_WEBSOCKETS=websockets))
    try:
        assert "Forwarding from 127.0.0.1" in proc.stdout.readline()
        for attempt in range(2):
            with socket.create_connection(("127.0.0.1", local), timeout=10) as conn:
                conn.sendall(b"ping %d" % attempt)
                got = b""
                deadline = time.monotonic() + 10
                while len(got) < 6 and time.monotonic() < deadline:
                    got += conn.recv(100)
            assert got == b"ping %d" % attempt
    finally:
        proc.terminate()
        proc.wait(10)


# ---- the Python client --------------------------------------------------------------------

@pytest.fixture(scope="module")
def core(server):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def test_python_client_stream_and_portforward(server, namespace, kubelet, core, echo_port):
    from kubernetes.stream import portforward, stream
    kubelet.pod(namespace, "py")
    out = stream(core.connect_get_namespaced_pod_exec, "py", namespace,
                 command=["echo", "from python"], stderr=True, stdin=False, stdout=True,
                 tty=False)
    assert out == "from python\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "py", namespace,
                  command=["sh", "-c", "cat; exit 4"], stderr=True, stdin=True, stdout=True,
                  tty=False, _preload_content=False)
    resp.write_stdin("piped\n")
    resp.update(timeout=2)
    resp.run_forever(timeout=0.5)
    deadline = time.monotonic() + 10
    out = ""
    while resp.is_open() and time.monotonic() < deadline:
        resp.update(timeout=1)
        out += resp.read_stdout() if resp.peek_stdout() else ""
        if "piped" in out:
            break
    resp.close()
    assert "piped" in out
    pf = portforward(core.connect_get_namespaced_pod_portforward, "py", namespace,
                     ports=str(echo_port))
    sock = pf.socket(echo_port)
    sock.settimeout(10)
    sock.sendall(b"python-pf")
    got = b""
    while len(got) < 9:
        got += sock.recv(100)
    assert got == b"python-pf"
    sock.close()
    assert pf.error(echo_port) is None


def test_websocket_exec_needs_get_and_spdy_needs_create(server, kubectl, namespace, kubelet):
    """Upstream 1.32 authorizes a websocket upgrade (GET) with ``get`` on pods/exec and the
    SPDY POST with ``create`` (the create check for websockets came with 1.35's
    AuthorizePodWebsocketUpgradeCreatePermission)."""
    kubelet.pod(namespace, "g")
    user = f"getter-{namespace}"
    kubectl("create", "role", "exec-get", "--verb=get", "--resource=pods,pods/exec",
            "-n", namespace)
    kubectl("create", "rolebinding", "exec-get", "--role=exec-get", f"--user={user}",
            "-n", namespace)
    deadline = time.monotonic() + 10
    while kubectl("auth", "can-i", "get", "pods/exec", "-n", namespace, "--as", user,
                  check=False).stdout.strip() != "yes":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cp = _kubectl(server, "--as", user, "exec", "g", "-n", namespace, "--", "echo", "ws")
    assert (cp.returncode, cp.stdout) == (0, "ws\n"), cp.stderr
    cp = _kubectl(server, "--as", user, "exec", "g", "-n", namespace, "--", "echo", "spdy",
                  env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert cp.returncode != 0
    assert f'User "{user}" cannot create resource "pods/exec"' in cp.stderr, cp.stderr


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_large_streams_pass_unchanged(server, namespace, kubelet, tmp_path, websockets):
    """20 MB each way through the taken-over connection (flow control on both legs)."""
    import hashlib
    kubelet.pod(namespace, f"big-{websockets}")
    data = os.urandom(20_000_000)
    src = tmp_path / "blob"
    src.write_bytes(data)
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig),
               KUBECTL_REMOTE_COMMAND_WEBSOCKETS=websockets)
    with open(src, "rb") as stdin:
        cp = subprocess.run([KUBECTL, "--cache-dir", str(server.cache_dir), "exec", "-i",
                             f"big-{websockets}", "-n", namespace, "--", "sha256sum"],
                            stdin=stdin, capture_output=True, env=env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    cp = subprocess.run([KUBECTL, "--cache-dir", str(server.cache_dir), "exec",
                         f"big-{websockets}", "-n", namespace, "--", "cat", str(src)],
                        capture_output=True, env=env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert hashlib.sha256(cp.stdout).hexdigest() == hashlib.sha256(data).hexdigest()
