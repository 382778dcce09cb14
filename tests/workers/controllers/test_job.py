"""The job controller's helpers (workers/controllers/job_util.py) and one sync pass of
workers/controllers/job.py against an in-memory client: the order in which finished pods are
accounted for (uids into uncountedTerminatedPods, then finalizers off, then the counters), as
upstream's trackJobStatusAndRemoveFinalizers."""
from __future__ import annotations

import asyncio

import pytest

from workers.controllers import job_util as ju
from workers.controllers.job import JobController


# ---- back-off -------------------------------------------------------------------------------
def test_backoff_doubles_from_ten_seconds_up_to_ten_minutes():
    assert ju.remaining_backoff(0, None, 100.0) == 0
    assert ju.remaining_backoff(1, 100.0, 100.0) == 10
    assert ju.remaining_backoff(2, 100.0, 105.0) == 15
    assert ju.remaining_backoff(3, 100.0, 100.0) == 40
    assert ju.remaining_backoff(20, 100.0, 100.0) == 600
    assert ju.remaining_backoff(1, 100.0, 111.0) == 0          # already waited long enough


def _pod(name, phase="Running", code=None, finished="2026-01-01T10:00:00Z", **meta):
    status = {"phase": phase}
    if code is not None:
        status["containerStatuses"] = [{"name": "main", "restartCount": 0, "state": {
            "terminated": {"exitCode": code, "finishedAt": finished}}}]
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", **meta},
            "status": status}


def test_the_backoff_record_counts_failures_since_the_last_success():
    rec = ju.BackoffRecord().next([], [_pod("a", "Failed", 1)], 0)
    assert rec.failures_after_last_success == 1
    rec = rec.next([], [_pod("b", "Failed", 1, "2026-01-01T10:00:05Z")], 0)
    assert rec.failures_after_last_success == 2
    assert rec.last_failure_time == ju.podutil.parse_time("2026-01-01T10:00:05Z")
    # a success resets it; a failure finishing after that success still counts
    rec = rec.next([_pod("c", "Succeeded", 0, "2026-01-01T10:00:10Z")],
                   [_pod("d", "Failed", 1, "2026-01-01T10:00:20Z"),
                    _pod("e", "Failed", 1, "2026-01-01T10:00:01Z")], 0)
    assert rec.failures_after_last_success == 1


# ---- pod failure policy ---------------------------------------------------------------------
POLICY = {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                          "values": [42]}},
    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [42, 7]}}]}


def test_pod_failure_policy_rules_match_in_order():
    msg, count, action = ju.match_pod_failure_policy(POLICY, _pod("p", "Failed", 42))
    assert action == "FailJob" and count
    assert msg == "Container main for pod ns/p failed with exit code 42 matching FailJob rule " \
        "at index 1"
    assert ju.match_pod_failure_policy(POLICY, _pod("p", "Failed", 3)) == (None, True, "Count")
    assert ju.match_pod_failure_policy(POLICY, _pod("p", "Failed", 7)) == (None, True, None)
    disrupted = _pod("p", "Failed", 42)
    disrupted["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True"}]
    assert ju.match_pod_failure_policy(POLICY, disrupted) == (None, False, "Ignore")
    # exit code 0 never matches NotIn; only Failed pods are matched at all
    assert ju.match_pod_failure_policy(POLICY, _pod("p", "Failed", 0)) == (None, True, None)
    assert ju.match_pod_failure_policy(POLICY, _pod("p", "Running", 42)) == (None, True, None)


def test_deleted_pods_count_as_failed_unless_only_failed_pods_are_replaced():
    job = {"spec": {"podReplacementPolicy": "TerminatingOrFailed"}}
    deleting = _pod("p", deletionTimestamp="2026-01-01T10:00:00Z")
    assert ju.is_pod_failed(deleting, job) and ju.is_terminating(deleting)
    assert not ju.is_pod_failed(deleting, {"spec": {"podReplacementPolicy": "Failed"}})
    assert not ju.is_pod_failed(dict(deleting, status={"phase": "Succeeded"}), job)


