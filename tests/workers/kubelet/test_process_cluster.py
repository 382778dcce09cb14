"""``manage.py up --nodes 1 --node-runtime process``: a real server and a real kubelet whose
containers are local processes, driven with kubectl: exit codes and phases, CrashLoopBackOff,
init containers in order, env/envFrom/downward API, ConfigMap, Secret and token volumes, a missing ConfigMap
(CreateContainerConfigError), readiness and startup probes run for real, graceful deletion, and the
refusal to run the process runtime on a non-loopback address."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
KUBECTL = os.environ.get("E2E_KUBECTL", "/usr/bin/kubectl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "APISERVER_DATA_DIR", "KUBECONFIG")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Cluster:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.kubeconfig = data_dir / "admin.kubeconfig"
        self.log = open(data_dir.parent / "up.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--data-dir", str(data_dir),
             "--secure-port", str(_free_port()), "--nodes", "1", "--node-runtime", "process",
             "--kubelet-arg=--node-status-update-frequency=2",
             "--kubelet-arg=--sync-frequency=1"],
            cwd=REPO, env=_env(), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def kubectl(self, *args, input=None, check=True):
        env = {**_env(), "KUBECONFIG": str(self.kubeconfig),
               "KUBECACHEDIR": str(self.data_dir.parent / "kube-cache")}
        out = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True,
                             env=env, timeout=60)
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out

    def pod(self, name):
        out = self.kubectl("get", "pod", name, "-o", "json", check=False)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def until(fn, timeout=40.0, what="condition"):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data = tmp_path_factory.mktemp("process-cluster") / "data"
    c = Cluster(data)
    try:
        until(lambda: c.kubeconfig.exists() and "Ready" in c.kubectl(
            "get", "nodes", check=False).stdout.replace("NotReady", ""), timeout=90,
            what="node-1 Ready")
        # pods need the default ServiceAccount (the controller manager makes it)
        until(lambda: c.kubectl("get", "serviceaccount", "default", check=False)
              .returncode == 0, what="the default ServiceAccount")
        yield c
    finally:
        c.stop()


def status_of(cluster, name, container=0, key="containerStatuses"):
    pod = cluster.pod(name) or {}
    statuses = (pod.get("status") or {}).get(key) or []
    return pod.get("status") or {}, statuses[container] if len(statuses) > container else {}


def test_exit_code_3_ends_failed_with_error(cluster):
    cluster.kubectl("run", "hello", "--image=busybox", "--restart=Never", "--",
                    "sh", "-c", "echo hello; exit 3")
    status, cs = until(lambda: (s := status_of(cluster, "hello"))[0].get("phase") == "Failed"
                       and s, what="hello Failed")
    term = cs["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    assert cs["containerID"].startswith("process://")
    assert cluster.kubectl("logs", "hello").stdout == "hello\n"
    assert "Error" in cluster.kubectl("get", "pod", "hello").stdout


def test_crash_loop_shows_restarts_and_the_last_termination(cluster):
    cluster.kubectl("run", "crash", "--image=busybox", "--", "sh", "-c", "echo boom; exit 2")
    _, cs = until(lambda: (s := status_of(cluster, "crash"))[1].get("restartCount", 0) >= 1
                  and (s[1].get("state") or {}).get("waiting", {}).get("reason")
                  == "CrashLoopBackOff" and s, what="CrashLoopBackOff")
    assert cs["lastState"]["terminated"]["exitCode"] == 2
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert "back-off" in cs["state"]["waiting"]["message"]
    out = cluster.kubectl("get", "pod", "crash").stdout
    assert "CrashLoopBackOff" in out
    assert cluster.kubectl("logs", "crash", "--previous").stdout == "boom\n"
    cluster.kubectl("delete", "pod", "crash", "--wait=false")


def test_init_containers_env_and_volumes(cluster):
    cluster.kubectl("create", "configmap", "settings", "--from-literal=greeting=hi",
                    "--from-literal=colour=blue")
    cluster.kubectl("create", "secret", "generic", "creds", "--from-literal=password=s3cret")
    manifest = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "full", "labels": {"app": "full"}},
        "spec": {
            "restartPolicy": "Never",
            "initContainers": [
                {"name": "first", "image": "busybox",
                 "command": ["sh", "-c", "echo first >> /shared/order"],
                 "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
                {"name": "second", "image": "busybox",
                 "command": ["sh", "-c", "echo second >> /shared/order"],
                 "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}],
            "containers": [{
                "name": "main", "image": "busybox",
                "command": ["sh", "-c", "cat /shared/order; echo $GREETING $colour $POD $NS; "
                            "cat /etc/settings/greeting; echo; "
                            "test -s /var/run/secrets/kubernetes.io/serviceaccount/token && "
                            "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; "
                            "echo; echo $PASS; cat /etc/creds/password; echo; "
                            "echo ${MAYBE-unset} $BOTH"],
                "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {
                            "name": "settings", "key": "greeting"}}},
                        {"name": "POD", "valueFrom": {"fieldRef": {
                            "fieldPath": "metadata.name"}}},
                        {"name": "NS", "valueFrom": {"fieldRef": {
                            "fieldPath": "metadata.namespace"}}},
                        {"name": "PASS", "valueFrom": {"secretKeyRef": {
                            "name": "creds", "key": "password"}}},
                        {"name": "MAYBE", "valueFrom": {"configMapKeyRef": {
                            "name": "settings", "key": "nope", "optional": True}}},
                        {"name": "BOTH", "value": "$(GREETING)-$(CFG_colour)"}],
                "envFrom": [{"configMapRef": {"name": "settings"}},
                            {"prefix": "CFG_", "configMapRef": {"name": "settings"}},
                            {"secretRef": {"name": "absent", "optional": True}}],
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"},
                                 {"name": "settings", "mountPath": "/etc/settings"},
                                 {"name": "creds", "mountPath": "/etc/creds"}]}],
            "volumes": [{"name": "shared", "emptyDir": {}},
                        {"name": "settings", "configMap": {"name": "settings"}},
                        {"name": "creds", "secret": {"secretName": "creds"}}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    status, _ = until(lambda: (s := status_of(cluster, "full"))[0].get("phase")
                      in ("Succeeded", "Failed") and s, what="full finished")
    logs = cluster.kubectl("logs", "full").stdout
    assert status["phase"] == "Succeeded", logs
    assert logs.splitlines() == ["first", "second", "hi blue full default", "hi", "default",
                                    "s3cret", "s3cret", "unset hi-blue"]
    inits = status["initContainerStatuses"]
    assert [i["state"]["terminated"]["reason"] for i in inits] == ["Completed", "Completed"]


def test_a_failed_init_container_fails_the_pod_and_the_main_one_never_runs(cluster):
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-init"},
                "spec": {"restartPolicy": "Never",
                         "initContainers": [{"name": "setup", "image": "busybox",
                                             "command": ["sh", "-c", "echo nope; exit 4"]}],
                         "containers": [{"name": "app", "image": "busybox",
                                         "command": ["sh", "-c", "echo ran"]}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    status, init = until(lambda: (s := status_of(cluster, "bad-init", key="initContainerStatuses"))
                         [0].get("phase") == "Failed" and s, what="bad-init Failed")
    assert init["state"]["terminated"]["exitCode"] == 4
    assert "running" not in status["containerStatuses"][0]["state"]
    assert "terminated" not in status["containerStatuses"][0]["state"]
    assert cluster.kubectl("logs", "bad-init", "-c", "setup").stdout == "nope\n"
    assert "Init:Error" in cluster.kubectl("get", "pod", "bad-init").stdout


def test_volumes_of_a_running_pod_follow_their_configmap(cluster):
    cluster.kubectl("create", "configmap", "live", "--from-literal=a=1", "--from-literal=b=2")
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "live"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "app", "image": "busybox", "command": ["sleep", "600"],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/live"}]}],
            "volumes": [{"name": "cfg", "configMap": {"name": "live"}}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    until(lambda: status_of(cluster, "live")[0].get("phase") == "Running", what="Running")

    def files():
        out = cluster.kubectl("exec", "live", "--", "sh", "-c",
                              "for f in /etc/live/*; do echo $f=$(cat $f); done", check=False)
        return [line.rsplit("/", 1)[-1] for line in out.stdout.splitlines()]
    assert files() == ["a=1", "b=2"]
    cluster.kubectl("patch", "configmap", "live", "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/data/a", "value": "changed"},
        {"op": "remove", "path": "/data/b"}]))
    until(lambda: files() == ["a=changed"], timeout=20, what="the edited ConfigMap's files")
    cluster.kubectl("delete", "pod", "live", "--wait=false")


def test_a_missing_configmap_waits_with_create_container_config_error(cluster):
    cluster.kubectl("run", "needs", "--image=busybox", "--restart=Never",
                    "--overrides", json.dumps({"spec": {"containers": [{
                        "name": "needs", "image": "busybox", "command": ["true"],
                        "envFrom": [{"configMapRef": {"name": "later"}}]}]}}))
    # (the first attempt may meet the Node authorizer before its graph has the pod: the
    # retries then see the ConfigMap as absent)
    _, cs = until(lambda: (s := status_of(cluster, "needs"))[1].get("state", {})
                  .get("waiting", {}).get("message") == 'configmap "later" not found' and s,
                  what="CreateContainerConfigError")
    assert cs["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    cluster.kubectl("create", "configmap", "later", "--from-literal=x=1")
    until(lambda: status_of(cluster, "needs")[0].get("phase") == "Succeeded",
          what="needs Succeeded once the ConfigMap exists")


def test_readiness_probe_runs_and_deletion_is_graceful(cluster):
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ready"},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [{
            "name": "app", "image": "busybox",
            "command": ["sh", "-c", "trap 'echo term; exit 0' TERM; "
                        "while true; do sleep 0.2; done"],
            "readinessProbe": {"exec": {"command": ["test", "-e", "/tmp/ready-marker-x"]},
                               "periodSeconds": 1, "failureThreshold": 1}}]}}
    marker = Path("/tmp/ready-marker-x")
    marker.unlink(missing_ok=True)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    until(lambda: status_of(cluster, "ready")[0].get("phase") == "Running", what="Running")
    time.sleep(2)
    assert status_of(cluster, "ready")[1]["ready"] is False
    marker.write_text("")
    try:
        until(lambda: status_of(cluster, "ready")[1].get("ready") is True, what="ready")
        out = cluster.kubectl("exec", "ready", "--", "sh", "-c", "echo $HOSTNAME; exit 4",
                              check=False)
        assert out.stdout == "ready\n" and out.returncode == 4
    finally:
        marker.unlink(missing_ok=True)
    until(lambda: status_of(cluster, "ready")[1].get("ready") is False, what="unready")
    started = time.monotonic()
    cluster.kubectl("delete", "pod", "ready", "--timeout=30s")
    assert time.monotonic() - started < 10       # it handled SIGTERM


def test_a_failing_startup_probe_kills_and_restarts_the_container(cluster):
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slow-start"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "app", "image": "busybox", "command": ["sleep", "600"],
            "startupProbe": {"tcpSocket": {"port": _free_port()}, "periodSeconds": 1,
                             "failureThreshold": 2}}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    _, cs = until(lambda: (s := status_of(cluster, "slow-start"))[1].get("restartCount", 0)
                  >= 1 and s, what="a restart after the startup probe failed")
    assert cs["started"] is False and cs["ready"] is False
    # 137 when the sandbox makes sleep PID 1 (SIGTERM ignored), 143 without one
    assert cs["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = cluster.kubectl("get", "events", "--field-selector",
                             "involvedObject.name=slow-start").stdout
    assert "Startup probe failed: dial tcp 127.0.0.1:" in events
    assert "failed startup probe, will be restarted" in events
    cluster.kubectl("delete", "pod", "slow-start", "--wait=false")


def test_post_start_hooks_run_before_running_and_a_failure_restarts(cluster):
    ok = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hooked"},
          "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
              "name": "app", "image": "busybox", "workingDir": "/tmp",
              "command": ["sh", "-c", "sleep 1; cat hook-$HOSTNAME.txt; sleep 600"],
              "lifecycle": {"postStart": {"exec": {"command": [
                  "sh", "-c", "echo hook ran > /tmp/hook-$HOSTNAME.txt"]}}}}]}}
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-hook"},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
               "name": "app", "image": "busybox", "command": ["sleep", "600"],
               "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "exit 7"]}}}}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(ok))
    cluster.kubectl("apply", "-f", "-", input=json.dumps(bad))
    until(lambda: "hook ran" in cluster.kubectl("logs", "hooked", check=False).stdout,
          what="the container reading what its postStart hook wrote")
    _, cs = status_of(cluster, "hooked")
    assert "running" in cs["state"] and cs["restartCount"] == 0
    _, cs = until(lambda: (s := status_of(cluster, "bad-hook"))[1].get("restartCount", 0)
                  >= 1 and s, what="a restart after the postStart hook failed")
    assert cs["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = cluster.kubectl("get", "events", "--field-selector",
                             "involvedObject.name=bad-hook").stdout
    assert "FailedPostStartHook" in events and "PostStartHook failed" in events
    assert "exit 7" not in events              # the handler's message stays out of events
    cluster.kubectl("delete", "pod", "hooked", "bad-hook", "--wait=false")


def test_kubectl_debug_runs_a_shell_beside_the_pod(cluster):
    cluster.kubectl("run", "debugged", "--image=busybox", "--", "sleep", "600")
    until(lambda: status_of(cluster, "debugged")[0].get("phase") == "Running",
          what="debugged Running")
    out = cluster.kubectl("debug", "debugged", "-i", "--image=busybox", "-c", "dbg", "--",
                          "sh", "-c", "read line; echo got $line; exit 3",
                          input="hello\n", check=False)
    assert "got hello" in out.stdout, out.stderr
    status, _ = status_of(cluster, "debugged")
    (cs,) = until(lambda: (s := status_of(cluster, "debugged")[0]
                           .get("ephemeralContainerStatuses") or [])
                  and "terminated" in s[0]["state"] and s, what="dbg terminated")
    assert cs["state"]["terminated"]["exitCode"] == 3 and cs["restartCount"] == 0
    time.sleep(2)                                # it is never restarted
    (cs,) = status_of(cluster, "debugged")[0]["ephemeralContainerStatuses"]
    assert "terminated" in cs["state"] and cs["restartCount"] == 0
    cluster.kubectl("delete", "pod", "debugged", "--wait=false")


def test_process_runtime_refused_on_a_non_loopback_address(tmp_path):
    out = subprocess.run(
        [sys.executable, "manage.py", "up", "--data-dir", str(tmp_path / "d"), "--nodes", "1",
         "--node-runtime", "process", "--bind-address", "0.0.0.0",
         "--secure-port", str(_free_port())],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "--allow-process-runtime-on-non-loopback" in out.stderr


def test_up_passes_the_process_runtime_and_a_root_dir_per_node(tmp_path):
    from apiserver.management.commands.up import worker_children
    from apiserver.pki import PKI
    from workers.kubelet.config import KubeletConfig, add_arguments, configs_from
    import argparse

    children = worker_children(tmp_path, PKI(tmp_path).ensure(), "https://127.0.0.1:6443", 2,
                               10, "process", [])
    (kubelet,) = [c for c in children if c.name.startswith("kubelet")]
    argv = kubelet.argv
    assert argv[argv.index("--runtime") + 1] == "process"
    assert argv[argv.index("--root-dir") + 1] == str(tmp_path / "kubelets/{node}")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    a, b = configs_from(parser.parse_args(
        ["--kubeconfig", "k", "--node-name", "n1", "--node-name", "n2", "--runtime", "process",
         "--root-dir", "/srv/{node}", "--process-sandbox", "none", "--sync-frequency", "5"]))
    assert (a.root_dir, b.root_dir) == ("/srv/n1", "/srv/n2")
    assert a.runtime == "process" and a.process_sandbox == "none" and a.sync_frequency == 5
    assert KubeletConfig("n", "k").root_dir == ""
    with pytest.raises(ValueError, match="--allow-process-runtime-on-non-loopback"):
        configs_from(parser.parse_args(["--kubeconfig", "k", "--node-name", "n", "--runtime",
                                        "process", "--node-ip", "192.0.2.10"]))
    (c,) = configs_from(parser.parse_args(
        ["--kubeconfig", "k", "--node-name", "n", "--runtime", "process", "--node-ip",
         "192.0.2.10", "--allow-process-runtime-on-non-loopback"]))
    assert c.node_ip == "192.0.2.10"
