"""Django settings.

The database is PostgreSQL when ``DATABASE_URL`` (postgres://user:pass@host:port/db) is set,
else an embedded SQLite file in the data dir (``APISERVER_DATA_DIR``, default ``var``), as k3s
does.  Server behaviour (ports, PKI, timeouts) is not configured here but by kube-apiserver
flags through ``apiserver.options``; only what Django itself needs lives in this file.
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("APISERVER_DATA_DIR", "var")).resolve()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "apiserver-local-development-only")
DEBUG = False
ALLOWED_HOSTS = ["*"]
APPEND_SLASH = False          # kubectl never sends a trailing slash; a 301 breaks discovery
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "apiserver.urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    # the Django admin (its site adds the RBAC "who can" page), served on the API's port by
    # the admin bridge only (apiserver/server/admin_bridge.py)
    "rbac.admin_site.AdminConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_filters",
    "channels",
    "apiserver",
    "resources.appconfig.ResourcesConfig",   # resources/apps/ is the apps API group
    "rbac",
    "crds",
    "aggregator",
    "workers.apps.WorkersConfig",            # manage.py kubelet / scheduler (API clients)
]

# The API path carries no cookies or sessions: no middleware (each one costs every request).
MIDDLEWARE = []

# ---- the admin (apiserver/server/admin_bridge.py) ------------------------------------------
# Its own middleware, used by the admin bridge's handler alone; API requests never meet it.
ADMIN_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The admin's checks look for its middleware in MIDDLEWARE; it is in ADMIN_MIDDLEWARE.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/admin/static/"          # the admin bridge serves the admin's own static files
# HTTPS only, and only ever sent to /admin/: a browser never offers the admin's cookies to
# the API (which would ignore them anyway: its filters read no cookies)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = "/admin/"
SESSION_COOKIE_NAME = "apiserver_admin_session"
CSRF_COOKIE_NAME = "apiserver_admin_csrftoken"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
# messages in the (database-backed) session, not in a cookie signed with SECRET_KEY
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
LOGIN_URL = "/admin/login/"


def _database_from_url(url: str) -> dict:
    u = urlparse(url)
    if u.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {u.scheme!r} (postgres:// only)")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(u.path.lstrip("/")) or "postgres",
        "USER": unquote(u.username or "postgres"),
        "PASSWORD": unquote(u.password or ""),
        "HOST": u.hostname or "127.0.0.1",
        "PORT": str(u.port or 5432),
        # Threads of the request pool keep their connection: no reconnect per request.
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": _database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # One writer at a time, taken at BEGIN: writers queue on the busy timeout
                # instead of failing with "database is locked" half-way through.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["apiserver.endpoints.negotiation.PassthroughRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apiserver.endpoints.negotiation.NoNegotiation",
    "EXCEPTION_HANDLER": "apiserver.endpoints.exceptions.status_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("APISERVER_LOG_LEVEL", "INFO")},
    # 4xx answers are the API working as designed, not server warnings
    "loggers": {"django.request": {"level": "ERROR"}},
}

# Storage and watch knobs (tests shorten them).
APISERVER = {
    "COMPACTION_WINDOW_SECONDS": float(os.environ.get("APISERVER_COMPACTION_WINDOW", 300)),
    "COMPACTION_INTERVAL_SECONDS": float(os.environ.get("APISERVER_COMPACTION_INTERVAL", 60)),
}
