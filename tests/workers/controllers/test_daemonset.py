"""The daemonset controller's node fitting (workers/controllers/daemonset_util.py), its
ControllerRevision helpers (workers/controllers/history.py) and single sync passes of
workers/controllers/daemonset.py against an in-memory API: which nodes get a pod, what the
pod looks like, which old pods a rolling update replaces within maxUnavailable/maxSurge,
and the status counts."""
from __future__ import annotations

import asyncio

from workers.controllers import daemonset_util as dsu
from workers.controllers import history as hist
from workers.controllers.daemonset import DAEMONSETS, NODES, PODS, DaemonSetController

from .fake_api import FakeClient, FakeInformers, FakeRecorder

NOW = "2026-01-01T00:00:00Z"


def _ds(strategy=None, **template_spec) -> dict:
    spec = {"containers": [{"name": "c", "image": "nginx:1"}], **template_spec}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ns", "uid": "ds-uid", "generation": 1,
                         "annotations": {dsu.TEMPLATE_GENERATION: "1"}},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {
                         "maxUnavailable": 1, "maxSurge": 0}},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec}},
            "status": {}}


def _node(name, labels=None, taints=None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def _pod(ds, node, hash_, ready=True, name=None) -> dict:
    pod = dsu.new_pod(ds, node, hash_)
    pod["metadata"].update(name=name or f"agent-{node}", uid=f"uid-{name or node}",
                           creationTimestamp=NOW)
    pod["spec"]["nodeName"] = node
    pod["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": NOW}]}
    return pod


# ---- node fitting -----------------------------------------------------------------------------
def test_default_tolerations_and_host_network():
    spec = {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                             "effect": "NoSchedule"}]}
    dsu.add_daemon_tolerations(spec)
    keys = [(t["key"], t["effect"]) for t in spec["tolerations"]]
    assert len(keys) == len(set(keys)) == 6       # the existing one is not doubled
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in keys
    spec = {"hostNetwork": True}
    dsu.add_daemon_tolerations(spec)
    assert {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
            "effect": "NoSchedule"} in spec["tolerations"]


def test_pods_are_pinned_by_a_match_fields_term_replacing_required_affinity():
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In",
                                                     "values": ["a"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}}
    dsu.pin_to_node(spec, "n1")
    na = spec["affinity"]["nodeAffinity"]
    assert na["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}
    assert na["preferredDuringSchedulingIgnoredDuringExecution"]      # kept
    assert dsu.target_node({"spec": spec}) == "n1"
    assert dsu.target_node({"spec": dict(spec, nodeName="n2")}) == "n2"


def test_should_run_follows_selector_affinity_and_taints():
    ds = _ds(nodeSelector={"role": "edge"})
    assert dsu.should_run(_node("a", {"role": "edge"}), ds) == (True, True)
    assert dsu.should_run(_node("b", {"role": "core"}), ds) == (False, False)
    no_schedule = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    no_execute = [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]
    assert dsu.should_run(_node("c", {"role": "edge"}, no_schedule), ds) == (False, True)
    assert dsu.should_run(_node("d", {"role": "edge"}, no_execute), ds) == (False, False)
    # the daemon tolerations cover a cordoned or not-ready node
    cordoned = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]
    assert dsu.should_run(_node("e", {"role": "edge"}, cordoned), ds) == (True, True)
    tolerating = _ds(nodeSelector={"role": "edge"},
                     tolerations=[{"key": "dedicated", "operator": "Exists"}])
    assert dsu.should_run(_node("f", {"role": "edge"}, no_execute), tolerating) == (True, True)
    pinned = _ds(nodeName="a")
    assert dsu.should_run(_node("a"), pinned)[0] and not dsu.should_run(_node("b"), pinned)[0]


def test_surge_and_unavailable_scale_on_desired_rounding_up():
    ds = _ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}})
    assert dsu.surge_and_unavailable(ds, 15) == (0, 2)
    ds = _ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "20%"}})
    assert dsu.surge_and_unavailable(ds, 6) == (2, 0)


