"""Helpers for the authentication e2e modules (``test_auth_*.py``); this module holds no tests."""
from __future__ import annotations

import json
import subprocess

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
