"""The cronjob controller (upstream pkg/controller/cronjob/cronjob_controllerv2.go,
release-1.32).

Each sync of a CronJob: reconcile ``status.active`` with the Jobs it controls (finished ones
leave it with SawCompletedJob, vanished ones with MissingJob; completions advance
``lastSuccessfulTime``), then, unless suspended, find the most recent unmet activation of the
schedule (in ``spec.timeZone``) no older than ``startingDeadlineSeconds`` and start a Job
for it — named ``<cronjob>-<minutes since the epoch>`` so an activation yields at most one
Job — as ``concurrencyPolicy`` allows (Forbid skips while one is active, Replace deletes the
active ones first), then delete finished Jobs beyond the history limits.  The key is
requeued for just after the next activation, so no periodic resync is needed.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

from apiserver.client import ApiError

from . import cronjob_util as cu
from . import podutil
from .base import Controller, split_key
from .job_util import finished_condition

CRONJOBS = "/apis/batch/v1/cronjobs"
JOBS = "/apis/batch/v1/jobs"


def _jobs_path(ns: str, name: str = "") -> str:
    return f"/apis/batch/v1/namespaces/{ns}/jobs" + (f"/{name}" if name else "")


def _ref(job: dict) -> dict:
    """``ref.GetReference`` of a Job, as status.active holds it."""
    m = job["metadata"]
    return {"kind": "Job", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
            "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion", "")}


def _namespace_terminating(exc: ApiError) -> bool:
    details = (exc.body or {}).get("details") if isinstance(exc.body, dict) else None
    return any(c.get("type") == "NamespaceTerminating"
               for c in (details or {}).get("causes") or [])


class CronJobController(Controller):
    name = "cronjob"

    def __init__(self, client, informers, recorder, *, clock=None):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.cronjobs = informers.add_handler(CRONJOBS, self._on_cronjob)
        self.jobs = informers.add_handler(JOBS, self._on_job)

    # ---- events -------------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_cronjob(self, event, cj, old):
        if event != "DELETED":
            self.queue.add(self._key(cj))

    def _on_job(self, event, job, old):
        for candidate in (job, old):
            ref = podutil.controller_ref(candidate) if candidate is not None else None
            if ref is not None and ref.get("kind") == "CronJob":
                self.queue.add(f"{job['metadata'].get('namespace')}/{ref.get('name')}")

    def _jobs_of(self, cj: dict) -> list[dict]:
        ns, uid = cj["metadata"]["namespace"], cj["metadata"]["uid"]
        out = []
        for job in list(self.jobs.cache.values()):
            ref = podutil.controller_ref(job)
            if job["metadata"].get("namespace") == ns and ref is not None and \
                    ref.get("uid") == uid:
                out.append(job)
        return out

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.cronjobs.get(name, ns)
        if cached is None:
            return
        cj = copy.deepcopy(cached)
        jobs = self._jobs_of(cj)
        requeue, update = await self.sync_cronjob(cj, jobs, self.clock())
        if await self.cleanup_finished_jobs(cj, jobs):
            update = True
        if update and cj.get("status") != cached.get("status"):
            m = cj["metadata"]
            try:
                await self.client.update(
                    f"/apis/batch/v1/namespaces/{m['namespace']}/cronjobs/{m['name']}/status", cj)
            except ApiError as exc:
                if exc.status != 404:
                    raise
        if requeue is not None:
            self.queue.add_after(key, requeue)

    async def sync_cronjob(self, cj: dict, jobs: list[dict], now: datetime):
        """``syncCronJob``: bring ``cj`` (a copy, changed in place) up to date and start the
        Job its schedule calls for; (seconds until the next sync or None, whether the status
        changed).  ``now`` is a timezone-aware datetime."""
        status = cj.setdefault("status", {})
        spec = cj["spec"]
        update = False
        active = status.setdefault("active", [])
        active_uids = {a.get("uid") for a in active}
        children = set()
        for job in jobs:
            uid = job["metadata"]["uid"]
            children.add(uid)
            done = finished_condition(job)
            if uid not in active_uids and not done:
                self.recorder.record(cj, "Warning", "UnexpectedJob", "Saw a job that the "
                                     f"controller did not create or forgot: {job['metadata']['name']}")
            elif uid in active_uids and done:
                status["active"] = active = [a for a in active if a.get("uid") != uid]
                self.recorder.record(cj, "Normal", "SawCompletedJob",
                                     f"Saw completed job: {job['metadata']['name']}, "
                                     f"condition: {done}")
                update = True
            if done == "Complete":
                completed = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if completed and (last is None or cu.parse_time(completed) > cu.parse_time(last)):
                    status["lastSuccessfulTime"] = completed
                    update = True
        for ref in list(active):
            if ref.get("uid") in children:
                continue
            # the informer may lag behind our own create: ask the server before forgetting
            try:
                await self.client.get(_jobs_path(ref.get("namespace") or cj["metadata"]["namespace"],
                                                 ref.get("name")))
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self.recorder.record(cj, "Normal", "MissingJob",
                                     f"Active job went missing: {ref.get('name')}")
                status["active"] = active = [a for a in active if a.get("uid") != ref.get("uid")]
                update = True
        if not active:
            status.pop("active")
        if cj["metadata"].get("deletionTimestamp"):
            return None, update
        zone_name = spec.get("timeZone")
        if zone_name:
            try:
                cu.zoneinfo.ZoneInfo(zone_name)
            except (cu.zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                self.recorder.record(cj, "Warning", "UnknownTimeZone",
                                     f'invalid timeZone: "{zone_name}": {exc}')
                return None, update
        if spec.get("suspend"):
            return None, update
        try:
            sched = cu.Schedule(spec.get("schedule") or "", zone_name)
        except cu.ScheduleError as exc:
            self.recorder.record(cj, "Warning", "UnparseableSchedule",
                                 f'unparseable schedule: "{spec.get("schedule")}" : {exc}')
            return None, update
        try:
            scheduled, too_many = cu.next_schedule_time(cj, now, sched)
        except cu.ScheduleError as exc:
            self.recorder.record(cj, "Warning", "InvalidSchedule",
                                 f"invalid schedule: {spec.get('schedule')} : {exc}")
            return None, update
        if too_many:
            self.recorder.record(cj, "Warning", "TooManyMissedTimes",
                                 "too many missed start times. Set or decrease "
                                 ".spec.startingDeadlineSeconds or check clock skew")
        later = cu.next_schedule_delay(cj, now, sched)
        if scheduled is None:
            return later, update
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and (scheduled - now).total_seconds() + int(deadline) < 0:
            self.recorder.record(cj, "Warning", "MissSchedule", "Missed scheduled time to start "
                                 f"a job: {scheduled.strftime('%a, %d %b %Y %H:%M:%S +0000')}")
            return later, update
        name = cu.job_name(cj, scheduled)
        if any(a.get("name") == name for a in status.get("active") or []) or \
                status.get("lastScheduleTime") == cu.format_time(scheduled):
            return later, update       # this activation has been handled already
        if spec.get("concurrencyPolicy") == "Forbid" and status.get("active"):
            self.recorder.record(cj, "Normal", "JobAlreadyActive", "Not starting job because "
                                 "prior execution is running and concurrency policy is Forbid")
            return later, update
        if spec.get("concurrencyPolicy") == "Replace":
            for ref in list(status.get("active") or []):
                try:
                    job = await self.client.get(_jobs_path(ref.get("namespace"), ref.get("name")))
                except ApiError as exc:
                    self.recorder.record(cj, "Warning", "FailedGet", f"Get job: {exc.message}")
                    raise
                if not await self.delete_job(cj, job):
                    raise RuntimeError(f"could not replace job {ref.get('namespace')}/"
                                       f"{ref.get('name')}")
                update = True
        request = cu.job_from_template(cj, scheduled, sched.zone)
        ns = cj["metadata"]["namespace"]
        try:
            created = await self.client.create(_jobs_path(ns), request)
            self.recorder.record(cj, "Normal", "SuccessfulCreate",
                                 f"Created job {created['metadata']['name']}")
        except ApiError as exc:
            if exc.status != 409 or exc.reason != "AlreadyExists":
                if not _namespace_terminating(exc):   # every create would fail: no event
                    self.recorder.record(cj, "Warning", "FailedCreate",
                                         f"Error creating job: {exc.message}")
                raise
            # made by an earlier sync whose status update was lost: take it over if ours
            created = await self.client.get(_jobs_path(ns, request["metadata"]["name"]))
            ref = podutil.controller_ref(created)
            if ref is None or ref.get("uid") != cj["metadata"]["uid"]:
                raise RuntimeError(f"job {ns}/{request['metadata']['name']} was found but not "
                                   "owned by cronjob") from None
        status.setdefault("active", []).append(_ref(created))
        status["lastScheduleTime"] = cu.format_time(scheduled)
        return cu.next_schedule_delay(cj, now, sched), True

    async def delete_job(self, cj: dict, job: dict) -> bool:
        """``deleteJob``: delete with its pods (Background) and drop it from status.active."""
        m = job["metadata"]
        try:
            await self.client.delete(_jobs_path(m["namespace"], m["name"]),
                                     {"propagationPolicy": "Background"})
        except ApiError as exc:
            if exc.status != 404:
                self.recorder.record(cj, "Warning", "FailedDelete", f"Deleted job: {exc.message}")
                return False
        status = cj.setdefault("status", {})
        remaining = [a for a in status.get("active") or [] if a.get("uid") != m.get("uid")]
        if remaining:
            status["active"] = remaining
        else:
            status.pop("active", None)
        self.recorder.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {m['name']}")
        return True

    async def cleanup_finished_jobs(self, cj: dict, jobs: list[dict]) -> bool:
        """``cleanupFinishedJobs``: delete the oldest finished Jobs (by startTime) beyond
        successfulJobsHistoryLimit and failedJobsHistoryLimit."""
        spec = cj["spec"]
        changed = False
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                            ("Failed", spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            done = [j for j in jobs if finished_condition(j) == kind]
            surplus = len(done) - int(limit)
            if surplus <= 0:
                continue
            done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") is None,
                                     (j.get("status") or {}).get("startTime") or "",
                                     j["metadata"]["name"]))
            for job in done[:surplus]:
                if await self.delete_job(cj, job):
                    changed = True
        return changed
