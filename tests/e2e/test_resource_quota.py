"""ResourceQuota end to end: kubectl creates a quota, pods are refused past it with
upstream's message, get/describe show usage, and deleting a pod frees a slot (the
controller manager's resourcequota controller recomputes status.used; the ResourceQuota
admission plugin raises it on each create)."""
from __future__ import annotations

import re
import time

POD = """apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - {name: c, image: busybox, resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}}
"""


def _wait_used(kubectl, ns, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        out = kubectl("get", "quota", "q", "-n", ns, "-o",
                      "jsonpath={.status.used.pods}").stdout
        if out == want or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def _described(kubectl, ns) -> dict:
    """``kubectl describe quota q``'s table: resource -> (used, hard)."""
    out = kubectl("describe", "quota", "q", "-n", ns).stdout
    rows = re.findall(r"^(\S+)\s+(\S+)\s+(\S+)$", out.split("--------", 1)[-1], re.M)
    return {name: (used, hard) for name, used, hard in rows if not name.startswith("-")}


def test_quota_refuses_past_hard_and_a_delete_frees_a_slot(kubectl, namespace):
    ns = namespace
    kubectl("create", "quota", "q", "--hard=pods=2,requests.cpu=1", "-n", ns)
    # the controller fills status within seconds of the create
    assert _wait_used(kubectl, ns, "0", timeout=5.0) == "0"
    assert _described(kubectl, ns) == {"pods": ("0", "2"), "requests.cpu": ("0", "1")}
    kubectl("apply", "-n", ns, "-f", "-", input=POD % "p1")
    kubectl("apply", "-n", ns, "-f", "-", input=POD % "p2")
    refused = kubectl("apply", "-n", ns, "-f", "-", input=POD % "p3", check=False)
    assert refused.returncode != 0
    assert ('pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, '
            'limited: pods=2') in refused.stderr
    table = kubectl("get", "quota", "-n", ns).stdout
    assert table.split("\n")[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert "pods: 2/2, requests.cpu: 200m/1" in table
    assert _described(kubectl, ns) == {"pods": ("2", "2"), "requests.cpu": ("200m", "1")}
    kubectl("delete", "pod", "p1", "-n", ns, "--grace-period=0", "--force", "--wait=false")
    assert _wait_used(kubectl, ns, "1") == "1"
    assert _described(kubectl, ns) == {"pods": ("1", "2"), "requests.cpu": ("100m", "1")}
    kubectl("apply", "-n", ns, "-f", "-", input=POD % "p3")
