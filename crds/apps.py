from django.apps import AppConfig


class CrdsConfig(AppConfig):
    name = "crds"
    verbose_name = "Custom resources"
