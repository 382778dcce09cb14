"""A controller manager of a test's own beside ``up``'s: for controllers the session
server leaves out (the root-CA publisher) or runs with other flags."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# ``up`` flag for test servers: every controller but the root-CA publisher, whose
# kube-root-ca.crt in every namespace would be in every ConfigMap list and watch the
# tests compare; its own test runs it (tests/e2e/test_rootcacertpublisher.py)
WITHOUT_ROOT_CA = "--kube-controller-manager-arg=--controllers=*,-root-ca-certificate-publisher"


@contextlib.contextmanager
def controller_manager(server, *flags: str, log_name: str = "controller-manager.log"):
    """Run ``manage.py controller-manager --kubeconfig <admin> FLAGS`` until the block
    ends; it must stop on SIGTERM within 10 s."""
    log = open(server.data_dir / log_name, "wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "controller-manager", "--kubeconfig",
                             str(server.kubeconfig), *flags], cwd=REPO_ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the controller manager did not stop on SIGTERM") from None
        finally:
            log.close()


def wait_for(predicate, timeout: float = 30.0, what: str | None = None, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout``
    passes (its last value is returned; with ``what``, a timeout fails the test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    value = predicate()
    if what is not None:
        assert value, f"timed out waiting for {what}"
    return value