# ---- indexes and pods -----------------------------------------------------------------------
def test_completed_indexes_round_trip_as_intervals():
    assert ju.format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert ju.parse_indexes("0-2,5,7-8", 8) == {0, 1, 2, 5, 7}
    assert ju.first_pending_indexes([_pod("a", annotations={ju.COMPLETION_INDEX: "1"})],
                                    {0}, 2, 5) == [2, 3]


def test_an_indexed_pod_carries_its_index_hostname_and_finalizer():
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "work", "namespace": "ns", "uid": "job-uid"},
           "spec": {"template": {"metadata": {"labels": {"job-name": "work"}},
                                 "spec": {"containers": [{"name": "main"}]}}}}
    pod = ju.pod_for_job(job, 4)
    m = pod["metadata"]
    assert m["generateName"] == "work-4-" and m["finalizers"] == [ju.TRACKING_FINALIZER]
    assert m["annotations"][ju.COMPLETION_INDEX] == "4" == m["labels"][ju.COMPLETION_INDEX]
    assert pod["spec"]["hostname"] == "work-4"
    assert pod["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"
    assert "env" not in job["spec"]["template"]["spec"]["containers"][0]   # template untouched
    assert ju.completion_index(pod) == 4


def test_ensure_condition_adds_changes_and_ignores_absent_false():
    status = {}
    assert not ju.ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed")
    assert "conditions" not in status
    assert ju.ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended")
    assert not ju.ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended")
    assert ju.ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed")
    assert [c["status"] for c in status["conditions"]] == ["False"]


# ---- one sync pass --------------------------------------------------------------------------
class FakeInformer:
    def __init__(self):
        self.cache = {}

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}")


class FakeInformers:
    def __init__(self):
        self.by_path = {}

    def add_handler(self, path, fn):
        return self.by_path.setdefault(path, FakeInformer())


class FakeClient:
    def __init__(self):
        self.calls = []

    async def update(self, path, obj):
        self.calls.append(("status", path, obj["status"].get("succeeded"),
                           dict(obj["status"]["uncountedTerminatedPods"]),
                           [c["type"] for c in obj["status"].get("conditions") or []]))
        return {"metadata": {"resourceVersion": str(len(self.calls))}}

    async def patch(self, path, body, content_type=None):
        self.calls.append(("patch", path, body))
        return {}

    async def create(self, path, obj):
        raise AssertionError("no pod should be created")

    async def delete(self, path, options=None):
        raise AssertionError("no pod should be deleted")


class FakeRecorder:
    def __init__(self):
        self.events = []

    def record(self, obj, kind, reason, message, field_path=None):
        self.events.append((reason, message))


def test_a_succeeded_pod_is_recorded_then_released_then_counted():
    client, informers = FakeClient(), FakeInformers()
    ctl = JobController(client, informers, FakeRecorder())
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "one", "namespace": "ns", "uid": "job-uid",
                        "resourceVersion": "1"},
           "spec": {"completions": 1, "parallelism": 1, "backoffLimit": 6,
                    "completionMode": "NonIndexed",
                    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
                    "template": {"spec": {"restartPolicy": "Never"}}},
           "status": {}}
    pod = _pod("one-x", "Succeeded", 0, labels={"batch.kubernetes.io/controller-uid": "job-uid"},
               finalizers=[ju.TRACKING_FINALIZER],
               ownerReferences=[{"kind": "Job", "name": "one", "uid": "job-uid",
                                 "controller": True}])
    informers.by_path["/apis/batch/v1/jobs"].cache["ns/one"] = job
    informers.by_path["/api/v1/pods"].cache["ns/one-x"] = pod
    asyncio.run(ctl.sync("ns/one"))
    kinds = [c[0] for c in client.calls]
    assert kinds == ["status", "patch", "status"]
    first, patch, second = client.calls
    assert first[3] == {"succeeded": ["uid-one-x"]} and not first[2]
    assert first[4] == ["SuccessCriteriaMet"]
    assert patch[1] == "/api/v1/namespaces/ns/pods/one-x"
    assert patch[2][1] == {"op": "remove", "path": "/metadata/finalizers/0"}
    assert second[2] == 1 and second[3] == {}
    assert second[4] == ["SuccessCriteriaMet", "Complete"]
    assert ("Completed", "Job completed") in ctl.recorder.events


