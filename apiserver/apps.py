"""The generic server as a Django app: it owns the storage tables and the management
commands, and knows no kinds.  Apps that serve kinds register them with
``apiserver.runtime.scheme.scheme`` from their own ``ready()``."""
from django.apps import AppConfig


class ApiserverConfig(AppConfig):
    name = "apiserver"
    verbose_name = "Kubernetes API server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apiserver.registry import checks  # noqa: F401  (registers system checks)
