"""``manage.py kubelet --kubeconfig F --node-name NAME [--runtime simulated]``: a thin shell
over ``workers.kubelet`` (the same flags as ``python -m workers.kubelet``)."""
from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand, CommandError

from workers.kubelet.config import add_arguments, configs_from
from workers.kubelet.kubelet import run_kubelets, setup_logging


class Command(BaseCommand):
    help = "Run a (simulated) kubelet: registers its Node and runs the pods bound to it."

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **o):
        try:
            configs = configs_from(o)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        setup_logging(o.get("verbosity", 1))
        asyncio.run(run_kubelets(configs))