@pytest.mark.parametrize("deadline", [None, 30])
def test_a_finished_job_is_left_alone(deadline):
    client, informers = FakeClient(), FakeInformers()
    ctl = JobController(client, informers, FakeRecorder())
    informers.by_path["/apis/batch/v1/jobs"].cache["ns/done"] = {
        "metadata": {"name": "done", "namespace": "ns", "uid": "u"},
        "spec": {"activeDeadlineSeconds": deadline},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    asyncio.run(ctl.sync("ns/done"))
    assert client.calls == []


# ---- success policy and backoffLimitPerIndex ------------------------------------------------
def test_success_policy_rules_match_by_indexes_or_count():
    policy = {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2},
                        {"succeededCount": 4}, {"succeededIndexes": "5"}]}
    assert ju.match_success_policy(policy, 6, {0, 3}) is None
    assert ju.match_success_policy(policy, 6, {0, 2}) == "Matched rules at index 0"
    assert ju.match_success_policy(policy, 6, {3, 4, 0, 5}) == "Matched rules at index 1"
    assert ju.match_success_policy(policy, 6, {5}) == "Matched rules at index 2"
    assert ju.match_success_policy(None, 6, {0, 1, 2}) is None


def test_an_index_fails_once_its_counted_failures_reach_the_limit():
    job = {"spec": {"backoffLimitPerIndex": 1, "podReplacementPolicy": "Failed",
                    "podFailurePolicy": {"rules": [
                        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
                        {"action": "FailIndex", "onExitCodes": {"operator": "In",
                                                                "values": [9]}}]}}}
    first = _pod("a", "Failed", 1, annotations={ju.INDEX_FAILURE_COUNT: "0"})
    assert not ju.is_index_failed(job, first)
    assert ju.new_index_failure_counts(job, first) == {ju.INDEX_FAILURE_COUNT: "1"}
    second = _pod("b", "Failed", 1, annotations={ju.INDEX_FAILURE_COUNT: "1"})
    assert ju.is_index_failed(job, second)
    ignored = _pod("c", "Failed", 3, annotations={ju.INDEX_FAILURE_COUNT: "1"})
    assert not ju.is_index_failed(job, ignored)
    assert ju.new_index_failure_counts(job, ignored) == {
        ju.INDEX_FAILURE_COUNT: "1", ju.INDEX_IGNORED_FAILURE_COUNT: "1"}
    assert ju.is_index_failed(job, _pod("d", "Failed", 9,
                                        annotations={ju.INDEX_FAILURE_COUNT: "0"}))
    assert ju.new_index_failure_counts(job, None) == {ju.INDEX_FAILURE_COUNT: "0"}


# ---- registration ---------------------------------------------------------------------------
def test_registered_with_upstream_names_and_roles_covering_their_writes():
    from rbac.bootstrap_controllers import CLUSTER_ROLES
    from workers.controllers.manager import CONTROLLERS, RECORDER_NAMES

    def allows(role, verb, group, resource):
        rules, _, _ = CLUSTER_ROLES[f"system:controller:{role}"]
        return any(verb in r["verbs"] and group in r["apiGroups"] and resource in r["resources"]
                   for r in rules)
    needs = {
        "job": ("job-controller", [("create", "", "pods"), ("delete", "", "pods"),
                                   ("patch", "", "pods"), ("watch", "batch", "jobs"),
                                   ("update", "batch", "jobs/status"),
                                   ("create", "", "events")]),
        "cronjob": ("cronjob-controller", [("create", "batch", "jobs"),
                                           ("delete", "batch", "jobs"),
                                           ("get", "batch", "jobs"),
                                           ("update", "batch", "cronjobs/status"),
                                           ("create", "", "events")]),
        "ttl-after-finished": ("ttl-after-finished-controller", [
            ("get", "batch", "jobs"), ("delete", "batch", "jobs"), ("watch", "batch", "jobs")]),
    }
    for name, (role, writes) in needs.items():
        assert name in CONTROLLERS
        assert RECORDER_NAMES.get(name, f"{name}-controller") == role
        for verb, group, resource in writes:
            assert allows(role, verb, group, resource), (role, verb, group, resource)
    assert not allows("ttl-after-finished-controller", "create", "", "pods")
