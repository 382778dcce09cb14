"""Node registration objects, conditions and flags (workers/kubelet/node.py, config.py)."""
from __future__ import annotations

import argparse
import ipaddress

import pytest

from workers.kubelet import node as nd
from workers.kubelet.config import KubeletConfig, add_arguments, configs_from


def parse(*argv):
    p = argparse.ArgumentParser()
    add_arguments(p)
    return configs_from(p.parse_args(["--kubeconfig", "k-{node}", *argv]))


def test_pod_cidr_is_a_deterministic_24_of_the_cluster_range():
    cidr = nd.pod_cidr_for("node-a")
    assert cidr == nd.pod_cidr_for("node-a")
    net = ipaddress.ip_network(cidr)
    assert net.prefixlen == 24 and net.subnet_of(ipaddress.ip_network("10.244.0.0/16"))
    assert len({nd.pod_cidr_for(f"n{i}") for i in range(50)}) > 30


def test_initial_node():
    cfg = KubeletConfig("node-1", "k", cpu="4", memory="8Gi", pods="20", node_roles=("worker",),
                        node_labels={"zone": "a"}, pod_cidr="10.244.7.0/24", port=10251)
    n = nd.initial_node(cfg, "boot", "2026-01-01T00:00:00Z")
    labels = n["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node-1"
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"]
    assert labels["node-role.kubernetes.io/worker"] == "" and labels["zone"] == "a"
    assert n["spec"] == {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24"]}
    s = n["status"]
    assert s["capacity"] == s["allocatable"]
    assert {k: s["capacity"][k] for k in ("cpu", "memory", "pods")} == \
        {"cpu": "4", "memory": "8Gi", "pods": "20"}
    assert s["addresses"] == [{"type": "InternalIP", "address": "127.0.0.1"},
                              {"type": "Hostname", "address": "node-1"}]
    assert s["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10251}}
    assert s["nodeInfo"]["kubeletVersion"] == nd.KUBELET_VERSION
    assert s["nodeInfo"]["bootID"] == "boot" and s["nodeInfo"]["operatingSystem"] == "linux"


def test_conditions_carry_upstream_reasons_and_keep_transition_times():
    first = nd.node_conditions(None, "t1")
    c = {x["type"]: x for x in first}
    assert c["Ready"] == {"type": "Ready", "status": "True", "reason": "KubeletReady",
                          "message": "kubelet is posting ready status",
                          "lastHeartbeatTime": "t1", "lastTransitionTime": "t1"}
    assert (c["MemoryPressure"]["status"], c["MemoryPressure"]["reason"],
            c["MemoryPressure"]["message"]) == (
        "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
    assert c["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"
    assert c["PIDPressure"]["message"] == "kubelet has sufficient PID available"
    later = {x["type"]: x for x in nd.node_conditions(first, "t2")}
    assert later["Ready"]["lastHeartbeatTime"] == "t2"
    assert later["Ready"]["lastTransitionTime"] == "t1"
    was_unknown = [{**c["Ready"], "status": "Unknown", "reason": "NodeStatusUnknown"}]
    assert {x["type"]: x for x in nd.node_conditions(was_unknown, "t3")}[
        "Ready"]["lastTransitionTime"] == "t3"


def test_status_is_posted_on_change_not_on_heartbeat_alone():
    cfg = KubeletConfig("n", "k")
    old = nd.node_status(cfg, None, "b", "t1")
    assert not nd.status_changed(old, nd.node_status(cfg, old, "b", "t2"))
    assert nd.status_changed(old, nd.node_status(KubeletConfig("n", "k", cpu="2"), old, "b", "t2"))
    assert nd.status_changed(None, old)


def test_flags_make_one_config_per_node():
    a, b = parse("--node-name", "a", "--node-name", "b", "--pod-cidr", "10.244.1.0/24",
                 "--pod-cidr", "10.244.2.0/24", "--port", "10300", "--cpu", "2",
                 "--node-labels", "x=1,y=2", "--lease-renew-interval", "2")
    assert (a.kubeconfig, b.kubeconfig) == ("k-a", "k-b")
    assert (a.pod_cidr, b.pod_cidr) == ("10.244.1.0/24", "10.244.2.0/24")
    assert (a.port, b.port) == (10300, 10301)
    assert a.cpu == "2" and a.node_labels == {"x": "1", "y": "2"}
    assert a.renew_interval == 2
    assert parse("--node-name", "c")[0].renew_interval == 10      # a quarter of 40 s


@pytest.mark.parametrize("argv, message", [
    (["--node-name", "Bad_Name"], "lowercase RFC 1123"),
    (["--node-name", "a", "--node-name", "a"], "once"),
    (["--node-name", "a", "--node-name", "b", "--pod-cidr", "10.244.1.0/24"], "one per"),
    (["--node-name", "a", "--pod-cidr", "nonsense"], "not a CIDR"),
])
def test_bad_flags_are_refused_with_a_message(argv, message):
    with pytest.raises(ValueError, match=message):
        parse(*argv)
