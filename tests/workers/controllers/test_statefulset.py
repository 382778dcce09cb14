"""The statefulset controller's identity and storage helpers
(workers/controllers/statefulset_util.py) and single sync passes of
workers/controllers/statefulset.py against an in-memory API: OrderedReady waits, Parallel
does not, scale down goes from the highest ordinal, a partitioned rolling update deletes the
highest out-of-date pod at or above the partition, claims follow the retention policy."""
from __future__ import annotations

import asyncio

from workers.controllers import history as hist
from workers.controllers import statefulset_util as su
from workers.controllers.statefulset import CLAIMS, PODS, STATEFULSETS, StatefulSetController

from .fake_api import FakeClient, FakeInformers, FakeRecorder

NOW = "2026-01-01T00:00:00Z"


def _sts(replicas=3, image="nginx:1", **spec) -> dict:
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "sts-uid", "generation": 1},
            "spec": {"replicas": replicas, "serviceName": "svc",
                     "podManagementPolicy": "OrderedReady",
                     "selector": {"matchLabels": {"app": "web"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"t": "1"}},
                                               "spec": {"accessModes": ["ReadWriteOnce"]}}]},
            "status": {}}
    body["spec"].update(spec)
    return body


def _revision(sts, number=1) -> dict:
    data = hist.patch_of(sts)
    rev = hist.new_revision(sts, hist.data_hash(data, 0), number, None)
    rev["metadata"]["uid"] = f"uid-{rev['metadata']['name']}"
    return rev


def _pod(sts, ordinal, revision, ready=True) -> dict:
    pod = su.new_pod(sts, sts["spec"]["template"], ordinal, revision["metadata"]["name"])
    pod["metadata"]["uid"] = f"uid-web-{ordinal}"
    pod["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": NOW}]}
    return pod


def _claims(sts, ordinals):
    out = []
    for i in ordinals:
        (c,) = su.claims_for(sts, f"web-{i}")
        c["metadata"]["uid"] = f"uid-{c['metadata']['name']}"
        out.append(c)
    return out


def _run(sts, pods=(), revisions=(), claims=()):
    async def go():
        informers, client = FakeInformers(), FakeClient()
        ctl = StatefulSetController(client, informers, FakeRecorder())
        informers.informer(STATEFULSETS).put(sts)
        for p in pods:
            informers.informer(PODS).put(p)
        for r in revisions:
            informers.informer(hist.REVISIONS).put(r)
            client.known[r["metadata"]["name"]] = r
        for c in claims:
            informers.informer(CLAIMS).put(c)
        await ctl.sync("ns/web")
        return client, ctl
    return asyncio.run(go())


def _status(client) -> dict:
    return [c[2]["status"] for c in client.calls if c[1].endswith("/status")][-1]


# ---- helpers ----------------------------------------------------------------------------------
def test_identity_storage_and_ordinals():
    sts = _sts()
    pod = su.new_pod(sts, sts["spec"]["template"], 2, "web-abc")
    assert pod["metadata"]["name"] == "web-2" and "generateName" not in pod["metadata"]
    assert pod["metadata"]["labels"] == {"app": "web", su.POD_NAME_LABEL: "web-2",
                                         su.POD_INDEX_LABEL: "2", su.REVISION_LABEL: "web-abc"}
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-2", "svc")
    assert pod["spec"]["volumes"] == [{"name": "data",
                                       "persistentVolumeClaim": {"claimName": "data-web-2"}}]
    assert su.identity_matches(sts, pod)
    assert su.parent_and_ordinal(pod) == ("web", 2)
    assert su.parent_and_ordinal({"metadata": {"name": "web"}}) == ("", -1)
    assert not su.is_member(sts, {"metadata": {"name": "webby-1"}})
    (claim,) = su.claims_for(sts, "web-2")
    assert claim["metadata"]["name"] == "data-web-2"
    assert claim["metadata"]["labels"] == {"t": "1", "app": "web"}


