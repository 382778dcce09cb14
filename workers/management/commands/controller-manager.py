"""``manage.py controller-manager --kubeconfig F [--controllers ...]``: a thin shell over
``workers.controllers.manager`` (upstream's binary name, hence the dash)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from workers.controllers.manager import main


class Command(BaseCommand):
    help = "Run the controller manager: deployments, replica sets, … as API clients."

    def add_arguments(self, parser):
        parser.add_argument("--kubeconfig", required=True)
        parser.add_argument("--controllers", default="*")

    def handle(self, *args, **o):
        main(["--kubeconfig", o["kubeconfig"], "--controllers", o["controllers"]])
