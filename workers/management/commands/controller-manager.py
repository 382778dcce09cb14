"""``manage.py controller-manager --kubeconfig F [--controllers ...]``: a thin shell over
``workers.controllers.manager`` (upstream's binary name, hence the dash)."""
from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand

from workers.controllers.manager import add_lifecycle_arguments, main


def _forwarded(options: dict) -> list[str]:
    """Every flag of ``add_lifecycle_arguments`` as the manager's own argv, so a flag added
    there reaches the manager without a change here."""
    probe = argparse.ArgumentParser(add_help=False)
    add_lifecycle_arguments(probe)
    argv = []
    for action in probe._actions:
        value = options.get(action.dest)
        flag = action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, str(value)]
    return argv


class Command(BaseCommand):
    help = "Run the controller manager: deployments, replica sets, … as API clients."

    def add_arguments(self, parser):
        parser.add_argument("--kubeconfig", required=True)
        parser.add_argument("--controllers", default="*")
        add_lifecycle_arguments(parser)

    def handle(self, *args, **o):
        main(["--kubeconfig", o["kubeconfig"], "--controllers", o["controllers"],
              *_forwarded(o)])
