"""The job controller (upstream pkg/controller/job/job_controller.go, release-1.32).

Each sync of a Job: claim its pods (adopting orphans its selector matches, with the
``batch.kubernetes.io/job-tracking`` finalizer), count the pods that finished since the last
sync, decide whether the Job has failed (pod failure policy FailJob, backoffLimit, restarts
under restartPolicy OnFailure, activeDeadlineSeconds) or succeeded (completions reached),
else create or delete pods towards ``min(parallelism, remaining completions)`` (Indexed Jobs
by completion index, after the exponential back-off since the last failure), and finally
account for finished pods exactly once through ``status.uncountedTerminatedPods``: their
uids are written there first, then their finalizers are removed, then they move into
``succeeded``/``failed``.  As 1.32 does (JobPodReplacementPolicy and JobSuccessPolicy on),
a Job gets the interim FailureTarget / SuccessCriteriaMet condition first and Failed /
Complete only once no pod of it is terminating or uncounted.  The pass itself is
job_sync.py's ``JobSync``; this module holds the event handlers, adoption, pod creation and
deletion, and the release of orphaned pods' finalizers.
"""
from __future__ import annotations

import asyncio
import copy

from apiserver.client import ApiError

from . import job_util as ju
from . import podutil, selectors
from .base import Controller, split_key
from .job_sync import JobSync
from .replicaset import Expectations

JOBS = "/apis/batch/v1/jobs"
PODS = "/api/v1/pods"
ORPHAN = "orphan-pod:"           # queue keys of pods whose finalizer no Job will remove


def job_path(ns: str, name: str) -> str:
    return f"/apis/batch/v1/namespaces/{ns}/jobs/{name}"


def pod_path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods/{name}"


