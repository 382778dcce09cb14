"""Authentication filter: who is asking (upstream kubernetes/apiserver:pkg/endpoints/filters/
authentication.go ``WithAuthentication``).

The authenticator union decides; no user is 401 ``Unauthorized`` (a Status, the reason never
echoing the credential).  Credentials are then removed from the request — the
``Authorization`` header, websocket bearer subprotocols, the front proxy's headers — so
nothing downstream, the aggregator's proxy included, sees them.

Mechanisms that may block (a database read for a service-account or bootstrap token, an
HTTP call to a webhook or an OIDC issuer, a password hash) run on the request thread pool;
x509, front-proxy headers, anonymous and cached tokens are answered on the event loop.
"""
from __future__ import annotations

import asyncio
import logging

from apiserver.authentication.base import AuthenticationError
from apiserver.endpoints.responses import send_status
from apiserver.runtime.errors import Unauthorized

log = logging.getLogger("apiserver.authentication")


def authenticate(authenticator, scope):
    """The user of this request, or None; an invalid credential and an authenticator
    failure are both None (logged without the credential), as upstream answers 401."""
    try:
        return authenticator.authenticate(scope)
    except AuthenticationError as err:
        log.info("unable to authenticate the request: %s", err)
    except Exception:   # a broken authenticator (database, webhook) fails closed
        log.exception("authenticator failed")
    return None


class AuthenticationFilter:
    def __init__(self, app, authenticator, executor=None):
        self.app = app
        self.authenticator = authenticator
        self.executor = executor

    # A plain function returning the next app's coroutine (a tail call): a watch that
    # stays open for an hour then holds no suspended frame of this filter.
    def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        if self.executor is not None and self.authenticator.needs_io(scope):
            return self._in_thread(scope, receive, send)
        return self._continue(authenticate(self.authenticator, scope), scope, receive, send)

    async def _in_thread(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        user = await loop.run_in_executor(self.executor, authenticate, self.authenticator, scope)
        return await self._continue(user, scope, receive, send)

    def _continue(self, user, scope, receive, send):
        self.authenticator.strip(scope)
        if user is None:
            return send_status(send, Unauthorized(), scope)
        scope["k8s.user"] = user
        return self.app(scope, receive, send)
