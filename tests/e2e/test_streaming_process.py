"""``up --nodes 1 --node-runtime process``: pods' commands run as local processes, and
kubectl logs / logs -f / exec / exec -i / cp / port-forward and the Python client's
stream() and portforward() reach them through the API server and the kubelet."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from conftest import KUBECTL
from watch_support import ServerGroup


@pytest.fixture(scope="module")
def cluster():
    group = ServerGroup()
    try:
        yield group.start("--nodes", "1", "--node-runtime", "process")
    finally:
        group.stop()


@pytest.fixture(scope="module")
def ns(cluster):
    name = f"proc-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 30
    while cluster.request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] != 200:
        assert time.monotonic() < deadline, "no default service account"
        time.sleep(0.2)
    return name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cluster, ns, name, *command, port=None):
    """A pod running ``command`` here; waits until it is Running."""
    container = {"name": "main", "image": "busybox", "command": list(command)}
    if port:
        container["ports"] = [{"containerPort": port}]
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [container], "restartPolicy": "Never",
                 # up without the root-CA publisher here: no kube-root-ca.crt to mount
                 "automountServiceAccountToken": False}}))
    deadline = time.monotonic() + 30
    while True:
        status, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
        if status == 200 and json.loads(body).get("status", {}).get("phase") == "Running":
            return
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def _kubectl(cluster, *args, input=None, env=None, timeout=60):
    e = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig), **(env or {}))
    return subprocess.run([KUBECTL, "--cache-dir", str(cluster.cache_dir), *args],
                          input=input, capture_output=True, text=True, env=e, timeout=timeout)


def test_logs_and_follow(cluster, ns):
    _run(cluster, ns, "talker", "sh", "-c",
         "echo one; echo two; sleep 1; echo three; sleep 1; echo four")
    deadline = time.monotonic() + 10
    while _kubectl(cluster, "logs", "talker", "-n", ns).stdout.count("\n") < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert _kubectl(cluster, "logs", "talker", "-n", ns, "--tail=1").stdout in ("two\n",
                                                                               "three\n",
                                                                               "four\n")
    cp = _kubectl(cluster, "logs", "-f", "talker", "-n", ns, timeout=30)
    assert cp.stdout == "one\ntwo\nthree\nfour\n", cp.stderr


def test_exec_stdin_exit_codes_and_spdy(cluster, ns):
    _run(cluster, ns, "box", "sleep", "3600")
    for env in ({}, {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}):
        cp = _kubectl(cluster, "exec", "box", "-n", ns, "--", "echo", "hi", env=env)
        assert (cp.returncode, cp.stdout) == (0, "hi\n"), cp.stderr
        cp = _kubectl(cluster, "exec", "-i", "box", "-n", ns, "--", "cat", input="abc\n", env=env)
        assert (cp.returncode, cp.stdout) == (0, "abc\n"), cp.stderr
        cp = _kubectl(cluster, "exec", "box", "-n", ns, "--", "sh", "-c", "exit 5", env=env)
        assert cp.returncode == 5 and "command terminated with exit code 5" in cp.stderr, \
            cp.stderr


def test_cp_both_ways(cluster, ns, tmp_path):
    _run(cluster, ns, "files", "sleep", "3600")
    src = tmp_path / "in.bin"
    data = os.urandom(300_000)
    src.write_bytes(data)
    cp = _kubectl(cluster, "cp", str(src), f"{ns}/files:in.bin")
    assert cp.returncode == 0, cp.stderr
    out = _kubectl(cluster, "exec", "files", "-n", ns, "--", "sha256sum", "in.bin").stdout
    assert out.split()[0] == hashlib.sha256(data).hexdigest()
    back = tmp_path / "back.bin"
    cp = _kubectl(cluster, "cp", f"{ns}/files:in.bin", str(back))
    assert cp.returncode == 0, cp.stderr
    assert back.read_bytes() == data


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_port_forward(cluster, ns, websockets):
    port = _free_port()
    name = f"web-{websockets}"
    _run(cluster, ns, name, sys.executable, "-m", "http.server", str(port), "--bind",
         "127.0.0.1", port=port)
    local = _free_port()
    proc = subprocess.Popen([KUBECTL, "--cache-dir", str(cluster.cache_dir), "port-forward",
                             "-n", ns, f"pod/{name}", f"{local}:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, KUBECONFIG=str(cluster.kubeconfig),
                                     KUBECTL_PORT_FORWARD_WEBSOCKETS=websockets))
    try:
        assert "Forwarding from 127.0.0.1" in proc.stdout.readline()
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", local), timeout=10) as conn:
                    conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    got = b""
                    while chunk := conn.recv(65536):
                        got += chunk
                if got.startswith(b"HTTP/1.0 200"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the pod's server never answered"
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_client(cluster, ns):
    from kubernetes import client, config
    from kubernetes.stream import portforward, stream
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    core = client.CoreV1Api(client.ApiClient(cfg))
    port = _free_port()
    _run(cluster, ns, "py", sys.executable, "-c",
         "import socket\n"
         f"s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('127.0.0.1', {port})); s.listen(4)\n"
         "while True:\n"
         "    c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()\n", port=port)
    out = stream(core.connect_get_namespaced_pod_exec, "py", ns, command=["echo", "py-exec"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "py-exec\n"
    deadline = time.monotonic() + 20
    while True:
        pf = portforward(core.connect_get_namespaced_pod_portforward, "py", ns, ports=str(port))
        sock = pf.socket(port)
        sock.settimeout(10)
        try:
            sock.sendall(b"ping")
            got = sock.recv(100)
        except OSError:
            got = b""
        finally:
            sock.close()
        if got == b"PING":
            break
        assert time.monotonic() < deadline, pf.error(port)
        time.sleep(0.5)
