"""One pass of the job controller's ``syncJob`` (upstream pkg/controller/job/
job_controller.go: syncJob, manageJob, trackJobStatusAndRemoveFinalizers,
flushUncountedAndRemoveFinalizers, enactJobFinished), kept apart from the controller's event
handling in job.py.

Exactly-once accounting of finished pods: their uids go into
``status.uncountedTerminatedPods`` in one status write, only then are their tracking
finalizers removed, and the uids whose pods no longer carry the finalizer move into
``succeeded``/``failed`` in a second write — a crash between the steps never counts a pod
twice or loses it.
"""
from __future__ import annotations

import asyncio
import copy
import time

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339

from . import job_util as ju
from . import podutil
from .replicaset import BURST

BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETIONS_MESSAGE = "Reached expected number of succeeded pods"
MAX_FAILED_INDEXES_MESSAGE = "Job has exceeded the specified maximal number of failed indexes"
FAILED_INDEXES_MESSAGE = "Job has failed indexes"


class JobSync:
    """The state of one ``syncJob`` pass (upstream ``syncJobCtx``)."""

    def __init__(self, ctl, key: str, job: dict, pods: list[dict]):
        self.ctl, self.key, self.job, self.pods = ctl, key, job, pods
        self.spec = job["spec"]
        self.status = job.setdefault("status", {})
        self.now = time.time()
        self.indexed = self.spec.get("completionMode") == "Indexed"
        self.completions = self.spec.get("completions")
        self.active_pods = [p for p in pods if podutil.is_active(p)]
        unc = self.status.get("uncountedTerminatedPods") or {}
        self.unc_succeeded = list(unc.get("succeeded") or [])
        self.unc_failed = list(unc.get("failed") or [])
        self.expected_rm = ctl.finalizers_expected.setdefault(key, set())
        self.finished: dict | None = None     # the Complete/Failed condition to end with
        self.removed: set[str] = set()        # uids of the pods this pass deleted
        self.per_index = self.indexed and self.spec.get("backoffLimitPerIndex") is not None
        self.succeeded_indexes: set[int] = set()
        self.failed_indexes: set[int] = set()
        self.delayed: dict[int, dict] = {}    # index -> its last failed pod, kept until replaced

    def _valid_index(self, pod: dict) -> bool:
        ix = ju.completion_index(pod)
        return ix is not None and ix < int(self.completions or 0)

    def _uncounted(self, pod: dict, counted: list[str]) -> bool:
        uid = pod["metadata"]["uid"]
        return ju.has_finalizer(pod) and uid not in counted and uid not in self.expected_rm and \
            (not self.indexed or self._valid_index(pod))

    async def run(self) -> None:
        ctl, job, spec, status = self.ctl, self.job, self.spec, self.status
        old_status = copy.deepcopy(status)
        new_succeeded = [p for p in self.pods if ju.phase(p) == "Succeeded" and
                         self._uncounted(p, self.unc_succeeded)]
        new_failed = [p for p in self.pods if ju.is_pod_failed(p, job) and
                      self._uncounted(p, self.unc_failed)]
        policy = spec.get("podFailurePolicy")
        if self.indexed:
            self.succeeded_indexes = ju.parse_indexes(status.get("completedIndexes"),
                                                      int(self.completions or 0))
            done = self.succeeded_indexes | {ju.completion_index(p) for p in new_succeeded}
            self.succeeded_indexes = done     # what manageJob must not start again
            succeeded = len(done)
            if self.per_index:
                self._failed_indexes()
        else:
            succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + \
                len(self.unc_succeeded)
        counted_failures = [p for p in new_failed if ju.match_pod_failure_policy(policy, p)[1]]
        failed = int(status.get("failed") or 0) + len(counted_failures) + len(self.unc_failed)
        active = len(self.active_pods)
        self.terminating = sum(1 for p in self.pods if ju.is_terminating(p))
        suspended = bool(spec.get("suspend"))
        if status.get("startTime") is None and not suspended:
            status["startTime"] = now_rfc3339()
        backoff = ctl.backoff.get(self.key, ju.BackoffRecord()).next(new_succeeded, new_failed,
                                                                     self.now)
        satisfied = ctl.expectations.satisfied(self.key)
        self._decide_failure(failed, suspended)
        if self.finished is None and self.indexed:
            self._decide_indexed(done)
        error = None
        if self.finished is not None:
            gone, error = await ctl.delete_pods(self.key, job, self.active_pods)
            self.removed |= gone
            deleted = len(gone)
            if deleted != active or not satisfied:
                self.finished = None       # pods may still appear or carry finalizers
            active -= deleted
            self.terminating += deleted    # Failed/Complete wait until they are gone
        else:
            manage_called = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active, error = await self._manage(active, succeeded, backoff, suspended)
                manage_called = True
            want = 1 if self.completions is None else int(self.completions)
            complete = succeeded > 0 and active == 0 if self.completions is None else \
                succeeded >= want and active == 0
            if complete:
                self._interim("SuccessCriteriaMet", "Complete", "CompletionsReached",
                              COMPLETIONS_MESSAGE)
            elif manage_called:
                self._suspension(suspended)
        status["active"] = active
        status["ready"] = sum(1 for p in self.active_pods if podutil.is_ready(p)
                              and p["metadata"]["uid"] not in self.removed)
        status["terminating"] = self.terminating
        if not status["active"]:
            status.pop("active")
        await self._track(old_status)
        if error is not None:
            raise error
        ctl.backoff[self.key] = backoff       # kept only once this pass's counts are on record

    # ---- decisions ----------------------------------------------------------------------------
    def _interim(self, interim: str, final: str, reason: str, message: str) -> None:
        """Record the interim condition now and remember the terminal one for later."""
        ju.ensure_condition(self.status, interim, "True", reason, message)
        self.finished = ju.new_condition(final, "True", reason, message)

    def _decide_failure(self, failed: int, suspended: bool) -> None:
        job, spec = self.job, self.spec
        target = ju.condition(job, "FailureTarget")
        criteria = ju.condition(job, "SuccessCriteriaMet")
        if target is not None and target.get("status") == "True":
            self.finished = ju.new_condition("Failed", "True", target.get("reason", ""),
                                             target.get("message", ""))
            return
        if criteria is not None and criteria.get("status") == "True":
            self.finished = ju.new_condition("Complete", "True", criteria.get("reason", ""),
                                             criteria.get("message", ""))
            return
        policy = spec.get("podFailurePolicy")
        if policy:
            for pod in self.pods:
                if ju.is_pod_failed(pod, job):
                    message = ju.match_pod_failure_policy(policy, pod)[0]
                    if message is not None:
                        return self._interim("FailureTarget", "Failed", "PodFailurePolicy",
                                             message)
        if failed > int(spec.get("backoffLimit") or 0) or \
                ju.past_backoff_limit_on_failure(job, self.pods):
            return self._interim("FailureTarget", "Failed", "BackoffLimitExceeded",
                                 BACKOFF_LIMIT_MESSAGE)
        deadline = spec.get("activeDeadlineSeconds")
        start = podutil.parse_time(self.status.get("startTime"))
        if deadline is not None and start is not None and not suspended:
            left = start + int(deadline) - self.now
            if left <= 0:
                return self._interim("FailureTarget", "Failed", "DeadlineExceeded",
                                     DEADLINE_MESSAGE)
            self.ctl.queue.add_after(self.key, left)

    def _failed_indexes(self) -> None:
        """``calculateFailedIndexes`` and ``getPodsWithDelayedDeletionPerIndex``."""
        job, completions = self.job, int(self.completions)
        self.failed_indexes = ju.parse_indexes(self.status.get("failedIndexes"), completions)
        for pod in self.pods:
            if self._valid_index(pod) and ju.is_index_failed(job, pod):
                self.failed_indexes.add(ju.completion_index(pod))
        active = {ju.completion_index(p) for p in self.active_pods}
        for pod in self.pods:
            ix = ju.completion_index(pod)
            if not ju.is_pod_failed(pod, job) or not ju.has_finalizer(pod) or \
                    pod["metadata"].get("deletionTimestamp") or not self._valid_index(pod) or \
                    ix in self.failed_indexes or ix in active or \
                    pod["metadata"]["uid"] in self.expected_rm:
                continue
            last = self.delayed.get(ix)
            if last is None or ju.finish_time(pod, self.now) > ju.finish_time(last, self.now):
                self.delayed[ix] = pod

    def _backing_off(self) -> set[int]:
        """Indexes whose last failure is too recent to retry (``getRemainingTimePerIndex``);
        the key comes back when the first of them may."""
        waiting, soonest = set(), None
        for ix, pod in self.delayed.items():
            left = ju.remaining_backoff(ju.index_absolute_failure_count(pod) + 1,
                                        ju.finish_time(pod, self.now), self.now,
                                        self.ctl.backoff_base, self.ctl.backoff_max)
            if left > 0:
                waiting.add(ix)
                soonest = left if soonest is None else min(soonest, left)
        if soonest is not None:
            self.ctl.queue.add_after(self.key, soonest)
        return waiting

    def _decide_indexed(self, succeeded: set[int]) -> None:
        """After the Job-wide checks: too many failed indexes, every index settled with some
        failed, or the success policy met (upstream syncJob, in that order)."""
        spec = self.spec
        if self.per_index:
            limit = spec.get("maxFailedIndexes")
            if limit is not None and len(self.failed_indexes) > int(limit):
                return self._interim("FailureTarget", "Failed", "MaxFailedIndexesExceeded",
                                     MAX_FAILED_INDEXES_MESSAGE)
            if self.failed_indexes and \
                    len(self.failed_indexes) + len(succeeded) >= int(self.completions):
                return self._interim("FailureTarget", "Failed", "FailedIndexes",
                                     FAILED_INDEXES_MESSAGE)
        message = ju.match_success_policy(spec.get("successPolicy"), int(self.completions),
                                          succeeded)
        if message is not None:
            self._interim("SuccessCriteriaMet", "Complete", "SuccessPolicy", message)

    def _suspension(self, suspended: bool) -> None:
        """The Suspended condition and its events; resuming restarts startTime, so the
        active deadline counts only time not suspended (upstream's comment in syncJob)."""
        if suspended:
            if ju.ensure_condition(self.status, "Suspended", "True", "JobSuspended",
                                   "Job suspended"):
                self.ctl.recorder.record(self.job, "Normal", "Suspended", "Job suspended")
        elif ju.ensure_condition(self.status, "Suspended", "False", "JobResumed", "Job resumed"):
            self.ctl.recorder.record(self.job, "Normal", "Resumed", "Job resumed")
            self.status["startTime"] = now_rfc3339()

    async def _manage(self, active: int, succeeded: int, backoff, suspended: bool):
        """``manageJob``: (active pods after this pass, the first error)."""
        ctl, job = self.ctl, self.job
        pods = self.active_pods
        if suspended:
            gone, error = await ctl.delete_pods(self.key, job, podutil.deletion_order(pods))
            self.removed |= gone
            self.terminating += len(gone)
            return active - len(gone), error
        parallelism = int(self.spec.get("parallelism") or 0)
        if self.completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            remaining = int(self.completions) - succeeded - len(self.failed_indexes)
            want = max(0, min(remaining, parallelism))
        victims = []
        if self.indexed:       # pods of failed indexes stop too (backoffLimitPerIndex)
            victims = ju.indexed_pods_for_removal(pods, self.succeeded_indexes |
                                                  self.failed_indexes, int(self.completions))
        surplus = active - len(victims) - want
        if surplus > 0:
            keep = [p for p in pods if p not in victims]
            victims += podutil.deletion_order(keep)[:surplus]
        if victims:
            gone, error = await ctl.delete_pods(self.key, job, victims[:BURST])
            self.removed |= gone
            self.terminating += len(gone)
            return active - len(gone), error
        terminating = self.terminating if ju.only_replace_failed(job) else 0
        if active + terminating >= want:
            return active, None
        # an index with its own back-off limit backs off by itself (below), not the Job
        wait = 0 if self.per_index else backoff.remaining(self.now, ctl.backoff_base,
                                                          ctl.backoff_max)
        if wait > 0:
            ctl.queue.add_after(self.key, wait)
            return active, None
        diff = min(want - terminating - active, BURST)
        annotations = {}
        if self.indexed:
            indexes = ju.first_pending_indexes(pods, self.succeeded_indexes |
                                               self.failed_indexes | self._backing_off(),
                                               diff, int(self.completions))
            if self.per_index:
                annotations = {ix: ju.new_index_failure_counts(job, self.delayed.get(ix))
                               for ix in indexes}
        else:
            indexes = [None] * diff
        error = await ctl.create_pods(self.key, job, indexes, annotations)
        for ix in indexes:        # replaced: the failed pod's finalizer may go now
            self.delayed.pop(ix, None)
        return active + len(indexes), error

    # ---- accounting (trackJobStatusAndRemoveFinalizers) ---------------------------------------
    async def _track(self, old_status: dict) -> None:
        job, status = self.job, self.status
        finishing = self.finished is not None or bool(job["metadata"].get("deletionTimestamp"))
        failing = self.finished is not None and self.finished["type"] == "Failed"
        policy = self.spec.get("podFailurePolicy")
        release = []
        for pod in self.pods:
            uid = pod["metadata"]["uid"]
            if not ju.has_finalizer(pod) or uid in self.expected_rm:
                continue
            considered_failed = ju.is_pod_failed(pod, job)
            if not (finishing or ju.phase(pod) == "Succeeded" or considered_failed):
                continue
            if not finishing and any(d is pod for d in self.delayed.values()):
                continue          # canRemoveFinalizer: its index still needs its counts
            release.append(pod)
            if ju.phase(pod) == "Succeeded" and uid not in self.unc_failed:
                # an Indexed Job's index is already in succeeded_indexes: the index, not the
                # uid, keeps it from being counted twice
                if not self.indexed and uid not in self.unc_succeeded:
                    self.unc_succeeded.append(uid)
            elif considered_failed or failing:
                if uid not in self.unc_failed and (not self.indexed or self._valid_index(pod)) \
                        and ju.match_pod_failure_policy(policy, pod)[1]:
                    self.unc_failed.append(uid)
        if self.indexed:
            status["succeeded"] = len(self.succeeded_indexes)
            status["completedIndexes"] = ju.format_indexes(self.succeeded_indexes)
            if not status["succeeded"]:
                status.pop("succeeded")
        if self.per_index:
            status["failedIndexes"] = ju.format_indexes(self.failed_indexes)
        status["uncountedTerminatedPods"] = _uncounted(self.unc_succeeded, self.unc_failed)
        if status != old_status:
            await self._write()                # the uids are on record before any release
        removed, release_error = await self._release(release)
        with_finalizer = {p["metadata"]["uid"] for p in self.pods if ju.has_finalizer(p)
                          and p["metadata"]["uid"] not in self.expected_rm} - removed
        moved = False
        for field, uids in (("succeeded", self.unc_succeeded), ("failed", self.unc_failed)):
            gone = [u for u in uids if u not in with_finalizer]
            if gone:
                moved = True
                status[field] = int(status.get(field) or 0) + len(gone)
                uids[:] = [u for u in uids if u in with_finalizer]
        status["uncountedTerminatedPods"] = _uncounted(self.unc_succeeded, self.unc_failed)
        finished = self._enact_finished()
        if moved or finished:
            await self._write()
            if finished:
                self._record_finished()
        if release_error is not None:
            raise release_error               # retried; the released pods are counted already

    def _enact_finished(self) -> bool:
        """``enactJobFinished``: only with nothing left uncounted and no pod terminating."""
        cond = self.finished
        if cond is None or self.unc_succeeded or self.unc_failed or self.terminating > 0:
            return False
        ju.ensure_condition(self.status, cond["type"], "True", cond["reason"], cond["message"],
                            cond["lastTransitionTime"])
        if cond["type"] == "Complete":
            self.status["completionTime"] = cond["lastTransitionTime"]
        return True

    def _record_finished(self) -> None:
        cond = self.finished
        if cond["type"] == "Complete":
            self.ctl.recorder.record(self.job, "Normal", "Completed", "Job completed")
        else:
            self.ctl.recorder.record(self.job, "Warning", cond["reason"], cond["message"])

    async def _write(self) -> dict:
        try:
            fresh = await self.ctl.put_status(self.job)
        except ApiError as exc:
            if exc.status == 404:
                return self.job
            raise
        self.job["metadata"]["resourceVersion"] = fresh["metadata"].get("resourceVersion")
        return self.job

    async def _release(self, pods: list[dict]) -> tuple[set[str], BaseException | None]:
        """Remove the tracking finalizer of ``pods``: (the uids whose removal succeeded, the
        first failure).  A pod whose finalizer list changed meanwhile (422 on the test
        operation) is left for the sync its update event brings."""
        if not pods:
            return set(), None
        uids = [p["metadata"]["uid"] for p in pods]
        self.expected_rm.update(uids)
        results = await asyncio.gather(*(self.ctl._remove_finalizer(p) for p in pods),
                                       return_exceptions=True)
        done, error = set(), None
        for uid, r in zip(uids, results):
            if r is True:
                done.add(uid)
            else:
                self.expected_rm.discard(uid)
                if not (isinstance(r, ApiError) and r.status in (409, 422)):
                    error = error or r
        return done, error


def _uncounted(succeeded: list[str], failed: list[str]) -> dict:
    out = {}
    if succeeded:
        out["succeeded"] = list(succeeded)
    if failed:
        out["failed"] = list(failed)
    return out
