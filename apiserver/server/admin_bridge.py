"""The Django admin on the API server's own HTTPS port, beside the API and apart from it.

``/admin`` paths are routed here before any Kubernetes filter (:class:`AdminRouter`, put
outermost by ``handler_chain.build_handler_chain``).  They run through a second Django handler
with its own middleware (``settings.ADMIN_MIDDLEWARE``: security, sessions, common, CSRF,
authentication, messages, clickjacking) while the API's handler keeps none.  The two never
share a credential: the admin knows only its session cookie (Django's login), so a bearer
token or client certificate does not open it; the API's filters read no cookies, so the
admin's session is no API credential (and its cookie is only ever sent to /admin/).

Views get ``request.kubernetes`` (:class:`AdminServices`): the serving StoreRegistry and
authorizer of the completed config, so admin writes go through the API's Stores.  The request
thread pool is the API's, and so is the code that reads the body (3 MiB at most) and sends
the answer (:class:`~apiserver.server.bridge.DjangoBridge`); unlike the API's, these
responses carry cookies.

May import: apiserver.server.bridge and below, django.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponse
from django.utils.module_loading import import_string

from apiserver.server.bridge import DjangoBridge

PREFIX = "/admin"


def is_admin_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


@dataclass(frozen=True)
class AdminServices:
    """What admin views act through (``request.kubernetes``)."""

    stores: object          # the StoreRegistry: writes go through the API's Stores
    authorizer: object      # the server's authorizer: admin writes are authorized as API calls


class AdminHandler(BaseHandler):
    """Django's handler with its own middleware list instead of ``settings.MIDDLEWARE``."""

    def __init__(self, services: AdminServices, middleware):
        super().__init__()
        self.services = services
        self.middleware = tuple(middleware)
        self.load_middleware()

    def load_middleware(self, is_async=False):
        """Build the chain as Django does for ``settings.MIDDLEWARE`` (each middleware wraps
        the next; ``process_view``/``process_template_response``/``process_exception`` hooks
        collected), from this handler's list.  Synchronous: it runs on request threads."""
        self._view_middleware, self._template_response_middleware = [], []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(self.middleware):
            try:
                mw = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(mw, "process_view"):
                self._view_middleware.insert(0, mw.process_view)
            if hasattr(mw, "process_template_response"):
                self._template_response_middleware.append(mw.process_template_response)
            if hasattr(mw, "process_exception"):
                self._exception_middleware.append(mw.process_exception)
            handler = convert_exception_to_response(mw)
        self._middleware_chain = handler

    def get_response(self, request):
        request.kubernetes = self.services
        return super().get_response(request)


class Finished:
    """A finished admin response in the form :class:`DjangoBridge` sends: its content read
    (a file response's too, on the request thread rather than the event loop), and its
    cookies as headers, one Set-Cookie each (the API's responses never set any)."""

    streaming = False

    def __init__(self, response: HttpResponse):
        self.status_code = response.status_code
        if response.streaming:
            self.content = b"".join(response.streaming_content)
            stream = getattr(response, "file_to_stream", None)    # a FileResponse's file
            if stream is not None:
                stream.close()
        else:
            self.content = response.content
        # the bridge adds Content-Length itself
        self._headers = [(k, v) for k, v in response.items() if k.lower() != "content-length"]
        self._headers += [("set-cookie", c.output(header="").strip())
                          for c in response.cookies.values()]
        self._type = response.get("Content-Type")

    def has_header(self, name: str) -> bool:
        return name.lower() == "content-type" and self._type is not None

    def __getitem__(self, name: str) -> str:
        return self._type

    def items(self) -> list:
        return self._headers


class AdminBridge(DjangoBridge):
    """ASGI app for /admin paths: the admin handler on the API's request thread pool."""

    def __init__(self, services: AdminServices, executor, middleware=None):
        super().__init__(executor=executor)
        self.handler = AdminHandler(services, middleware if middleware is not None
                                    else settings.ADMIN_MIDDLEWARE)

    def _run(self, scope, body: bytes):
        return Finished(super()._run(scope, body))


class AdminRouter:
    """/admin paths to the admin bridge, everything else to the API's filter chain."""

    def __init__(self, app, admin: AdminBridge):
        self.app, self.admin = app, admin

    def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_admin_path(scope["path"]):
            return self.admin(scope, receive, send)
        return self.app(scope, receive, send)


def with_admin(app, config):
    """``app`` behind an :class:`AdminRouter` when the Django admin is installed."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return app
    services = AdminServices(stores=config.stores, authorizer=config.authorizer)
    return AdminRouter(app, AdminBridge(services, config.executor))