def test_revision_data_restores_the_template_and_hashes_are_stable():
    ds = _ds()
    data = hist.patch_of(ds)
    assert data["spec"]["template"]["$patch"] == "replace"
    assert hist.template_of({"data": data}) == ds["spec"]["template"]
    assert hist.fnv32(b"") == 0x811C9DC5 and hist.fnv32(b"a") == 0x050C5D7E   # Go's fnv.New32
    assert hist.data_hash(data, None) == hist.data_hash(data, None) != hist.data_hash(data, 1)
    rev = hist.new_revision(ds, "abc", 4, {"k": "v"})
    assert rev["metadata"]["name"] == "agent-abc" and rev["revision"] == 4
    assert rev["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "abc"}
    assert rev["metadata"]["ownerReferences"][0]["controller"] is True


# ---- sync passes ------------------------------------------------------------------------------
def _controller():
    informers = FakeInformers()
    client = FakeClient()
    ctl = DaemonSetController(client, informers, FakeRecorder())
    return ctl, client, informers


def _run(nodes, ds, pods, revisions=()):
    async def go():
        ctl, client, informers = _controller()
        informers.informer(DAEMONSETS).put(ds)
        for n in nodes:
            informers.informer(NODES).put(n)
        for p in pods:
            informers.informer(PODS).put(p)
        for r in revisions:
            informers.informer(hist.REVISIONS).put(r)
        await ctl.sync("ns/agent")
        return ctl, client
    return asyncio.run(go())


def _revision(ds) -> dict:
    rev = hist.new_revision(ds, dsu.template_hash(ds), 1, None)
    rev["metadata"]["uid"] = "rev-uid"
    return rev


def test_a_pod_for_each_fitting_node_only():
    ds = _ds()
    nodes = [_node("a"), _node("b", taints=[{"key": "x", "effect": "NoSchedule"}])]
    ctl, client = _run(nodes, ds, [])
    (rev,) = client.created("/controllerrevisions")
    hash_ = rev["metadata"]["labels"]["controller-revision-hash"]
    assert hash_ == dsu.template_hash(ds) and rev["metadata"]["name"] == f"agent-{hash_}"
    (pod,) = client.created("/pods")
    assert dsu.target_node(pod) == "a"
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": hash_,
                                         "pod-template-generation": "1"}
    assert pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    (status,) = [c[2]["status"] for c in client.calls if c[1].endswith("/status")]
    assert status["desiredNumberScheduled"] == 1 and status["currentNumberScheduled"] == 0


def test_untolerated_no_execute_removes_the_pod_and_duplicates_go():
    ds = _ds()
    hash_ = dsu.template_hash(ds)
    nodes = [_node("a", taints=[{"key": "x", "effect": "NoExecute"}]), _node("b")]
    pods = [_pod(ds, "a", hash_), _pod(ds, "b", hash_, name="agent-b1"),
            _pod(ds, "b", hash_, name="agent-b2")]
    pods[2]["metadata"]["creationTimestamp"] = "2026-01-02T00:00:00Z"
    _, client = _run(nodes, ds, pods, [_revision(ds)])
    assert sorted(client.deleted("pods")) == ["agent-a", "agent-b2"]
    assert not client.created("/pods")


def test_rolling_update_replaces_within_max_unavailable():
    ds = _ds()
    nodes = [_node(n) for n in "abc"]
    old = [_pod(ds, n, "oldhash") for n in "abc"]
    for p in old:
        p["metadata"]["labels"][dsu.GENERATION_LABEL] = "0"
    ctl, client = _run(nodes, ds, old, [_revision(ds)])
    assert len(client.deleted("pods")) == 1 and not client.created("/pods")
    (status,) = [c[2]["status"] for c in client.calls if c[1].endswith("/status")]
    assert status["desiredNumberScheduled"] == 3 and status["numberReady"] == 3
    assert "updatedNumberScheduled" not in status


