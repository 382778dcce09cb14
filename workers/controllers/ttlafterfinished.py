"""The ttl-after-finished controller (upstream pkg/controller/ttlafterfinished/
ttlafterfinished_controller.go, release-1.32).

A finished Job (Complete or Failed) with ``spec.ttlSecondsAfterFinished`` is deleted once
that many seconds have passed since its finishing condition's lastTransitionTime; until
then its key waits in the queue for exactly the time left.  Before deleting, the Job is read
again from the server, since the informer may lag a change of the TTL; the deletion carries a
uid precondition (a new Job of the same name is not touched) and cascades in the foreground,
as upstream (``DeletePropagationForeground``), so the Job goes only after its pods.
"""
from __future__ import annotations

import time

from apiserver.client import ApiError

from . import podutil
from .base import Controller, split_key
from .job_util import condition, finished_condition

JOBS = "/apis/batch/v1/jobs"


def expires_at(job: dict) -> float | None:
    """When ``job`` may be deleted, or None when it is not finished or has no TTL."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    kind = finished_condition(job)
    if ttl is None or kind is None or job["metadata"].get("deletionTimestamp"):
        return None
    finished = podutil.parse_time(condition(job, kind).get("lastTransitionTime"))
    if finished is None:
        return None
    return finished + int(ttl)


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"

    def __init__(self, client, informers, recorder, *, clock=time.time):
        super().__init__()
        self.client, self.recorder, self.clock = client, recorder, clock
        self.jobs = informers.add_handler(JOBS, self._on_job)

    def _on_job(self, event, job, old):
        if event != "DELETED" and expires_at(job) is not None:
            self.queue.add(f"{job['metadata'].get('namespace')}/{job['metadata']['name']}")

    async def sync(self, key: str) -> None:
        """``processJob``: requeue until the TTL has passed, then check the live Job again and
        delete it."""
        ns, name = split_key(key)
        job = self.jobs.get(name, ns)
        if job is None or not self._expired(key, job):
            return
        path = f"/apis/batch/v1/namespaces/{ns}/jobs/{name}"
        try:
            fresh = await self.client.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        if not self._expired(key, fresh):
            return
        try:
            await self.client.delete(path, {"propagationPolicy": "Foreground",
                                            "preconditions": {"uid": fresh["metadata"]["uid"]}})
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise

    def _expired(self, key: str, job: dict) -> bool:
        at = expires_at(job)
        if at is None:
            return False
        left = at - self.clock()
        if left > 0:
            self.queue.add_after(key, left)
            return False
        return True
