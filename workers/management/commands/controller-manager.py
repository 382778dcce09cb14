"""``manage.py controller-manager --kubeconfig F [--controllers ...]``: a thin shell over
``workers.controllers.manager`` (upstream's binary name, hence the dash)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from workers.controllers.manager import add_lifecycle_arguments, main


class Command(BaseCommand):
    help = "Run the controller manager: deployments, replica sets, … as API clients."

    def add_arguments(self, parser):
        parser.add_argument("--kubeconfig", required=True)
        parser.add_argument("--controllers", default="*")
        add_lifecycle_arguments(parser)

    def handle(self, *args, **o):
        argv = ["--kubeconfig", o["kubeconfig"], "--controllers", o["controllers"]]
        for flag in ("node_monitor_grace_period", "node_monitor_period",
                     "leader_elect_lease_duration", "leader_elect_renew_deadline",
                     "leader_elect_retry_period"):
            argv += ["--" + flag.replace("_", "-"), str(o[flag])]
        if o["leader_elect"]:
            argv.append("--leader-elect")
        main(argv)
