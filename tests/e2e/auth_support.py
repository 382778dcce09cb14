"""Helpers for the authentication e2e modules (``test_auth_*.py``); this module holds no tests."""
from __future__ import annotations

import base64
import json
import subprocess
import time

from conftest import KUBECTL


def token_kubectl(srv, directory, token, *args) -> subprocess.CompletedProcess:
    """kubectl with a kubeconfig of its own in ``directory``: the server's CA and ``token``."""
    path = directory / f"kubeconfig-{abs(hash(token))}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "u",
        "clusters": [{"name": "e2e", "cluster": {"server": srv.url,
                                                  "certificate-authority": str(srv.ca)}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "u", "context": {"cluster": "e2e", "user": "u"}}]}))
    return subprocess.run([KUBECTL, "--kubeconfig", str(path), "--cache-dir",
                           str(directory / "cache"), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def cert_kubectl(srv, directory, name, cert, *args, input=None) -> subprocess.CompletedProcess:
    """kubectl with a kubeconfig of its own in ``directory`` presenting the client
    certificate ``cert`` ((crt, key) paths), embedded; ``name`` keeps its files apart."""
    crt, key = cert
    safe = name.replace(":", "_")
    path = directory / f"{safe}.kubeconfig"
    if not path.exists():
        b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "u",
            "clusters": [{"name": "e2e", "cluster": {
                "server": srv.url, "certificate-authority-data": b64(srv.ca)}}],
            "users": [{"name": "u", "user": {"client-certificate-data": b64(crt),
                                             "client-key-data": b64(key)}}],
            "contexts": [{"name": "u", "context": {"cluster": "e2e", "user": "u"}}]}))
    return subprocess.run([KUBECTL, "--kubeconfig", str(path), "--cache-dir",
                           str(directory / f"cache-{safe}"), *map(str, args)],
                          capture_output=True, text=True, timeout=60, input=input)


def eventually(check, timeout: float = 15.0, interval: float = 0.1):
    """``check()``'s first truthy result within ``timeout`` (else its last): authorizers
    follow the change log, so a write reaches them a moment after its commit."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
