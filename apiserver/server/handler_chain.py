"""The filter chain in front of the server chain, listed once, outermost first (upstream
kubernetes/apiserver:pkg/server/config.go ``DefaultBuildHandlerChain``):

request_info ▸ timeout ▸ authentication ▸ impersonation ▸ max_in_flight ▸ authorization ▸
request metrics (and /metrics) ▸ server chain (aggregator ▸ kube ▸ extensions ▸ NotFound)

In front of them all, /admin paths leave for the Django admin (``admin_bridge``): its session
cookie never meets the API's filters and no API credential ever opens it.

Audit takes its place between authentication and impersonation when its issue lands.
Every filter gets what it needs from the completed config.
"""
from __future__ import annotations

from apiserver.filters.authentication import AuthenticationFilter
from apiserver.filters.authorization import AuthorizationFilter
from apiserver.filters.impersonation import ImpersonationFilter
from apiserver.filters.max_in_flight import MaxInFlightFilter
from apiserver.filters.metrics import RequestMetricsFilter
from apiserver.filters.request_info import RequestInfoFilter
from apiserver.filters.timeout import TimeoutFilter
from apiserver.server.admin_bridge import with_admin


def build_handler_chain(head, config):
    """Wrap the head of the server chain (``head``) in the filters; returns the ASGI app."""
    o = config.options
    app = RequestMetricsFilter(head)
    app = AuthorizationFilter(app, config.authorizer, config.executor)
    app = MaxInFlightFilter(app, o.max_requests_inflight, o.max_mutating_requests_inflight)
    app = ImpersonationFilter(app, config.authorizer, config.executor)
    app = AuthenticationFilter(app, config.authenticator, config.executor)
    app = TimeoutFilter(app, o.request_timeout)
    app = RequestInfoFilter(app)
    return with_admin(app, config)