def test_claim_owner_refs_follow_the_retention_policy():
    sts = _sts(replicas=1)
    pod_in, pod_out = _pod(sts, 0, _revision(sts)), _pod(sts, 1, _revision(sts))
    claim = {"metadata": {"name": "data-web-1", "ownerReferences": [{"uid": "other"}]}}
    uids = lambda refs: {r["uid"] for r in refs}  # noqa: E731
    assert uids(su.claim_owner_refs(claim, sts, pod_out)) == {"other"}          # Retain/Retain
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete",
                                                           "whenScaled": "Retain"}
    assert uids(su.claim_owner_refs(claim, sts, pod_out)) == {"other", "sts-uid"}
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain",
                                                           "whenScaled": "Delete"}
    assert uids(su.claim_owner_refs(claim, sts, pod_out)) == {"other", "uid-web-1"}
    assert uids(su.claim_owner_refs(claim, sts, pod_in)) == {"other"}
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete",
                                                           "whenScaled": "Delete"}
    assert uids(su.claim_owner_refs(claim, sts, pod_out)) == {"other", "uid-web-1"}
    refs = su.claim_owner_refs(claim, sts, pod_in)
    assert uids(refs) == {"other", "sts-uid"}
    (ours,) = [r for r in refs if r["uid"] == "sts-uid"]
    assert (ours["kind"], ours["controller"], ours["blockOwnerDeletion"]) == \
        ("StatefulSet", True, True)
    # a claim another object controls gets none of ours, and loses stale ones
    claim["metadata"]["ownerReferences"] = [{"uid": "x", "controller": True}, ours]
    assert uids(su.claim_owner_refs(claim, sts, pod_in)) == {"x"}


# ---- sync passes ------------------------------------------------------------------------------
def test_ordered_ready_creates_one_pod_after_its_claims():
    client, _ = _run(_sts())
    (rev,) = client.created("/controllerrevisions")
    kinds = [(c[0], c[1].rsplit("/", 1)[-1]) for c in client.calls if c[0] == "create"]
    assert kinds == [("create", "controllerrevisions"), ("create", "persistentvolumeclaims"),
                     ("create", "pods")]
    (pod,) = client.created("/pods")
    assert pod["metadata"]["name"] == "web-0"
    assert pod["metadata"]["labels"][su.REVISION_LABEL] == rev["metadata"]["name"]
    status = _status(client)
    assert status["currentRevision"] == status["updateRevision"] == rev["metadata"]["name"]


def test_ordered_ready_waits_for_a_ready_predecessor():
    sts = _sts()
    rev = _revision(sts)
    client, _ = _run(sts, [_pod(sts, 0, rev, ready=False)], [rev], _claims(sts, [0]))
    assert not client.created("/pods")
    client, _ = _run(sts, [_pod(sts, 0, rev)], [rev], _claims(sts, [0]))
    assert [p["metadata"]["name"] for p in client.created("/pods")] == ["web-1"]


def test_parallel_creates_every_missing_pod_at_once():
    sts = _sts(podManagementPolicy="Parallel")
    rev = _revision(sts)
    client, _ = _run(sts, [_pod(sts, 0, rev, ready=False)], [rev], _claims(sts, [0]))
    assert sorted(p["metadata"]["name"] for p in client.created("/pods")) == ["web-1", "web-2"]


def test_scale_down_deletes_the_highest_ordinal_first():
    sts = _sts(replicas=1)
    rev = _revision(sts)
    pods = [_pod(sts, i, rev) for i in range(3)]
    client, _ = _run(sts, pods, [rev], _claims(sts, range(3)))
    assert client.deleted("pods") == ["web-2"]
    sts["spec"]["podManagementPolicy"] = "Parallel"
    client, _ = _run(sts, pods, [rev], _claims(sts, range(3)))
    assert sorted(client.deleted("pods")) == ["web-1", "web-2"]


