"""The admin site: Django's, with the RBAC "who can" page and its JSON API added under
/admin/rbac/ (Django's documented way: an AdminConfig whose ``default_site`` is this class,
installed in place of ``django.contrib.admin``).

The admin is served only by the admin bridge (apiserver/server/admin_bridge.py) on the API's
HTTPS port, with its own middleware: sessions, CSRF, Django's login.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.core import checks
from django.urls import include, path, reverse

# what admin.E408-E410 look for in MIDDLEWARE, looked for where the admin's middleware is
NEEDED_MIDDLEWARE = ("django.contrib.sessions.middleware.SessionMiddleware",
                     "django.contrib.auth.middleware.AuthenticationMiddleware",
                     "django.contrib.messages.middleware.MessageMiddleware")


class KubernetesAdminSite(AdminSite):
    site_header = "Kubernetes API server"
    site_title = "Kubernetes API server"
    index_title = "Administration"

    def get_urls(self):
        from .admin_views import api_urlpatterns, who_can

        return [
            path("rbac/who-can/", self.admin_view(who_can), name="rbac_who_can"),
            path("rbac/api/", include(api_urlpatterns)),
        ] + super().get_urls()

    def get_app_list(self, request, app_label=None):
        """The RBAC app lists the "who can" page beside its models."""
        apps = super().get_app_list(request, app_label)
        for app in apps:
            if app["app_label"] == "rbac":
                app["models"].append({
                    "name": "Who can … / What can …", "object_name": "WhoCan",
                    "admin_url": reverse("admin:rbac_who_can", current_app=self.name),
                    "add_url": None, "view_only": True,
                    "perms": {"add": False, "change": False, "delete": False, "view": True}})
        return apps


def check_admin_middleware(app_configs, **kwargs) -> list:
    """The admin's own middleware checks, on ``settings.ADMIN_MIDDLEWARE`` (the admin
    bridge's list) instead of ``MIDDLEWARE`` (the API's, which stays empty)."""
    have = getattr(settings, "ADMIN_MIDDLEWARE", ())
    return [checks.Error(f"'{path}' must be in ADMIN_MIDDLEWARE to use the admin.",
                         id="rbac.E001") for path in NEEDED_MIDDLEWARE if path not in have]


class AdminConfig(DjangoAdminConfig):
    default_site = "rbac.admin_site.KubernetesAdminSite"

    def ready(self):
        super().ready()
        checks.register(check_admin_middleware, checks.Tags.admin)
