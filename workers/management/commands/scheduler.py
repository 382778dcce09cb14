"""``manage.py scheduler --kubeconfig F [--leader-elect] [--scheduler-name N]``: a thin shell
over ``workers.scheduler.app`` (the same flags as ``python -m workers.scheduler``)."""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from workers.scheduler.app import add_arguments, main

FLAGS = ("kubeconfig", "scheduler_name", "leader_elect_lease_duration",
         "leader_elect_renew_deadline", "leader_elect_retry_period",
         "leader_elect_resource_namespace", "leader_elect_resource_name",
         "pod_initial_backoff", "pod_max_backoff", "identity", "watch_transport")


class Command(BaseCommand):
    help = "Run the scheduler: binds pending pods to nodes, as kube-scheduler."

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **o):
        argv = []
        for name in FLAGS:
            if o.get(name) is not None:
                argv += ["--" + name.replace("_", "-"), str(o[name])]
        if o.get("leader_elect"):
            argv.append("--leader-elect")
        sys.exit(main(argv, o.get("verbosity", 1)))
