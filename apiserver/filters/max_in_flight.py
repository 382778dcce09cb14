"""In-flight limits: 429 with Retry-After when too many requests run at once
(upstream ``--max-requests-inflight`` 400 / ``--max-mutating-requests-inflight`` 200,
k8s.io/apiserver pkg/server/filters/maxinflight.go).

* Long-running requests (watch; exec, attach, portforward, log, proxy) are not counted.
* A request of system:masters over the limit is served anyway, as upstream's filter does
  ("a super-admin or a loopback connection ... should always get an answer").
* coordination.k8s.io Leases take no seat: they are the heartbeats of nodes and the leader
  elections of the scheduler and controller manager, which upstream's default API Priority
  and Fairness configuration serves in priority levels of their own (``node-high``,
  ``leader-election``), so a burst of workload writes can never make nodes look dead or a
  leader lose its lease.  Without APF here, exempting them is how they keep that promise.
"""
from __future__ import annotations

from apiserver.filters.timeout import long_running
from apiserver.runtime.errors import TooManyRequests
from apiserver.endpoints.responses import send_status

_MUTATING = {"create", "update", "patch", "delete", "deletecollection"}


class MaxInFlightFilter:
    def __init__(self, app, max_read: int = 400, max_mutating: int = 200):
        self.app = app
        self.limits = {"read": max_read, "mutating": max_mutating}
        self.current = {"read": 0, "mutating": 0}

    def __call__(self, scope, receive, send):
        info = scope.get("k8s.request_info")
        if scope["type"] != "http" or info is None or long_running(info) or \
                (info.api_group == "coordination.k8s.io" and info.resource == "leases"):
            return self.app(scope, receive, send)      # tail call: watches hold no frame here
        return self._counted(scope, receive, send, info)

    async def _counted(self, scope, receive, send, info):
        kind = "mutating" if info.verb in _MUTATING else "read"
        if self.limits[kind] and self.current[kind] >= self.limits[kind]:
            user = scope.get("k8s.user")
            if user is not None and "system:masters" in (user.groups or ()):
                return await self.app(scope, receive, send)
            return await send_status(send, TooManyRequests(
                "Too many requests, please try again later.", retry_after=1))
        self.current[kind] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.current[kind] -= 1
