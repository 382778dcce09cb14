"""The disruption controller's arithmetic (workers/controllers/disruption_util.py) and its
sync against in-memory informers and a recording client (no server)."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from apiserver.client import ApiError
from workers.controllers import disruption_util as du
from workers.controllers.disruption import STALE_PREFIX, DisruptionController


def ts(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name, ready=True, deleting=False, owner=None, labels=None, conditions=None, phase=None):
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}",
            "labels": labels if labels is not None else {"app": "a"}}
    if deleting:
        meta["deletionTimestamp"] = ts(time.time())
    if owner:
        meta["ownerReferences"] = [dict(owner, controller=True)]
    conds = list(conditions or []) + [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "spec": {},
            "status": {"phase": phase or "Running", "conditions": conds}}


def test_scaled_value_rounds_percentages_up_and_rejects_other_strings():
    assert du.scaled_value(3, 10) == 3
    assert du.scaled_value("30%", 4) == 2
    assert du.scaled_value("50%", 3) == 2
    assert du.scaled_value("0%", 7) == 0
    with pytest.raises(du.ScaleError, match="string is not a percentage"):
        du.scaled_value("3", 10)
    with pytest.raises(du.ScaleError, match='invalid value "x%"'):
        du.scaled_value("x%", 10)


def test_disrupted_pods_keep_only_recent_entries_of_pods_not_yet_deleting():
    now = time.time()
    pods = [pod("fresh"), pod("old"), pod("going", deleting=True)]
    disrupted = {"fresh": ts(now - 30), "old": ts(now - 200), "going": ts(now - 5),
                 "gone": ts(now - 5)}
    kept, recheck, expired = du.build_disrupted_pods(pods, disrupted, now)
    assert kept == {"fresh": disrupted["fresh"]}
    assert 85 <= recheck <= 91
    assert [p["metadata"]["name"] for p in expired] == ["old"]
    # a just-evicted pod and a deleting one are not healthy; the unready one neither
    assert du.count_healthy(pods + [pod("idle", ready=False), pod("ok")], kept, now) == 2


def test_the_condition_follows_disruptions_allowed_and_keeps_its_transition_time():
    status = {"disruptionsAllowed": 1, "observedGeneration": 2}
    du.update_disruption_allowed_condition(status)
    (cond,) = status["conditions"]
    assert (cond["status"], cond["reason"], cond["message"], cond["observedGeneration"]) == \
        ("True", "SufficientPods", "", 2)
    cond["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    du.update_disruption_allowed_condition(status)
    assert status["conditions"][0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    status["disruptionsAllowed"] = 0
    du.update_disruption_allowed_condition(status)
    (cond,) = status["conditions"]
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
    assert cond["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    pdb = {"metadata": {"generation": 2}, "status": status}
    assert du.conditions_up_to_date(pdb)
    pdb["metadata"]["generation"] = 3
    assert not du.conditions_up_to_date(pdb)


def test_stale_disruption_target_waits_two_minutes_and_ignores_kubelet_ones():
    now = time.time()
    target = lambda reason, age: [{"type": "DisruptionTarget", "status": "True",  # noqa: E731
                                   "reason": reason, "lastTransitionTime": ts(now - age)}]
    assert du.stale_disruption_wait(pod("p")) is None
    assert 55 <= du.stale_disruption_wait(pod("p", conditions=target("EvictionByEvictionAPI",
                                                                       60)), now) <= 61
    assert du.stale_disruption_wait(pod("p", conditions=target("x", 500)), now) == 0
    assert du.stale_disruption_wait(pod("p", conditions=target("TerminationByKubelet", 500)),
                                    now) is None
    assert du.stale_disruption_wait(pod("p", deleting=True, conditions=target("x", 500)),
                                    now) is None
    assert du.stale_disruption_wait(pod("p", phase="Failed", conditions=target("x", 500)),
                                    now) is None


# ---- the controller with fakes -------------------------------------------------------------

class FakeInformer:
    def __init__(self):
        self.cache = {}

    def put(self, obj):
        m = obj["metadata"]
        self.cache[f"{m['namespace']}/{m['name']}"] = obj

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}")


class FakeInformers:
    def __init__(self):
        self.by_path = {}

    def informer(self, path):
        return self.by_path.setdefault(path, FakeInformer())

    def add_handler(self, path, fn):
        return self.informer(path)


class FakeClient:
    def __init__(self, gets=None):
        self.gets, self.writes = dict(gets or {}), []

    async def get(self, path, params=None):
        if path not in self.gets:
            raise ApiError(404, "NotFound", f"{path} not found")
        return self.gets[path]

    async def update(self, path, obj, params=None):
        self.writes.append((path, obj))
        return obj


class FakeRecorder:
    def __init__(self):
        self.events = []

    def record(self, obj, kind, reason, message, *a, **kw):
        self.events.append((obj["metadata"]["name"], kind, reason, message))


def controller(gets=None):
    informers = FakeInformers()
    c = DisruptionController(FakeClient(gets), informers, FakeRecorder())
    return c, informers


def budget(**spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "b", "namespace": "ns", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, **spec},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                       "expectedPods": 0}}


def test_a_replica_set_under_a_deployment_counts_the_deployments_replicas():
    c, inf = controller()
    inf.informer("/apis/apps/v1/deployments").put(
        {"metadata": {"name": "d", "namespace": "ns", "uid": "d1"}, "spec": {"replicas": 10}})
    inf.informer("/apis/apps/v1/replicasets").put(
        {"metadata": {"name": "rs", "namespace": "ns", "uid": "r1", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "d1",
             "controller": True}]}, "spec": {"replicas": 3}})
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "r1"}
    for i in range(3):
        inf.informer("/api/v1/pods").put(pod(f"p{i}", owner=ref))
    inf.informer("/api/v1/pods").put(pod("stray", owner=None))
    inf.informer("/apis/policy/v1/poddisruptionbudgets").put(budget(maxUnavailable="20%"))
    asyncio.run(c.sync("ns/b"))
    (path, body), = c.client.writes
    assert path == "/apis/policy/v1/namespaces/ns/poddisruptionbudgets/b/status"
    s = body["status"]
    assert (s["expectedPods"], s["desiredHealthy"], s["currentHealthy"],
            s["disruptionsAllowed"], s["observedGeneration"]) == (10, 8, 4, 0, 1)
    assert [e[2] for e in c.recorder.events] == ["UnmanagedPods"]


def test_a_scale_404_for_a_kind_without_scale_fails_safe_with_the_reason():
    gets = {"/apis/example.com/v1": {"resources": [
        {"name": "widgets", "kind": "Widget", "namespaced": True}]}}
    c, inf = controller(gets)
    ref = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "w1"}
    inf.informer("/api/v1/pods").put(pod("p", owner=ref))
    pdb = budget(minAvailable="50%")
    pdb["status"].update(disruptionsAllowed=3, observedGeneration=1)
    inf.informer("/apis/policy/v1/poddisruptionbudgets").put(pdb)
    asyncio.run(c.sync("ns/b"))
    (_, body), = c.client.writes
    assert body["status"]["disruptionsAllowed"] == 0
    (cond,) = body["status"]["conditions"]
    assert (cond["status"], cond["reason"], cond["message"], cond["observedGeneration"]) == \
        ("False", "SyncFailed", "widgets.example.com does not implement the scale subresource", 1)


def test_an_unchanged_status_is_not_written_and_integer_min_available_counts_pods():
    c, inf = controller()
    for i in range(3):
        inf.informer("/api/v1/pods").put(pod(f"p{i}", ready=i < 2))
    inf.informer("/apis/policy/v1/poddisruptionbudgets").put(budget(minAvailable=1))
    asyncio.run(c.sync("ns/b"))
    (_, body), = c.client.writes
    assert (body["status"]["expectedPods"], body["status"]["disruptionsAllowed"]) == (3, 1)
    inf.informer("/apis/policy/v1/poddisruptionbudgets").put(body)
    asyncio.run(c.sync("ns/b"))
    assert len(c.client.writes) == 1


def test_a_stale_disruption_target_condition_is_reset_to_false():
    c, inf = controller()
    old = ts(time.time() - 300)
    p = pod("p", conditions=[{"type": "DisruptionTarget", "status": "True",
                              "reason": "EvictionByEvictionAPI", "message": "m",
                              "lastTransitionTime": old}])
    inf.informer("/api/v1/pods").put(p)
    asyncio.run(c.sync(STALE_PREFIX + "ns/p"))
    (path, body), = c.client.writes
    assert path == "/api/v1/namespaces/ns/pods/p/status"
    cond = next(x for x in body["status"]["conditions"] if x["type"] == "DisruptionTarget")
    assert cond["status"] == "False" and "reason" not in cond and cond["lastTransitionTime"] != old
