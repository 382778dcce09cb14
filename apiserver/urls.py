"""URL routes.  Resource URLs are parsed by the request-info filter; the patterns here only
route to the right view (``APPEND_SLASH`` is off: kubectl never adds a slash)."""
from pathlib import Path

from django.contrib import admin
from django.urls import path, re_path
from django.views.generic.base import RedirectView
from django.views.static import serve

from apiserver.endpoints import discovery, health, openapi_views
from apiserver.endpoints.handlers import ResourceView

_SEG = r"[^/]+"

urlpatterns = [
    re_path(r"^version/?$", health.VersionView.as_view()),
    re_path(r"^healthz(?:/(?P<check>[^/]+))?$", health.HealthView.as_view(kind="healthz")),
    re_path(r"^livez(?:/(?P<check>[^/]+))?$", health.HealthView.as_view(kind="livez")),
    re_path(r"^readyz(?:/(?P<check>[^/]+))?$", health.HealthView.as_view(kind="readyz")),
    re_path(r"^openapi/v3/?$", openapi_views.OpenAPIRootView.as_view()),
    re_path(r"^openapi/v3/(?P<path>.+)$", openapi_views.OpenAPIDocumentView.as_view()),
    re_path(r"^openapi/v2/?$", openapi_views.OpenAPIV2View.as_view()),
    re_path(r"^api/?$", discovery.DiscoveryRootView.as_view(kind="api")),
    re_path(r"^apis/?$", discovery.DiscoveryRootView.as_view(kind="apis")),
    re_path(r"^api/(?P<version>v1)/?$", discovery.GroupView.as_view()),
    re_path(rf"^apis/(?P<group>{_SEG})/?$", discovery.GroupView.as_view()),
    re_path(rf"^apis/(?P<group>{_SEG})/(?P<version>{_SEG})/?$", discovery.GroupView.as_view()),
    re_path(r"^api/v1/.+$", ResourceView.as_view()),
    re_path(rf"^apis/{_SEG}/{_SEG}/.+$", ResourceView.as_view()),
    # The Django admin.  Only the admin bridge (apiserver/server/admin_bridge.py) is handed
    # /admin paths, with its own middleware; no API path starts with admin/.
    re_path(r"^admin$", RedirectView.as_view(url="/admin/")),
    re_path(r"^admin/static/(?P<path>.+)$", serve,
            {"document_root": Path(admin.__file__).parent / "static"}),
    path("admin/", admin.site.urls),
]

handler404 = "apiserver.endpoints.exceptions.not_found_view"
handler500 = "apiserver.endpoints.exceptions.server_error_view"
