"""A namespace deletion cut short by a crash is finished after the restart: the server
alone only marks the namespace (as kube-apiserver without kube-controller-manager); the
namespace controller of a controller manager started against the restarted server finds the
Terminating namespace in its first list and deletes its content (upstream's re-lists the same
way, kubernetes/kubernetes:pkg/controller/namespace/namespace_controller.go)."""
from __future__ import annotations

import sqlite3
import time

import psycopg

from controller_support import controller_manager
from watch_support import ServerGroup, Writer, new_namespace

CONFIGMAPS = 30          # the server alone deletes none of them: a few suffice


def stored_configmaps(group: ServerGroup, namespace: str) -> int:
    """Count the namespace's ConfigMaps straight from the database (no server runs)."""
    sql = "SELECT count(*) FROM apiserver_object WHERE resource = 'configmaps' AND namespace = "
    if group.db_url:
        with psycopg.connect(group.db_url) as conn:
            return conn.execute(sql + "%s", [namespace]).fetchone()[0]
    with sqlite3.connect(group.data_dir / "db.sqlite3") as conn:
        return conn.execute(sql + "?", [namespace]).fetchone()[0]


def test_a_restarted_server_finishes_a_namespace_deletion():
    group = ServerGroup()
    try:
        first = group.start()
        ns = new_namespace(first)
        writer = Writer(first)
        for i in range(CONFIGMAPS):
            status, body = writer.call("POST", f"/api/v1/namespaces/{ns}/configmaps",
                                       {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": f"cm-{i}"}, "data": {"k": "v"}})
            assert status == 201, body
        first.kubectl("delete", "namespace", ns, "--wait=false")
        time.sleep(0.5)
        # no controller manager: the server itself deletes nothing
        assert first.get_json(f"/api/v1/namespaces/{ns}")["status"]["phase"] == "Terminating"
        first.proc.kill()                          # crash with the deletion pending
        first.proc.wait()
        assert stored_configmaps(group, ns) == CONFIGMAPS

        # ``up`` (not ``apiserver``) writes admin.kubeconfig for the new port
        second = group.start(command="up")
        with controller_manager(second, "--controllers=namespace"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status, _, _ = second.request("GET", f"/api/v1/namespaces/{ns}")
                if status == 404:
                    break
                time.sleep(0.2)
        assert status == 404, f"namespace {ns} still there 60 s after the restart"
        assert stored_configmaps(group, ns) == 0
        out = second.kubectl("--server", f"https://127.0.0.1:{second.port}", "get", "configmaps",
                             "-n", ns, "-o", "name").stdout
        assert out.strip() == ""
    finally:
        group.stop()
