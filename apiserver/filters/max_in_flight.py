"""In-flight limits: 429 with Retry-After when too many requests run at once
(upstream ``--max-requests-inflight`` 400 / ``--max-mutating-requests-inflight`` 200).
Long-running requests (watch) are not counted; system:masters is not exempt here because
the limits exist to protect the process, whoever asks."""
from __future__ import annotations

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
        if scope["type"] != "http" or info is None or info.verb == "watch":
            return self.app(scope, receive, send)      # tail call: watches hold no frame here
        return self._counted(scope, receive, send, info)

    async def _counted(self, scope, receive, send, info):
        kind = "mutating" if info.verb in _MUTATING else "read"
        if self.limits[kind] and self.current[kind] >= self.limits[kind]:
            return await send_status(send, TooManyRequests(
                "Too many requests, please try again later.", retry_after=1))
        self.current[kind] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.current[kind] -= 1
