"""`kubectl get apiservices` against a real server: a local APIService for every served
group/version, SERVICE Local and AVAILABLE True, as upstream's autoregistration makes them."""
from __future__ import annotations

import json
import time


def test_kubectl_lists_the_local_apiservices(kubectl):
    deadline = time.monotonic() + 20
    while True:
        rows = [line.split() for line in kubectl("get", "apiservices").stdout.splitlines()[1:]]
        if (rows and all(r[2] == "True" for r in rows)) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    by_name = {r[0]: r for r in rows}
    groups = json.loads(kubectl("get", "--raw", "/apis").stdout)["groups"]
    want = {"v1."} | {f"{v['version']}.{g['name']}" for g in groups for v in g["versions"]}
    assert set(by_name) == want
    assert all(r[1] == "Local" and r[2] == "True" for r in rows), rows
    apps = json.loads(kubectl("get", "apiservice", "v1.apps", "-o", "json").stdout)
    assert apps["spec"]["groupPriorityMinimum"] == 17800
