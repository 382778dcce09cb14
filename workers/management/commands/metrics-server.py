"""``manage.py metrics-server --kubeconfig F --tls-cert-file C --tls-private-key-file K …``:
a thin shell over ``workers.metrics_server.app`` (the same flags as
``python -m workers.metrics_server``)."""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from workers.metrics_server.app import add_arguments, main


class Command(BaseCommand):
    help = "Run the metrics server: metrics.k8s.io from the kubelets, behind the aggregator."

    def add_arguments(self, parser):
        known = len(parser._actions)
        add_arguments(parser)
        self.flags = parser._actions[known:]        # ours, not Django's common options

    def handle(self, *args, **o):
        argv = []
        for action in self.flags:
            value = o.get(action.dest)
            if value is None or value is False:
                continue
            if value is True:
                argv.append(action.option_strings[0])
            elif isinstance(value, tuple):
                argv += [action.option_strings[0], ",".join(value)]
            else:
                argv += [action.option_strings[0], str(value)]
        sys.exit(main(argv, o.get("verbosity", 1)))
