"""The filter chain, listed once, outermost first (upstream ``DefaultBuildHandlerChain``).

request_info ▸ timeout ▸ authentication ▸ max_in_flight ▸ authorization ▸ watch (streams on
the loop) ▸ Django bridge
(audit and impersonation take their places between authentication and max_in_flight when
their issues land).
"""
from __future__ import annotations

from apiserver.admission import base as admission_base
from apiserver.authentication.base import Union as AuthnUnion
from apiserver.authentication.x509 import X509Authenticator
from apiserver.authorization import base as authz
from apiserver.filters.authentication import AuthenticationFilter
from apiserver.filters.authorization import AuthorizationFilter
from apiserver.filters.max_in_flight import MaxInFlightFilter
from apiserver.filters.request_info import RequestInfoFilter
from apiserver.filters.timeout import TimeoutFilter
from apiserver.options import Options
from apiserver.endpoints.state import watch_cache
from apiserver.endpoints.watch import HTTPWatch
from apiserver.endpoints.watch_ws import WebsocketWatch
from apiserver.server.bridge import DjangoBridge


def build_handler_chain(options: Options):
    admission_base.configure(options.admission_plugins)
    app = DjangoBridge(threads=options.request_threads)
    app = HTTPWatch(app, watch_cache)          # watches stream from the cache, on the loop
    app = WebsocketWatch(app)                  # the same watches over websockets (Channels)
    authorizer = authz.build(options.authorization_modes)
    authz.set_current(authorizer)
    app = AuthorizationFilter(app, authorizer)
    app = MaxInFlightFilter(app, options.max_requests_inflight,
                            options.max_mutating_requests_inflight)
    app = AuthenticationFilter(app, AuthnUnion([X509Authenticator()]))
    app = TimeoutFilter(app, options.request_timeout)
    app = RequestInfoFilter(app)
    return app
