"""Authentication filter: who is asking.  Anonymous requests may only reach the health and
version endpoints (a KEP-4633-style allow list); elsewhere they are 401."""
from __future__ import annotations

import dataclasses

from apiserver.authentication.base import ANONYMOUS
from apiserver.runtime.errors import Unauthorized
from apiserver.endpoints.responses import send_status

ANONYMOUS_PATHS = ("/version", "/healthz", "/livez", "/readyz")


class AuthenticationFilter:
    def __init__(self, app, authenticator, anonymous_paths=ANONYMOUS_PATHS):
        self.app = app
        self.authenticator = authenticator
        self.anonymous_paths = anonymous_paths

    def _anonymous_ok(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.anonymous_paths)

    # A plain function returning the next app's coroutine (a tail call): a watch that
    # stays open for an hour then holds no suspended frame of this filter.
    def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        try:
            user = self.authenticator.authenticate(scope)
        except Unauthorized as err:
            return send_status(send, err)
        if user is None:
            if not self._anonymous_ok(scope["path"]):
                return send_status(send, Unauthorized())
            user = dataclasses.replace(ANONYMOUS)
        scope["k8s.user"] = user
        return self.app(scope, receive, send)
