"""``manage.py controller-manager`` stops on SIGTERM even when its server is gone: informers
that can never sync, a lease release that cannot be sent, must not keep the process."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apiserver.pki import PKI

REPO_ROOT = Path(__file__).resolve().parents[3]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]          # nothing listens there once the socket closes


@pytest.mark.parametrize("flags", [(), ("--leader-elect",)])
def test_sigterm_ends_a_manager_whose_server_is_gone(tmp_path, flags):
    pki = PKI(tmp_path).ensure()
    kubeconfig = tmp_path / "cm.kubeconfig"
    pki.write_kubeconfig(kubeconfig, f"https://127.0.0.1:{closed_port()}")
    proc = subprocess.Popen([sys.executable, "manage.py", "controller-manager", "--kubeconfig",
                             str(kubeconfig), "--controllers", "replicaset", *flags],
                            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(3)                       # started, retrying its list or its lease
        assert proc.poll() is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert time.monotonic() - t0 < 10
        assert proc.returncode == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
