"""Leader election through a coordination.k8s.io/v1 Lease, as client-go's
tools/leaderelection (leaderelection.go, resourcelock/leaselock.go).

``LeaderElector(client, identity, namespace, name, lease_duration, renew_deadline,
retry_period)``:

* ``acquire()`` returns once this process holds the lease: it creates the Lease, or takes it
  over when the holder has not renewed it for ``lease_duration`` *as observed on this
  process's clock* (the holder's timestamps are never compared with ours, as upstream), trying
  every ``retry_period`` (with up to 20 % jitter).  Every write carries the resourceVersion it
  read, so of two candidates exactly one wins (the other gets 409 Conflict).
* ``hold()`` renews every ``retry_period`` and returns when a renewal has not succeeded for
  ``renew_deadline`` (leadership lost: the caller must stop acting at once; kube-scheduler
  exits).  ``release()`` gives the lease up on a clean shutdown (holder emptied,
  ``leaseDurationSeconds: 1``), as ``ReleaseOnCancel`` does.

Upstream's defaults for kube-scheduler and kube-controller-manager: lease 15 s, renew
deadline 10 s, retry 2 s.  Standard library and this package only.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime, timezone

from apiserver.client import ApiError

log = logging.getLogger("apiserver.client.leaderelection")

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 15.0, 10.0, 2.0


def micro_time() -> str:
    """metav1.MicroTime's RFC 3339 form with microseconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client, identity: str, namespace: str = "kube-system",
                 name: str = "kube-scheduler", lease_duration: float = LEASE_DURATION,
                 renew_deadline: float = RENEW_DEADLINE, retry_period: float = RETRY_PERIOD,
                 clock=time.monotonic):
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease duration > renew deadline > retry period > 0")
        self.client, self.identity = client, identity
        self.namespace, self.name = namespace, name
        self.lease_duration, self.renew_deadline = lease_duration, renew_deadline
        self.retry_period, self.clock = retry_period, clock
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._observed: dict | None = None
        self._observed_at = 0.0
        self._lease: dict | None = None
        self.is_leader = False

    def _record(self, spec: dict, acquire_time: str, transitions: int) -> dict:
        now = micro_time()
        return {"holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, int(round(self.lease_duration))),
                "acquireTime": acquire_time or now, "renewTime": now,
                "leaseTransitions": transitions}

    async def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go tryAcquireOrRenew); True when we hold the lease after it."""
        try:
            lease = await self.client.get(f"{self.path}/{self.name}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._record({}, "", 0)}
            try:
                self._lease = await self.client.create(self.path, body)
            except ApiError as exc2:
                if exc2.status in (409, 403) or exc2.status >= 500:
                    log.info("creating lease %s/%s: %s", self.namespace, self.name, exc2)
                    return False
                raise
            self._observe(self._lease.get("spec") or {})
            return True
        spec = lease.get("spec") or {}
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and \
                self._observed_at + self.lease_duration > self.clock():
            return False                               # someone else holds a live lease
        if holder == self.identity:
            record = self._record(spec, spec.get("acquireTime") or "",
                                  int(spec.get("leaseTransitions") or 0))
        else:
            record = self._record(spec, "", int(spec.get("leaseTransitions") or 0) + 1)
        lease["spec"] = record
        try:
            self._lease = await self.client.update(f"{self.path}/{self.name}", lease)
        except ApiError as exc:
            if exc.status == 409:
                return False
            raise
        self._observe(self._lease.get("spec") or {})
        return True

    def _observe(self, spec: dict) -> None:
        key = {k: spec.get(k) for k in ("holderIdentity", "renewTime", "acquireTime",
                                        "leaseTransitions", "leaseDurationSeconds")}
        if key != self._observed:
            self._observed, self._observed_at = key, self.clock()

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            return False

    async def acquire(self) -> None:
        log.info("attempting to acquire leader lease %s/%s...", self.namespace, self.name)
        while not await self._attempt():
            await asyncio.sleep(self.retry_period * random.uniform(1.0, 1.2))
        self.is_leader = True
        log.info("successfully acquired lease %s/%s as %s", self.namespace, self.name,
                 self.identity)

    async def hold(self) -> None:
        """Renew until a renewal fails for ``renew_deadline``; then return (lost)."""
        last_ok = self.clock()
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                ok = await asyncio.wait_for(self._attempt(), self.renew_deadline)
            except asyncio.TimeoutError:
                ok = False
            if ok:
                last_ok = self.clock()
            elif self.clock() - last_ok >= self.renew_deadline or not self._still_ours():
                self.is_leader = False
                log.error("leader election lost (%s/%s)", self.namespace, self.name)
                return

    def _still_ours(self) -> bool:
        return (self._observed or {}).get("holderIdentity") == self.identity

    async def release(self) -> None:
        if not self.is_leader or self._lease is None:
            return
        self.is_leader = False
        lease = dict(self._lease)
        spec = dict(lease.get("spec") or {})
        spec.update({"holderIdentity": "", "leaseDurationSeconds": 1,
                     "renewTime": micro_time(), "acquireTime": micro_time()})
        lease["spec"] = spec
        try:
            await self.client.update(f"{self.path}/{self.name}", lease)
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.info("releasing lease: %s", exc)
