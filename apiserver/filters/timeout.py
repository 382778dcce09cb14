"""Request timeout: 504 after ``--request-timeout`` (60 s) for everything but long-running
requests; ``?timeout=`` may only shorten it (upstream ``filters/timeout.go``)."""
from __future__ import annotations

import asyncio

from apiserver.runtime.durations import parse_go_duration
from apiserver.runtime.errors import BadRequest, Timeout
from apiserver.endpoints.responses import send_status

# upstream BasicLongRunningRequestCheck (cmd/kube-apiserver: verbs watch and proxy,
# subresources attach, exec, proxy, log, portforward): no request timeout
LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))


def long_running(info) -> bool:
    return info is not None and (info.verb == "watch" or
                                 (info.is_resource_request and
                                  info.subresource in LONG_RUNNING_SUBRESOURCES))


class TimeoutFilter:
    def __init__(self, app, seconds: float = 60.0):
        self.app = app
        self.seconds = seconds

    def __call__(self, scope, receive, send):
        info = scope.get("k8s.request_info")
        if scope["type"] != "http" or long_running(info):
            return self.app(scope, receive, send)      # tail call: watches hold no frame here
        return self._timed(scope, receive, send, info)

    async def _timed(self, scope, receive, send, info):
        limit = self.seconds
        asked = info.q("timeout") if info is not None else None
        if asked:
            try:
                limit = min(limit, parse_go_duration(asked))
            except ValueError:
                # upstream parseTimeout: "<invalidTimeoutInURL> - <time.ParseDuration's error>"
                # (kubernetes/apiserver:pkg/endpoints/request/requestinfo.go, golang time)
                why = "missing unit in duration" if asked.isdigit() else "invalid duration"
                return await send_status(send, BadRequest(
                    f'invalid timeout specified in the request URL - time: {why} "{asked}"'))
        started = []

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                started.append(True)
            await send(message)
        try:
            await asyncio.wait_for(self.app(scope, receive, tracking_send), timeout=limit)
        except asyncio.TimeoutError:
            if not started:
                await send_status(send, Timeout(
                    "Timeout: request did not complete within the allotted timeout",
                    retry_after=None))
