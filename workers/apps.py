"""The Django app that makes ``manage.py kubelet`` and ``manage.py scheduler`` discoverable.

It registers nothing in the server: workers are API clients in their own processes.
"""
from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Workers (scheduler, kubelet)"
