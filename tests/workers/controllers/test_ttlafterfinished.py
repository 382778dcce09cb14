"""The ttl-after-finished controller (workers/controllers/ttlafterfinished.py) against an
in-memory client and a chosen clock: when a finished Job expires, that the live Job is
checked again, and the deletion it sends (upstream ttlafterfinished_controller_test.go)."""
from __future__ import annotations

import asyncio

from apiserver.client import ApiError
from workers.controllers import podutil
from workers.controllers.ttlafterfinished import TTLAfterFinishedController, expires_at

FINISHED = "2026-01-01T10:00:00Z"
T0 = podutil.parse_time(FINISHED)


def job(ttl=5, condition="Complete", uid="u1"):
    conditions = [{"type": condition, "status": "True", "lastTransitionTime": FINISHED}] \
        if condition else []
    spec = {"ttlSecondsAfterFinished": ttl} if ttl is not None else {}
    return {"metadata": {"name": "j", "namespace": "ns", "uid": uid}, "spec": spec,
            "status": {"conditions": conditions}}


class FakeInformer:
    def __init__(self):
        self.cache = {}

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}")


class FakeInformers:
    def __init__(self):
        self.informer = FakeInformer()

    def add_handler(self, path, fn):
        return self.informer


class FakeClient:
    def __init__(self, live):
        self.live, self.deleted = live, []

    async def get(self, path):
        if self.live is None:
            raise ApiError(404, "NotFound", "gone")
        return self.live

    async def delete(self, path, options=None):
        self.deleted.append((path, options))


def run(cached, live, now):
    informers = FakeInformers()
    informers.informer.cache["ns/j"] = cached
    client = FakeClient(live)

    async def go():
        ctl = TTLAfterFinishedController(client, informers, None, clock=lambda: now)
        await ctl.sync("ns/j")
        timers = dict(ctl.queue._timers)
        ctl.queue.shutdown()
        return timers
    return client, asyncio.run(go())


def test_expiry_is_the_finish_time_plus_the_ttl():
    assert expires_at(job(ttl=5)) == T0 + 5
    assert expires_at(job(ttl=0, condition="Failed")) == T0
    assert expires_at(job(ttl=None)) is None
    assert expires_at(job(condition=None)) is None


def test_an_expired_job_is_deleted_in_the_foreground_with_its_uid():
    client, _ = run(job(), job(), T0 + 6)
    assert client.deleted == [("/apis/batch/v1/namespaces/ns/jobs/j", {
        "propagationPolicy": "Foreground", "preconditions": {"uid": "u1"}})]


def test_a_job_not_yet_expired_waits_for_the_time_left():
    client, timers = run(job(), job(), T0 + 2)
    assert client.deleted == [] and list(timers) == ["ns/j"]


def test_the_live_job_decides_a_ttl_raised_meanwhile_or_a_job_gone():
    client, timers = run(job(ttl=5), job(ttl=60), T0 + 6)
    assert client.deleted == [] and list(timers) == ["ns/j"]
    client, _ = run(job(), None, T0 + 6)
    assert client.deleted == []
