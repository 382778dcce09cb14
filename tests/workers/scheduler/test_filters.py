"""Each Filter plugin on plain dicts: the node passes (None) or fails with upstream's reason
and code."""
from __future__ import annotations

from workers.scheduler import affinity, filters, spread
from workers.scheduler.framework import CycleState
from workers.scheduler.nodeinfo import pod_requests

from .helpers import infos, node, pod


def run(fn, p, nodes, pods=(), on=None):
    inf = infos(nodes, pods)
    state = CycleState(p, inf)
    return fn(p, inf[on or nodes[0]["metadata"]["name"]], state)


def test_node_unschedulable_unless_tolerated():
    n = node("n1", unschedulable=True)
    st = run(filters.node_unschedulable, pod("p"), [n])
    assert st.code == filters.UNRESOLVABLE and st.reasons == ["node(s) were unschedulable"]
    tol = pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                 "operator": "Exists", "effect": "NoSchedule"}])
    assert run(filters.node_unschedulable, tol, [n]) is None
    assert run(filters.node_unschedulable, pod("p"), [node("n2")]) is None


def test_node_name():
    st = run(filters.node_name, pod("p", nodeName="other"), [node("n1")])
    assert st.reasons == ["node(s) didn't match the requested node name"]
    assert run(filters.node_name, pod("p", nodeName="n1"), [node("n1")]) is None


def test_taints_and_tolerations():
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    n = node("n1", taints=[taint])
    st = run(filters.taint_toleration, pod("p"), [n])
    assert st.code == filters.UNRESOLVABLE
    assert st.reasons == ["node(s) had untolerated taint {dedicated: gpu}"]
    ok = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    assert run(filters.taint_toleration, pod("p", tolerations=ok), [n]) is None
    assert run(filters.taint_toleration, pod("p", tolerations=[{"operator": "Exists"}]), [n]) is None
    wrong = [{"key": "dedicated", "operator": "Equal", "value": "cpu"}]
    assert run(filters.taint_toleration, pod("p", tolerations=wrong), [n]) is not None
    soft = node("n2", taints=[{"key": "k", "effect": "PreferNoSchedule"}])
    assert run(filters.taint_toleration, pod("p"), [soft]) is None
    noexec = node("n3", taints=[{"key": "k", "effect": "NoExecute"}])
    assert run(filters.taint_toleration, pod("p"), [noexec]).reasons == \
        ["node(s) had untolerated taint {k: }"]


