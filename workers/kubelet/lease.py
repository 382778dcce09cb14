"""The node's heartbeat Lease in ``kube-node-lease``, as upstream's
pkg/kubelet/nodelease (k8s.io/component-helpers/apimachinery/lease/controller.go).

``LeaseController.run()`` ensures ``kube-node-lease/NAME`` exists (holderIdentity = the node,
leaseDurationSeconds, an ownerReference to the Node so the Lease goes with it) and renews
``spec.renewTime`` every ``renew_interval`` seconds.  A failed renewal is retried after
``min(renew_interval, 7 s)`` (upstream's ``maxBackoff``), a Conflict re-reads the Lease and a
404 re-creates it.  ``lease_object`` is the pure part.
"""
from __future__ import annotations

import asyncio
import datetime
import logging

from apiserver.client import ApiError, AsyncClient

log = logging.getLogger("workers.kubelet.lease")

NAMESPACE = "kube-node-lease"
RETRY_MAX = 7.0


def micro_time(t: datetime.datetime | None = None) -> str:
    """metav1.MicroTime's wire format (RFC 3339 with microseconds)."""
    t = t or datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_object(node: str, duration: int, node_uid: str | None, renew: str) -> dict:
    meta: dict = {"name": node, "namespace": NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                    "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": duration,
                     "renewTime": renew}}


class LeaseController:
    def __init__(self, client: AsyncClient, node: str, duration: int, renew_interval: float,
                 node_uid=lambda: None):
        self.client, self.node, self.duration = client, node, duration
        self.renew_interval, self.node_uid = renew_interval, node_uid
        self.lease: dict | None = None
        self.renewals = 0

    @property
    def path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{self.node}"

    async def renew(self) -> dict:
        """Create or renew the Lease once."""
        if self.lease is None:
            try:
                self.lease = await self.client.get(self.path)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self.lease = await self.client.create(
                    f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases",
                    lease_object(self.node, self.duration, self.node_uid(), micro_time()))
                self.renewals += 1
                return self.lease
        lease = dict(self.lease)
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": self.node,
                         "leaseDurationSeconds": self.duration, "renewTime": micro_time()}
        try:
            self.lease = await self.client.update(self.path, lease)
        except ApiError as exc:
            self.lease = None                 # Conflict or gone: read (or create) it again
            if exc.status in (404, 409):
                return await self.renew()
            raise
        self.renewals += 1
        return self.lease

    async def run(self) -> None:
        while True:
            try:
                await self.renew()
                delay = self.renew_interval
            except asyncio.CancelledError:
                raise
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("node %s: lease renewal failed: %s", self.node, exc)
                delay = min(self.renew_interval, RETRY_MAX)
            await asyncio.sleep(delay)