class JobController(Controller):
    """``backoff_base``/``backoff_max``: the pod failure back-off (upstream's 10 s and 10 min
    package variables, which upstream's integration tests also shorten)."""
    name = "job"

    def __init__(self, client, informers, recorder, *, backoff_base: float = ju.BACKOFF_BASE,
                 backoff_max: float = ju.BACKOFF_MAX):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.jobs = informers.add_handler(JOBS, self._on_job)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.expectations = Expectations()
        self.finalizers_expected: dict[str, set[str]] = {}   # job key -> uids being released
        self.backoff: dict[str, ju.BackoffRecord] = {}
        self.written: dict[str, int] = {}     # job key -> resourceVersion of our last write

    # ---- events -------------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_job(self, event, job, old):
        key = self._key(job)
        if event == "DELETED":
            self.expectations.forget(key)
            self.finalizers_expected.pop(key, None)
            self.backoff.pop(key, None)
            self.written.pop(key, None)
            uid = job["metadata"].get("uid")
            for pod in list(self.pods.cache.values()):
                ref = podutil.controller_ref(pod)
                if ref is not None and ref.get("uid") == uid and ju.has_finalizer(pod):
                    self.queue.add(ORPHAN + self._key(pod))
            return
        self.queue.add(key)

    def _job_of(self, pod: dict) -> dict | None:
        return podutil.resolve_controller_ref(pod, "Job", self.jobs)

    def _on_pod(self, event, pod, old):
        job = self._job_of(pod)
        uid = pod["metadata"].get("uid")
        if job is not None:
            key = self._key(job)
            if event == "ADDED":
                self.expectations.created(key)
            elif event == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deleted(key, uid)
            if event == "DELETED" or not ju.has_finalizer(pod):
                self.finalizers_expected.get(key, set()).discard(uid)
            self.queue.add(key)
            if ju.finished_condition(job) and ju.has_finalizer(pod) and event != "DELETED":
                self.queue.add(ORPHAN + self._key(pod))
        elif ju.has_finalizer(pod) and event != "DELETED":
            self.queue.add(ORPHAN + self._key(pod))
        if old is not None:
            previous = self._job_of(old)
            if previous is not None and previous is not job:
                self.queue.add(self._key(previous))
        if podutil.controller_ref(pod) is None and event != "DELETED":
            ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels")
            for candidate in list(self.jobs.cache.values()):
                if candidate["metadata"].get("namespace") == ns and \
                        selectors.matches(candidate["spec"].get("selector"), labels):
                    self.queue.add(self._key(candidate))

    # ---- orphan pods (syncOrphanPod) --------------------------------------------------------
    async def sync_orphan(self, key: str) -> None:
        """Remove the tracking finalizer of a pod whose Job is gone, finished or no longer
        its controller: nobody else would, and the pod could never be deleted."""
        ns, name = split_key(key)
        pod = self.pods.get(name, ns)
        if pod is None or not ju.has_finalizer(pod):
            return
        job = self._job_of(pod)
        if job is not None and not ju.finished_condition(job):
            return
        await self._remove_finalizer(pod)

    async def _remove_finalizer(self, pod: dict) -> bool:
        finalizers = pod["metadata"].get("finalizers") or []
        i = finalizers.index(ju.TRACKING_FINALIZER)
        m = pod["metadata"]
        try:
            await self.client.patch(pod_path(m["namespace"], m["name"]), [
                {"op": "test", "path": f"/metadata/finalizers/{i}", "value": ju.TRACKING_FINALIZER},
                {"op": "remove", "path": f"/metadata/finalizers/{i}"}])
            return True
        except ApiError as exc:
            if exc.status == 404:
                return True
            raise

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """One pass of ``syncJob`` over the Job ``key`` (or an orphan pod's finalizer)."""
        if key.startswith(ORPHAN):
            return await self.sync_orphan(key[len(ORPHAN):])
        ns, name = split_key(key)
        job = self.jobs.get(name, ns)
        if job is None:
            self.expectations.forget(key)
            self.backoff.pop(key, None)
            self.written.pop(key, None)
            return
        if self._stale(key, job):
            # The cache still holds a Job older than our own last status write: deciding
            # from it could count pods whose finalizers are gone as never finished and
            # replace them.  Its update event requeues the key; the timer is a fallback.
            self.queue.add_after(key, 0.5)
            return
        managed_by = job["spec"].get("managedBy")
        if managed_by and managed_by != ju.MANAGED_BY:
            return                             # another controller owns this Job's status
        if ju.finished_condition(job):
            self.backoff.pop(key, None)
            return
        job = copy.deepcopy(job)
        pods = await self.claim(job)
        await JobSync(self, key, job, pods).run()

    async def claim(self, job: dict) -> list[dict]:
        """``getPodsForJob``: the pods this Job controls once orphans its selector matches are
        adopted (with the tracking finalizer) and owned ones it no longer matches released."""
        m = job["metadata"]
        ns, uid = m["namespace"], m["uid"]
        selector = job["spec"].get("selector")
        deleting = bool(m.get("deletionTimestamp"))
        mine = []
        for pod in list(self.pods.cache.values()):
            if pod["metadata"].get("namespace") != ns:
                continue
            ref = podutil.controller_ref(pod)
            labels = pod["metadata"].get("labels")
            match = selectors.matches(selector, labels) and not selectors.is_empty(selector)
            if ref is not None and ref.get("uid") == uid:
                if match or deleting:
                    mine.append(pod)
                elif podutil.is_active(pod):
                    await self._patch_owner(pod, None)
            elif ref is None and match and not deleting and podutil.is_active(pod):
                adopted = await self._patch_owner(pod, job)
                if adopted is not None:
                    mine.append(adopted)
        return mine

    async def _patch_owner(self, pod: dict, job: dict | None) -> dict | None:
        m = pod["metadata"]
        refs = [r for r in m.get("ownerReferences") or [] if not r.get("controller")]
        meta: dict = {"uid": m["uid"], "ownerReferences": refs}
        if job is not None:
            refs.append(podutil.owner_reference(job))
            finalizers = list(m.get("finalizers") or [])
            if ju.TRACKING_FINALIZER not in finalizers:
                meta["finalizers"] = finalizers + [ju.TRACKING_FINALIZER]
        try:
            return await self.client.patch(pod_path(m["namespace"], m["name"]), {"metadata": meta})
        except ApiError as exc:
            if exc.status in (404, 409, 422):
                return None
            raise

    # ---- pods ---------------------------------------------------------------------------------
    async def create_pods(self, key: str, job: dict, indexes: list[int | None],
                          annotations: dict | None = None) -> object:
        """Create one pod per entry of ``indexes`` (None for NonIndexed; ``annotations``
        maps an index to extra pod annotations) in slow-start batches of 1, 2, 4 …; the
        first error is returned, and the batches not tried are not."""
        self.expectations.expect(key, adds=len(indexes))
        ns = job["metadata"]["namespace"]
        done, batch, error = 0, 1, None
        while done < len(indexes) and error is None:
            chunk = indexes[done:done + batch]
            results = await asyncio.gather(*(
                self.client.create(f"/api/v1/namespaces/{ns}/pods",
                                   ju.pod_for_job(job, ix, (annotations or {}).get(ix)))
                for ix in chunk), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    error = error or r
                    self.expectations.created(key)
                    if isinstance(r, ApiError):
                        self.recorder.record(job, "Warning", "FailedCreate",
                                             f"Error creating: {r.message}")
                else:
                    self.recorder.record(job, "Normal", "SuccessfulCreate",
                                         f"Created pod: {r['metadata']['name']}")
            done += len(chunk)
            batch *= 2
        if done < len(indexes):
            self.expectations.created(key, len(indexes) - done)
        return error

    async def delete_pods(self, key: str, job: dict, victims: list[dict]) -> tuple[set, object]:
        """``deleteJobPods``: (the uids of the pods now gone or going, the first error)."""
        if not victims:
            return set(), None
        self.expectations.expect(key, deletes=[p["metadata"]["uid"] for p in victims])

        async def one(pod):
            m = pod["metadata"]
            try:
                await self.client.delete(pod_path(m["namespace"], m["name"]),
                                         {"preconditions": {"uid": m["uid"]}})
                self.recorder.record(job, "Normal", "SuccessfulDelete",
                                     f"Deleted pod: {m['name']}")
                return None
            except ApiError as exc:
                self.expectations.deleted(key, m["uid"])
                return None if exc.status == 404 else exc
        results = await asyncio.gather(*(one(p) for p in victims))
        errors = [r for r in results if r is not None]
        gone = {p["metadata"]["uid"] for p, r in zip(victims, results) if r is None}
        return gone, (errors[0] if errors else None)

    def _stale(self, key: str, job: dict) -> bool:
        """Whether ``job`` predates our last status write.  resourceVersions are opaque to
        upstream clients; this server's are its global revision (DESIGN: one counter orders
        every write), so they compare as integers — anything else is never called stale."""
        written = self.written.get(key)
        try:
            return written is not None and int(job["metadata"]["resourceVersion"]) < written
        except (KeyError, TypeError, ValueError):
            return False

    async def put_status(self, job: dict) -> dict:
        m = job["metadata"]
        fresh = await self.client.update(job_path(m["namespace"], m["name"]) + "/status", job)
        try:
            self.written[self._key(job)] = int(fresh["metadata"]["resourceVersion"])
        except (KeyError, TypeError, ValueError):
            pass
        return fresh