def test_node_selector_and_required_affinity():
    n = node("n1", labels={"zone": "a", "gpus": "4"})
    assert run(filters.node_affinity, pod("p", nodeSelector={"zone": "a"}), [n]) is None
    st = run(filters.node_affinity, pod("p", nodeSelector={"zone": "b"}), [n])
    assert st.code == filters.UNRESOLVABLE
    assert st.reasons == ["node(s) didn't match Pod's node affinity/selector"]

    def aff(*exprs, fields=()):
        term = {"matchExpressions": list(exprs)}
        if fields:
            term["matchFields"] = list(fields)
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                 {"nodeSelectorTerms": [term]}}}
    cases = [({"key": "zone", "operator": "In", "values": ["a", "c"]}, True),
             ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
             ({"key": "zone", "operator": "Exists"}, True),
             ({"key": "ssd", "operator": "DoesNotExist"}, True),
             ({"key": "gpus", "operator": "Gt", "values": ["3"]}, True),
             ({"key": "gpus", "operator": "Lt", "values": ["3"]}, False)]
    for expr, fits in cases:
        st = run(filters.node_affinity, pod("p", affinity=aff(expr)), [n])
        assert (st is None) == fits, expr
    by_name = aff(fields=[{"key": "metadata.name", "operator": "In", "values": ["n1"]}])
    by_name["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0].pop("matchExpressions")
    assert run(filters.node_affinity, pod("p", affinity=by_name), [n]) is None


def test_resources_fit_counts_bound_pods():
    n = node("n1", cpu="2", memory="4Gi", pods="3")
    bound = [pod("a", cpu="1500m", node_name="n1")]
    assert run(filters.node_resources_fit, pod("p", cpu="500m"), [n], bound) is None
    st = run(filters.node_resources_fit, pod("p", cpu="600m", memory="5Gi"), [n], bound)
    assert st.code == filters.UNSCHEDULABLE
    assert st.reasons == ["Insufficient cpu", "Insufficient memory"]
    full = [pod(f"x{i}", node_name="n1") for i in range(3)]
    assert run(filters.node_resources_fit, pod("p"), [n], full).reasons == ["Too many pods"]


def test_resources_fit_extended_and_ephemeral():
    n = node("n1", alloc={"example.com/gpu": "2", "ephemeral-storage": "10Gi"})
    p = pod("p")
    p["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "3"}}
    assert run(filters.node_resources_fit, p, [n]).reasons == ["Insufficient example.com/gpu"]
    p["spec"]["containers"][0]["resources"] = {"requests": {"ephemeral-storage": "20Gi"}}
    assert run(filters.node_resources_fit, p, [n]).reasons == ["Insufficient ephemeral-storage"]


def test_pod_requests_init_containers_and_overhead():
    p = pod("p", cpu="1")
    p["spec"]["initContainers"] = [
        {"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
        {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
        {"name": "i2", "resources": {"requests": {"cpu": "1"}}},
    ]
    p["spec"]["overhead"] = {"cpu": "100m", "memory": "10Mi"}
    req = pod_requests(p)
    # containers 1 + sidecar 0.5 = 1.5; i1 peak 2; i2 peak 1 + 0.5 = 1.5 → max 2; +0.1
    assert req["cpu"] == 2100
    assert req["memory"] == (1 << 30) + 10 * (1 << 20)
    nz = pod_requests(pod("q"), non_zero=True)
    assert nz == {"cpu": 100, "memory": 200 << 20}


def test_node_ports():
    n = node("n1")
    used = [pod("a", node_name="n1", ports=[{"containerPort": 80, "hostPort": 8080}])]
    p = pod("p", ports=[{"containerPort": 80, "hostPort": 8080}])
    st = run(filters.node_ports, p, [n], used)
    assert st.reasons == ["node(s) didn't have free ports for the requested pod ports"]
    udp = pod("p", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}])
    assert run(filters.node_ports, udp, [n], used) is None


def anti(labels, key="kubernetes.io/hostname"):
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": labels}, "topologyKey": key}]}}


def test_pod_anti_affinity_and_existing_anti_affinity():
    nodes = [node("n1"), node("n2")]
    web = [pod("w1", labels={"app": "web"}, node_name="n1")]
    p = pod("p", labels={"app": "web"}, affinity=anti({"app": "web"}))
    st = run(affinity.inter_pod_affinity, p, nodes, web, on="n1")
    assert st.code == filters.UNSCHEDULABLE
    assert st.reasons == ["node(s) didn't match pod anti-affinity rules"]
    assert run(affinity.inter_pod_affinity, p, nodes, web, on="n2") is None
    # an existing pod's anti-affinity repels the newcomer
    guard = [pod("g", labels={"app": "db"}, node_name="n1", affinity=anti({"app": "web"}))]
    st = run(affinity.inter_pod_affinity, pod("p", labels={"app": "web"}), nodes, guard, on="n1")
    assert st.reasons == ["node(s) didn't satisfy existing pods anti-affinity rules"]
    # other namespaces do not count by default
    other = [pod("w1", ns="other", labels={"app": "web"}, node_name="n1")]
    assert run(affinity.inter_pod_affinity, p, nodes, other, on="n1") is None


def test_pod_affinity_required():
    nodes = [node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "b"})]
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}}
    db = [pod("db", labels={"app": "db"}, node_name="n1")]
    p = pod("p", affinity=aff)
    assert run(affinity.inter_pod_affinity, p, nodes, db, on="n1") is None
    st = run(affinity.inter_pod_affinity, p, nodes, db, on="n2")
    assert st.code == filters.UNRESOLVABLE
    assert st.reasons == ["node(s) didn't match pod affinity rules"]
    # the first pod of a self-selecting group may go anywhere
    first = pod("p", labels={"app": "db"}, affinity=aff)
    assert run(affinity.inter_pod_affinity, first, nodes, [], on="n2") is None


def test_topology_spread_hard():
    nodes = [node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "b"}),
             node("n3")]
    tsc = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}}]
    placed = [pod("a", labels={"app": "web"}, node_name="n1")]
    p = pod("p", labels={"app": "web"}, topologySpreadConstraints=tsc)
    st = run(spread.topology_spread, p, nodes, placed, on="n1")
    assert st.code == filters.UNSCHEDULABLE
    assert st.reasons == ["node(s) didn't match pod topology spread constraints"]
    assert run(spread.topology_spread, p, nodes, placed, on="n2") is None
    st = run(spread.topology_spread, p, nodes, placed, on="n3")
    assert st.code == filters.UNRESOLVABLE
    assert st.reasons == ["node(s) didn't match pod topology spread constraints "
                          "(missing required label)"]
