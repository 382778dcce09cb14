"""The cronjob controller's schedule math (workers/controllers/cronjob_util.py) and its
decision function ``sync_cronjob`` against an in-memory client, at chosen instants (upstream
pkg/controller/cronjob/utils_test.go and cronjob_controllerv2_test.go cover the same)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from apiserver.client import ApiError
from workers.controllers import cronjob_util as cu
from workers.controllers.cronjob import CronJobController

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def cronjob(schedule="* * * * *", created="2026-01-01T10:00:00Z", last=None, **spec):
    status = {"lastScheduleTime": last} if last else {}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "cj", "namespace": "ns", "uid": "cj-uid",
                         "creationTimestamp": created},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                                     "spec": {"template": {"spec": {"containers": []}}}},
                     **spec},
            "status": status}


# ---- schedules ------------------------------------------------------------------------------
def test_next_is_strictly_after_and_honours_descriptors_zones_and_every():
    assert cu.Schedule("* * * * *").next(at("2026-01-01T10:00:00Z")) == at("2026-01-01T10:01:00Z")
    assert cu.Schedule("* * * * *").next(at("2026-01-01T10:00:30Z")) == at("2026-01-01T10:01:00Z")
    assert cu.Schedule("@hourly").next(at("2026-01-01T10:00:00Z")) == at("2026-01-01T11:00:00Z")
    # 09:00 in New York is 14:00 UTC in winter; a TZ= prefix means the same
    ny = cu.Schedule("0 9 * * *", "America/New_York")
    assert ny.next(at("2026-01-01T10:00:00Z")) == at("2026-01-01T14:00:00Z")
    assert cu.Schedule("TZ=America/New_York 0 9 * * *").next(at("2026-01-01T10:00:00Z")) == \
        at("2026-01-01T14:00:00Z")
    assert cu.Schedule("@every 90s").next(at("2026-01-01T10:00:00Z")) == \
        at("2026-01-01T10:01:30Z")
    assert cu.Schedule("0 0 31 2 *").next(at("2026-01-01T10:00:00Z")) is None
    # robfig's day matching: 13th OR Friday; but "*/2" days AND Friday (2026-01-01 is a
    # Thursday, the 2nd a Friday, the 9th the next Friday)
    assert cu.Schedule("0 0 13 * 5").next(at("2026-01-01T10:00:00Z")) == \
        at("2026-01-02T00:00:00Z")
    assert cu.Schedule("0 0 */2 * 5").next(at("2026-01-01T10:00:00Z")) == \
        at("2026-01-09T00:00:00Z")
    with pytest.raises(cu.ScheduleError):
        cu.Schedule("61 * * * *")
    with pytest.raises(cu.ScheduleError):
        cu.Schedule("* * * * *", "Mars/Olympus")


def test_most_recent_schedule_time_counts_missed_activations():
    sched = cu.Schedule("* * * * *")
    cj = cronjob(created="2026-01-01T10:00:00Z")
    assert cu.most_recent_schedule_time(cj, at("2026-01-01T10:00:59Z"), sched, True) == \
        (at("2026-01-01T10:00:00Z"), None, cu.Missed.NONE)
    _, recent, missed = cu.most_recent_schedule_time(cj, at("2026-01-01T10:01:10Z"), sched, True)
    assert (recent, missed) == (at("2026-01-01T10:01:00Z"), cu.Missed.FEW)
    _, recent, missed = cu.most_recent_schedule_time(cj, at("2026-01-01T10:30:10Z"), sched, True)
    assert (recent, missed) == (at("2026-01-01T10:30:00Z"), cu.Missed.FEW)
    # lastScheduleTime, not creation, is where counting starts
    cj = cronjob(created="2025-01-01T00:00:00Z", last="2026-01-01T10:29:00Z")
    _, recent, missed = cu.most_recent_schedule_time(cj, at("2026-01-01T10:30:10Z"), sched, True)
    assert (recent, missed) == (at("2026-01-01T10:30:00Z"), cu.Missed.FEW)


def test_uneven_schedules_are_walked_and_many_misses_are_estimated():
    sched = cu.Schedule("0 0 1,15 * *")            # gaps of 14 and 16-17 days
    cj = cronjob(created="2026-01-01T00:00:00Z")
    _, recent, _ = cu.most_recent_schedule_time(cj, at("2026-03-10T00:00:00Z"), sched, True)
    assert recent == at("2026-03-01T00:00:00Z")
    cj = cronjob(created="2026-01-01T00:00:00Z")
    _, recent, missed = cu.most_recent_schedule_time(cj, at("2026-01-01T03:00:30Z"),
                                                     cu.Schedule("* * * * *"), True)
    assert (recent, missed) == (at("2026-01-01T03:00:00Z"), cu.Missed.MANY)


def test_starting_deadline_limits_how_far_back_activations_count():
    sched = cu.Schedule("* * * * *")
    cj = cronjob(created="2026-01-01T00:00:00Z", startingDeadlineSeconds=200)
    _, recent, missed = cu.most_recent_schedule_time(cj, at("2026-01-01T05:00:30Z"), sched, True)
    assert (recent, missed) == (at("2026-01-01T05:00:00Z"), cu.Missed.FEW)
    # an activation older than the deadline is never started
    cj = cronjob(schedule="0 * * * *", created="2026-01-01T00:00:00Z",
                 startingDeadlineSeconds=60)
    assert cu.next_schedule_time(cj, at("2026-01-01T05:10:00Z"), cu.Schedule("0 * * * *")) == \
        (None, False)


def test_next_schedule_delay_aims_just_past_the_next_activation():
    sched = cu.Schedule("*/5 * * * *")
    cj = cronjob(created="2026-01-01T10:00:00Z")
    assert cu.next_schedule_delay(cj, at("2026-01-01T10:01:00Z"), sched) == \
        pytest.approx(4 * 60 + cu.NEXT_SCHEDULE_DELTA)
    cj = cronjob(created="2026-01-01T10:00:00Z", last="2026-01-01T10:05:00Z")
    assert cu.next_schedule_delay(cj, at("2026-01-01T10:07:30Z"), sched) == \
        pytest.approx(150 + cu.NEXT_SCHEDULE_DELTA)


def test_job_names_and_the_scheduled_timestamp_annotation():
    cj = cronjob()
    t = at("2026-01-01T14:00:00Z")
    assert cu.job_name(cj, t) == f"cj-{int(t.timestamp()) // 60}"
    job = cu.job_from_template(cj, t, ZoneInfo("America/New_York"))
    assert job["metadata"]["annotations"][cu.SCHEDULED_TIMESTAMP] == "2026-01-01T09:00:00-05:00"
    assert cu.job_from_template(cj, t, UTC)["metadata"]["annotations"][
        cu.SCHEDULED_TIMESTAMP] == "2026-01-01T14:00:00Z"
    assert job["metadata"]["labels"] == {"team": "a"}
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("CronJob", "cj-uid", True)


# ---- the decision function ------------------------------------------------------------------
class FakeInformer:
    def __init__(self):
        self.cache = {}

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}")


class FakeInformers:
    def add_handler(self, path, fn):
        return FakeInformer()


class FakeClient:
    def __init__(self, jobs=()):
        self.jobs = {j["metadata"]["name"]: j for j in jobs}
        self.created, self.deleted = [], []

    async def create(self, path, obj):
        if obj["metadata"]["name"] in self.jobs:
            raise ApiError(409, "AlreadyExists", "exists")
        obj = dict(obj, metadata=dict(obj["metadata"], uid=f"uid-{obj['metadata']['name']}",
                                      resourceVersion="1"))
        self.jobs[obj["metadata"]["name"]] = obj
        self.created.append(obj)
        return obj

    async def get(self, path):
        name = path.rsplit("/", 1)[1]
        if name not in self.jobs:
            raise ApiError(404, "NotFound", "not found")
        return self.jobs[name]

    async def delete(self, path, options=None):
        name = path.rsplit("/", 1)[1]
        self.deleted.append((name, options))
        self.jobs.pop(name, None)


class FakeRecorder:
    def __init__(self):
        self.events = []

    def record(self, obj, kind, reason, message, field_path=None):
        self.events.append((kind, reason, message))


def controller(client):
    return CronJobController(client, FakeInformers(), FakeRecorder())


def sync(ctl, cj, jobs, now):
    return asyncio.run(ctl.sync_cronjob(cj, jobs, at(now)))


def job(name, uid=None, finished=None, completion=None):
    status = {}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
    if completion:
        status["completionTime"] = completion
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}",
                         "ownerReferences": [{"kind": "CronJob", "uid": "cj-uid",
                                              "controller": True}]},
            "status": status}


def test_a_due_activation_creates_its_job_and_requeues_for_the_next():
    client = FakeClient()
    ctl = controller(client)
    cj = cronjob(created="2026-01-01T10:00:00Z")
    requeue, update = sync(ctl, cj, [], "2026-01-01T10:01:20Z")
    name = f"cj-{int(at('2026-01-01T10:01:00Z').timestamp()) // 60}"
    assert update and [j["metadata"]["name"] for j in client.created] == [name]
    assert cj["status"]["lastScheduleTime"] == "2026-01-01T10:01:00Z"
    assert [a["name"] for a in cj["status"]["active"]] == [name]
    assert requeue == pytest.approx(40 + cu.NEXT_SCHEDULE_DELTA)
    assert ("Normal", "SuccessfulCreate", f"Created job {name}") in ctl.recorder.events
    # the same activation again: nothing new
    requeue, update = sync(ctl, cj, [client.jobs[name]], "2026-01-01T10:01:30Z")
    assert len(client.created) == 1 and not update


def test_nothing_is_due_before_the_first_activation_or_while_suspended():
    client = FakeClient()
    ctl = controller(client)
    requeue, update = sync(ctl, cronjob(created="2026-01-01T10:00:10Z"), [],
                           "2026-01-01T10:00:30Z")
    assert client.created == [] and requeue == pytest.approx(30 + cu.NEXT_SCHEDULE_DELTA)
    requeue, _ = sync(ctl, cronjob(created="2026-01-01T10:00:00Z", suspend=True), [],
                      "2026-01-01T11:00:00Z")
    assert client.created == [] and requeue is None


def test_forbid_skips_while_a_job_is_active_and_replace_deletes_it():
    running = job("cj-old")
    active = [{"kind": "Job", "name": "cj-old", "namespace": "ns", "uid": "uid-cj-old"}]
    client = FakeClient([running])
    ctl = controller(client)
    cj = cronjob(created="2026-01-01T10:00:00Z", concurrencyPolicy="Forbid")
    cj["status"]["active"] = list(active)
    sync(ctl, cj, [running], "2026-01-01T10:01:05Z")
    assert client.created == []
    assert ("Normal", "JobAlreadyActive", "Not starting job because prior execution is "
            "running and concurrency policy is Forbid") in ctl.recorder.events

    cj = cronjob(created="2026-01-01T10:00:00Z", concurrencyPolicy="Replace")
    cj["status"]["active"] = list(active)
    sync(ctl, cj, [running], "2026-01-01T10:01:05Z")
    assert client.deleted == [("cj-old", {"propagationPolicy": "Background"})]
    assert [a["name"] for a in cj["status"]["active"]] == [client.created[0]["metadata"]["name"]]
    assert ("Normal", "SuccessfulDelete", "Deleted job cj-old") in ctl.recorder.events


def test_finished_and_missing_jobs_leave_the_active_list():
    done = job("cj-1", finished="Complete", completion="2026-01-01T10:00:30Z")
    client = FakeClient([done])
    ctl = controller(client)
    cj = cronjob(created="2026-01-01T10:00:00Z", suspend=True)
    cj["status"]["active"] = [{"name": "cj-1", "namespace": "ns", "uid": "uid-cj-1"},
                              {"name": "cj-2", "namespace": "ns", "uid": "uid-cj-2"}]
    _, update = sync(ctl, cj, [done], "2026-01-01T10:01:05Z")
    assert update and "active" not in cj["status"]
    assert cj["status"]["lastSuccessfulTime"] == "2026-01-01T10:00:30Z"
    assert ("Normal", "SawCompletedJob", "Saw completed job: cj-1, condition: Complete") in \
        ctl.recorder.events
    assert ("Normal", "MissingJob", "Active job went missing: cj-2") in ctl.recorder.events


def test_too_many_missed_activations_warn_and_still_start_the_latest():
    client = FakeClient()
    ctl = controller(client)
    cj = cronjob(created="2026-01-01T00:00:00Z")
    sync(ctl, cj, [], "2026-01-02T00:00:30Z")
    assert cj["status"]["lastScheduleTime"] == "2026-01-02T00:00:00Z"
    assert any(reason == "TooManyMissedTimes" for _, reason, _ in ctl.recorder.events)


def test_history_limits_delete_the_oldest_finished_jobs():
    jobs = [dict(job(f"cj-{i}", finished="Complete"), status={
        "conditions": [{"type": "Complete", "status": "True"}],
        "startTime": f"2026-01-01T10:0{i}:00Z"}) for i in range(4)]
    jobs.append(job("cj-f", finished="Failed"))
    client = FakeClient(jobs)
    ctl = controller(client)
    cj = cronjob(successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
    assert asyncio.run(ctl.cleanup_finished_jobs(cj, jobs))
    assert [name for name, _ in client.deleted] == ["cj-0", "cj-1"]
    assert not asyncio.run(ctl.cleanup_finished_jobs(cj, jobs[2:]))     # within the limits