def test_rolling_update_surges_before_deleting():
    ds = _ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    hash_ = dsu.template_hash(ds)
    nodes = [_node(n) for n in "abc"]
    old = [_pod(ds, n, "oldhash") for n in "abc"]
    for p in old:
        p["metadata"]["labels"][dsu.GENERATION_LABEL] = "0"
    _, client = _run(nodes, ds, old, [_revision(ds)])
    assert not client.deleted("pods")
    (new,) = client.created("/pods")
    # once the surged pod is available the old one on its node goes
    new_pod = _pod(ds, dsu.target_node(new), hash_, name="agent-new")
    new_pod["metadata"]["creationTimestamp"] = "2026-01-02T00:00:00Z"
    _, client = _run(nodes, ds, old + [new_pod], [_revision(ds)])
    assert client.deleted("pods") == [f"agent-{dsu.target_node(new)}"]


def test_on_delete_leaves_old_pods():
    ds = _ds({"type": "OnDelete"})
    old = [_pod(ds, "a", "oldhash")]
    old[0]["metadata"]["labels"][dsu.GENERATION_LABEL] = "0"
    _, client = _run([_node("a")], ds, old, [_revision(ds)])
    assert not client.deleted("pods") and not client.created("/pods")


def test_registered_with_upstream_names_and_a_role_covering_its_writes():
    from rbac.bootstrap_controllers import CLUSTER_ROLES
    from workers.controllers.manager import CONTROLLERS, RECORDER_NAMES

    assert "daemonset" in CONTROLLERS
    assert RECORDER_NAMES.get("daemonset", "daemonset-controller") == "daemonset-controller"
    rules, _, _ = CLUSTER_ROLES["system:controller:daemon-set-controller"]

    def allows(verb, group, resource):
        return any(verb in r["verbs"] and group in r["apiGroups"] and resource in r["resources"]
                   for r in rules)
    for verb, group, resource in [("create", "", "pods"), ("delete", "", "pods"),
                                  ("patch", "", "pods"), ("watch", "", "nodes"),
                                  ("create", "apps", "controllerrevisions"),
                                  ("patch", "apps", "controllerrevisions"),
                                  ("delete", "apps", "controllerrevisions"),
                                  ("update", "apps", "daemonsets/status"),
                                  ("create", "", "events")]:
        assert allows(verb, group, resource), (verb, group, resource)
    assert not allows("update", "", "pods")


def test_failed_pods_are_deleted_with_a_per_node_backoff():
    ds = _ds()
    hash_ = dsu.template_hash(ds)
    failed = _pod(ds, "a", hash_, name="agent-f1")
    failed["status"] = {"phase": "Failed"}

    async def go():
        ctl, client, informers = _controller()
        informers.informer(DAEMONSETS).put(ds)
        informers.informer(NODES).put(_node("a"))
        informers.informer(hist.REVISIONS).put(_revision(ds))
        informers.informer(PODS).put(failed)
        await ctl.sync("ns/agent")
        first = client.deleted("pods")
        events = list(ctl.recorder.events)
        # the next failure on that node within the back-off waits
        again = dict(failed, metadata=dict(failed["metadata"], name="agent-f2", uid="f2"))
        informers.informer(PODS).cache.clear()
        informers.informer(PODS).put(again)
        client.calls.clear()
        await ctl.sync("ns/agent")
        return first, events, client.deleted("pods")
    first, events, second = asyncio.run(go())
    assert first == ["agent-f1"] and second == []
    assert ("Warning", "FailedDaemonPod",
            "Found failed daemon pod ns/agent-f1 on node a, will try to kill it") in events


def test_backoff_doubles_up_to_its_maximum():
    now = [0.0]
    b = dsu.Backoff(1.0, 4.0, clock=lambda: now[0])
    assert b.in_backoff("k") == 0
    b.next("k")
    assert b.in_backoff("k") == 1.0
    now[0] = 1.5
    assert b.in_backoff("k") == 0
    b.next("k")
    b.next("k")
    b.next("k")
    assert b.in_backoff("k") == 4.0
