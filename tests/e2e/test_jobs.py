"""Jobs, CronJobs and TTL-after-finished through the controller manager that ``manage.py up``
runs, driven with kubectl.  No kubelet runs here: a loop in the test plays one — it marks new
pods Running and Ready, and finishes those that carry ``sim.kubelet/exit-code`` (Succeeded
for 0, Failed otherwise, with the container's terminated state), as the simulated kubelet
does with its exit annotations."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from controller_support import wait_for

EXIT_CODE = "sim.kubelet/exit-code"
TRACKING = "batch.kubernetes.io/job-tracking"
FAIL_INDEXES = "e2e/fail-indexes"          # these completion indexes exit 1
EXIT_INDEXES = "e2e/exit-indexes"          # only these completion indexes exit at all


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class FakeKubelet:
    """Runs every pod of one namespace; records the most pods it saw running at once."""

    def __init__(self, server, namespace):
        self.server, self.namespace = server, namespace
        self.max_running = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def patch_status(self, name, status):
        self.server.request("PATCH", f"/api/v1/namespaces/{self.namespace}/pods/{name}/status",
                            body=json.dumps({"status": status}).encode(),
                            headers={"Content-Type": "application/merge-patch+json"})

    def loop(self):
        while not self.stop.is_set():
            status, _, body = self.server.request("GET",
                                                  f"/api/v1/namespaces/{self.namespace}/pods")
            if status == 200:
                pods = json.loads(body)["items"]
                running = [p for p in pods if p["status"].get("phase") in (None, "Pending",
                                                                              "Running")
                           and not p["metadata"].get("deletionTimestamp")]
                self.max_running = max(self.max_running, len(running))
                for p in running:
                    self.step(p)
            self.stop.wait(0.2)

    def step(self, pod):
        name, now = pod["metadata"]["name"], _now()
        container = pod["spec"]["containers"][0]
        annotations = pod["metadata"].get("annotations") or {}
        code = annotations.get(EXIT_CODE)
        index = annotations.get("batch.kubernetes.io/job-completion-index")
        if index in annotations.get(FAIL_INDEXES, "").split(","):
            code = "1"
        elif EXIT_INDEXES in annotations and index not in annotations[EXIT_INDEXES].split(","):
            code = None                       # this index runs until stopped
        if pod["status"].get("phase") != "Running":
            self.patch_status(name, {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now}]})
        elif code is not None:
            phase = "Succeeded" if code == "0" else "Failed"
            self.patch_status(name, {"phase": phase, "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now}],
                "containerStatuses": [{
                    "name": container["name"], "image": container["image"], "imageID": "",
                    "ready": False, "restartCount": 0, "state": {"terminated": {
                        "exitCode": int(code), "reason": "Completed" if code == "0" else "Error",
                        "startedAt": now, "finishedAt": now}}}]})


@pytest.fixture
def kubelet(server, namespace):
    k = FakeKubelet(server, namespace)
    k.thread.start()
    yield k
    k.stop.set()
    k.thread.join(5)


def _job(name, exit_code=None, **spec):
    annotations = {EXIT_CODE: str(exit_code)} if exit_code is not None else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"annotations": annotations},
                                  "spec": {"restartPolicy": "Never", "containers": [
                                      {"name": "main", "image": "busybox"}]}}, **spec}}


def _apply(kubectl, namespace, obj):
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(obj))


def _get(kubectl, namespace, *args):
    return json.loads(kubectl("-n", namespace, "get", *args, "-o", "json").stdout)


def _wait(predicate, timeout=30.0):
    return wait_for(predicate, timeout)


def _conditions(job):
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}


def _wait_condition(kubectl, namespace, name, kind, timeout=40):
    kubectl("-n", namespace, "wait", f"--for=condition={kind}", f"job/{name}",
            f"--timeout={timeout}s", timeout=timeout + 10)
    return _get(kubectl, namespace, "job", name)


def _events(kubectl, namespace, name):
    items = _get(kubectl, namespace, "events", "--field-selector",
                 f"involvedObject.name={name}")["items"]
    return {(e["reason"], e["message"]) for e in items}


def test_a_job_with_three_completions_runs_two_at_a_time_to_complete(kubectl, namespace,
                                                                       kubelet):
    _apply(kubectl, namespace, _job("pi", exit_code=0, completions=3, parallelism=2))
    job = _wait_condition(kubectl, namespace, "pi", "complete")
    status = job["status"]
    assert status["succeeded"] == 3 and not status.get("failed")
    assert status.get("active", 0) == 0 and status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert status["startTime"] <= status["completionTime"]
    conds = _conditions(job)
    assert conds["Complete"]["status"] == "True"
    assert conds["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
    assert conds["Complete"]["message"] == "Reached expected number of succeeded pods"
    pods = _get(kubectl, namespace, "pods", "-l", "batch.kubernetes.io/job-name=pi")["items"]
    assert len(pods) == 3 and kubelet.max_running <= 2
    uid = job["metadata"]["uid"]
    for p in pods:
        labels = p["metadata"]["labels"]
        assert labels["batch.kubernetes.io/controller-uid"] == uid == labels["controller-uid"]
        assert labels["job-name"] == "pi"
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == \
            ("Job", uid, True, True)
        assert TRACKING not in (p["metadata"].get("finalizers") or [])
    events = _events(kubectl, namespace, "pi")
    assert ("Completed", "Job completed") in events
    assert sum(1 for reason, _ in events if reason == "SuccessfulCreate") == 3
    out = kubectl("-n", namespace, "get", "job", "pi").stdout
    assert "Complete" in out and "3/3" in out


def test_an_indexed_job_runs_each_index_once(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _job("idx", exit_code=0, completions=3, parallelism=3,
                                    completionMode="Indexed"))
    job = _wait_condition(kubectl, namespace, "idx", "complete")
    assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
    assert not job["status"].get("failed")        # no index was started twice and stopped
    assert sum(1 for reason, _ in _events(kubectl, namespace, "idx")
               if reason == "SuccessfulCreate") == 3
    pods = _get(kubectl, namespace, "pods", "-l", "job-name=idx")["items"]
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p
                for p in pods}
    assert sorted(by_index) == ["0", "1", "2"] and len(pods) == 3
    for ix, p in by_index.items():
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == ix
        assert p["metadata"]["name"].startswith(f"idx-{ix}-")
        assert p["spec"]["hostname"] == f"idx-{ix}"
        env = {e["name"]: e for e in p["spec"]["containers"][0]["env"]}
        assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def test_an_index_out_of_retries_fails_alone_and_then_the_job(kubectl, namespace, kubelet):
    job = _job("per-index", exit_code=0, completions=3, parallelism=3,
               completionMode="Indexed", backoffLimitPerIndex=1)
    job["spec"]["template"]["metadata"]["annotations"][FAIL_INDEXES] = "1"
    _apply(kubectl, namespace, job)
    job = _wait_condition(kubectl, namespace, "per-index", "failed")
    status = job["status"]
    assert status["failedIndexes"] == "1" and status["completedIndexes"] == "0,2"
    assert status["failed"] == 2 and status["succeeded"] == 2    # index 1 tried twice
    cond = _conditions(job)["Failed"]
    assert (cond["reason"], cond["message"]) == ("FailedIndexes", "Job has failed indexes")
    pods = _get(kubectl, namespace, "pods", "-l",
                "batch.kubernetes.io/job-completion-index=1")["items"]
    counts = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"]
                    for p in pods)
    assert counts == ["0", "1"]                   # the retry carries the first failure


def test_a_success_policy_completes_an_indexed_job_early(kubectl, namespace, kubelet):
    job = _job("leader", exit_code=0, completions=3, parallelism=3, completionMode="Indexed",
               successPolicy={"rules": [{"succeededIndexes": "0"}]})
    job["spec"]["template"]["metadata"]["annotations"][EXIT_INDEXES] = "0"
    _apply(kubectl, namespace, job)
    job = _wait_condition(kubectl, namespace, "leader", "complete")
    conds = _conditions(job)
    assert conds["SuccessCriteriaMet"]["reason"] == "SuccessPolicy" == conds["Complete"]["reason"]
    assert conds["Complete"]["message"] == "Matched rules at index 0"
    assert job["status"]["completedIndexes"] == "0" and job["status"]["succeeded"] == 1
    assert not job["status"].get("failed")        # the stopped workers are no failures
    assert _wait(lambda: [p for p in _get(kubectl, namespace, "pods")["items"]
                          if p["status"].get("phase") == "Running"] == [])


def test_a_failing_job_stops_at_its_backoff_limit(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _job("fails", exit_code=1, backoffLimit=0))
    job = _wait_condition(kubectl, namespace, "fails", "failed")
    conds = _conditions(job)
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert conds["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 1 and not job["status"].get("succeeded")
    assert "Complete" not in conds and "completionTime" not in job["status"]
    assert len(_get(kubectl, namespace, "pods")["items"]) == 1        # never recreated
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in \
        _events(kubectl, namespace, "fails")


def test_a_pod_failure_policy_fails_the_job_on_an_exit_code(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _job("policy", exit_code=42, backoffLimit=6, podFailurePolicy={
        "rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
                  {"action": "FailJob", "onExitCodes": {"containerName": "main",
                                                        "operator": "In", "values": [42]}}]}))
    job = _wait_condition(kubectl, namespace, "policy", "failed")
    cond = _conditions(job)["Failed"]
    pod = _get(kubectl, namespace, "pods")["items"][0]["metadata"]["name"]
    assert cond["reason"] == "PodFailurePolicy"
    assert cond["message"] == (f"Container main for pod {namespace}/{pod} failed with exit "
                               "code 42 matching FailJob rule at index 1")
    assert job["status"]["failed"] == 1


def test_an_active_deadline_fails_a_job_and_stops_its_pods(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _job("slow", parallelism=2, completions=2,
                                    activeDeadlineSeconds=2))
    job = _wait_condition(kubectl, namespace, "slow", "failed")
    cond = _conditions(job)["Failed"]
    assert cond["reason"] == "DeadlineExceeded"
    assert cond["message"] == "Job was active longer than specified deadline"
    assert job["status"]["failed"] == 2 and job["status"].get("active", 0) == 0
    assert _wait(lambda: _get(kubectl, namespace, "pods")["items"] == [])


def test_a_suspended_job_creates_no_pods_until_resumed(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _job("later", exit_code=0, suspend=True))
    job = _wait(lambda: "Suspended" in _conditions(j := _get(kubectl, namespace, "job",
                                                              "later")) and j)
    assert _conditions(job)["Suspended"]["reason"] == "JobSuspended"
    assert "startTime" not in job["status"]
    assert _get(kubectl, namespace, "pods")["items"] == []
    kubectl("-n", namespace, "patch", "job", "later", "--type=merge", "-p",
            '{"spec":{"suspend":false}}')
    job = _wait_condition(kubectl, namespace, "later", "complete")
    assert _conditions(job)["Suspended"]["status"] == "False"
    assert _conditions(job)["Suspended"]["reason"] == "JobResumed"


def test_a_finished_job_with_a_ttl_is_deleted_with_its_pods(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _job("brief", exit_code=0, ttlSecondsAfterFinished=2))
    gone = lambda: kubectl("-n", namespace, "get", "job", "brief",  # noqa: E731
                           check=False).returncode != 0
    assert _wait(lambda: _get(kubectl, namespace, "pods")["items"], timeout=20)
    assert _wait(gone, timeout=30)
    # it went only after it had finished (its events outlive it), and its pods with it
    assert ("Completed", "Job completed") in _events(kubectl, namespace, "brief")
    assert _wait(lambda: _get(kubectl, namespace, "pods")["items"] == [], timeout=20)
    # a Job without a TTL stays
    _apply(kubectl, namespace, _job("stays", exit_code=0))
    _wait_condition(kubectl, namespace, "stays", "complete")
    time.sleep(2.5)
    assert _get(kubectl, namespace, "job", "stays")["metadata"]["name"] == "stays"


def _cronjob(name, **spec):
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
                "metadata": {"annotations": {EXIT_CODE: "0"}},
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "main", "image": "busybox"}]}}}}, **spec}}


def test_kubectl_creates_a_job_from_a_cronjob(kubectl, namespace, kubelet):
    _apply(kubectl, namespace, _cronjob("nightly", schedule="0 3 * * *"))
    kubectl("-n", namespace, "create", "job", "by-hand", "--from=cronjob/nightly")
    job = _wait_condition(kubectl, namespace, "by-hand", "complete")
    cj = _get(kubectl, namespace, "cronjob", "nightly")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"]) == ("CronJob", "nightly", cj["metadata"]["uid"])
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
    # a completed Job it owns counts as its last success, though it did not schedule it
    assert _wait(lambda: _get(kubectl, namespace, "cronjob", "nightly")["status"].get(
        "lastSuccessfulTime") == job["status"]["completionTime"])


def test_a_cronjob_starts_the_job_its_schedule_missed(kubectl, server, namespace, kubelet):
    _apply(kubectl, namespace, _cronjob("every-minute", suspend=True,
                                        successfulJobsHistoryLimit=0))
    # the controller last ran it three minutes ago, so a minute's activation is due now
    past = (datetime.now(timezone.utc) - timedelta(minutes=3)).replace(second=0)
    status, _, body = server.request(
        "PATCH", f"/apis/batch/v1/namespaces/{namespace}/cronjobs/every-minute/status",
        body=json.dumps({"status": {"lastScheduleTime": past.strftime(
            "%Y-%m-%dT%H:%M:%SZ")}}).encode(),
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    kubectl("-n", namespace, "patch", "cronjob", "every-minute", "--type=merge", "-p",
            '{"spec":{"suspend":false}}')
    created = _wait(lambda: [e for e in _get(kubectl, namespace, "events", "--field-selector",
                                             "involvedObject.name=every-minute")["items"]
                             if e["reason"] == "SuccessfulCreate"])
    assert created, "no Job was created"
    name = created[0]["message"].removeprefix("Created job ")
    minutes = int(name.rsplit("-", 1)[1])
    now_minutes = int(time.time()) // 60
    assert now_minutes - 1 <= minutes <= now_minutes
    # the Job completes; history limit 0 deletes it; the status remembers both
    cj = _wait(lambda: (c := _get(kubectl, namespace, "cronjob", "every-minute"))["status"].get(
        "lastSuccessfulTime") and not c["status"].get("active") and c, timeout=40)
    assert cj["status"]["lastScheduleTime"] == datetime.fromtimestamp(
        minutes * 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    reasons = _wait(lambda: {r for r, _ in _events(kubectl, namespace, "every-minute")}
                    >= {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"} and
                    _events(kubectl, namespace, "every-minute"))
    assert ("SuccessfulDelete", f"Deleted job {name}") in reasons
    assert any(r == "SawCompletedJob" and m == f"Saw completed job: {name}, condition: Complete"
               for r, m in reasons)
    assert _wait(lambda: kubectl("-n", namespace, "get", "job", name,
                                 check=False).returncode != 0)