def test_partitioned_rolling_update_deletes_the_highest_stale_pod():
    old_set = _sts()
    old = _revision(old_set)
    sts = _sts(image="nginx:2", updateStrategy={"type": "RollingUpdate",
                                                "rollingUpdate": {"partition": 1}})
    sts["status"] = {"currentRevision": old["metadata"]["name"]}
    pods = [_pod(old_set, i, old) for i in range(3)]
    client, _ = _run(sts, pods, [old], _claims(sts, range(3)))
    (new,) = client.created("/controllerrevisions")
    assert new["revision"] == 2 and new["metadata"]["name"] != old["metadata"]["name"]
    assert client.deleted("pods") == ["web-2"]
    status = _status(client)
    assert status["currentRevision"] == old["metadata"]["name"]
    assert status["updateRevision"] == new["metadata"]["name"]
    # web-2 at the new revision and healthy: web-1 (= partition) is next
    new["metadata"]["uid"] = "uid-new"
    pods[2] = _pod(sts, 2, new)
    client, ctl = _run(sts, pods, [old, new], _claims(sts, range(3)))
    assert client.deleted("pods") == ["web-1"]
    # then web-0, below the partition, stays at the current revision
    pods[1] = _pod(sts, 1, new)
    client, ctl = _run(sts, pods, [old, new], _claims(sts, range(3)))
    assert not client.deleted("pods")
    status = _status(client)
    assert (status["updatedReplicas"], status["currentReplicas"]) == (2, 1)
    assert status["currentRevision"] == old["metadata"]["name"]
    # a pod made below the partition comes from the current revision's template
    fresh = ctl._versioned(sts, old, new, 0)
    assert fresh["spec"]["containers"][0]["image"] == "nginx:1"
    assert ctl._versioned(sts, old, new, 2)["spec"]["containers"][0]["image"] == "nginx:2"


def test_a_finished_rolling_update_makes_the_update_revision_current():
    sts = _sts(replicas=2)
    old = _revision(_sts(replicas=2, image="nginx:0"))
    new = _revision(sts, 2)
    sts["status"] = {"currentRevision": old["metadata"]["name"]}
    client, _ = _run(sts, [_pod(sts, i, new) for i in range(2)], [old, new], _claims(sts, [0, 1]))
    status = _status(client)
    assert status["currentRevision"] == status["updateRevision"] == new["metadata"]["name"]
    assert (status["replicas"], status["readyReplicas"], status["currentReplicas"],
            status["updatedReplicas"], status["availableReplicas"]) == (2, 2, 2, 2, 2)


def test_a_rollback_renumbers_the_matching_old_revision():
    sts = _sts(replicas=1)
    first = _revision(sts, 1)
    second = _revision(_sts(replicas=1, image="nginx:9"), 2)
    client, _ = _run(sts, [_pod(sts, 0, first)], [first, second], _claims(sts, [0]))
    assert ("patch", hist.revisions_path("ns", first["metadata"]["name"]), {"revision": 3}) \
        in client.calls
    assert not client.created("/controllerrevisions")


def test_scaled_away_claims_are_handed_to_their_pods():
    sts = _sts(replicas=1, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain",
                                                                 "whenScaled": "Delete"})
    rev = _revision(sts)
    client, _ = _run(sts, [_pod(sts, i, rev) for i in range(2)], [rev], _claims(sts, [0, 1]))
    updates = {c[1].rsplit("/", 1)[1]: c[2] for c in client.calls
               if c[0] == "update" and "/persistentvolumeclaims/" in c[1]}
    assert set(updates) == {"data-web-1"}
    assert [r["uid"] for r in updates["data-web-1"]["metadata"]["ownerReferences"]] == \
        ["uid-web-1"]
    assert client.deleted("pods") == ["web-1"]


def test_registered_with_upstream_names_and_a_role_covering_its_writes():
    from rbac.bootstrap_controllers import CLUSTER_ROLES
    from workers.controllers.manager import CONTROLLERS, RECORDER_NAMES

    assert "statefulset" in CONTROLLERS
    assert RECORDER_NAMES.get("statefulset", "statefulset-controller") == "statefulset-controller"
    rules, _, _ = CLUSTER_ROLES["system:controller:statefulset-controller"]

    def allows(verb, group, resource):
        return any(verb in r["verbs"] and group in r["apiGroups"] and resource in r["resources"]
                   for r in rules)
    for verb, group, resource in [("create", "", "pods"), ("delete", "", "pods"),
                                  ("patch", "", "pods"), ("create", "", "persistentvolumeclaims"),
                                  ("update", "", "persistentvolumeclaims"),
                                  ("create", "apps", "controllerrevisions"),
                                  ("patch", "apps", "controllerrevisions"),
                                  ("delete", "apps", "controllerrevisions"),
                                  ("update", "apps", "statefulsets/status"),
                                  ("update", "", "pods/finalizers"),
                                  ("create", "", "events")]:
        assert allows(verb, group, resource), (verb, group, resource)
    assert not allows("patch", "", "persistentvolumeclaims")
