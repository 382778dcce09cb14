"""``manage.py up --data-dir DIR``: the all-in-one start, like ``k3s server``.

Migrates, creates the PKI, reconciles bootstrap objects, writes DIR/admin.kubeconfig
(cluster-admin by client certificate) and serves HTTPS until SIGTERM/SIGINT, authorizing
with Node,RBAC unless ``--authorization-mode`` says otherwise.
``--nodes`` and ``--no-workers`` are accepted for the scheduler/kubelet workers, which a
later issue adds; until then they start nothing.
"""
from __future__ import annotations

import sys

from apiserver.management.commands.apiserver import Command as ApiserverCommand
from apiserver.management.commands.apiserver import start, with_data_dir_defaults
from apiserver.pki import PKI
from apiserver.server import lifecycle


class Command(ApiserverCommand):
    help = "Start everything: API server (and, later, scheduler and kubelets)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--nodes", type=int, default=0, help="simulated nodes (workers issue)")
        parser.add_argument("--no-workers", action="store_true", help="start no workers")
        # as k3s and kubeadm clusters: kubelets by the Node authorizer, everyone else by RBAC
        # (``apiserver`` keeps kube-apiserver's flag default, AlwaysAllow)
        parser.set_defaults(authorization_mode="Node,RBAC")

    def handle(self, *args, **o):
        options = self.options_from(o)
        directory = lifecycle.data_dir(o["data_dir"])
        options = with_data_dir_defaults(options, directory)
        lifecycle.migrate()
        pki = PKI(directory).ensure(hosts=["127.0.0.1", "localhost"])
        cert, key, ca = self.tls_files(options, directory)
        host = "127.0.0.1" if options.bind_address in ("0.0.0.0", "::") else options.bind_address
        kubeconfig = directory / "admin.kubeconfig"
        pki.write_kubeconfig(kubeconfig, f"https://{host}:{options.secure_port}")

        def started():
            self.stdout.write(f"serving on https://{host}:{options.secure_port}\n"
                              f"export KUBECONFIG={kubeconfig}")
            sys.stdout.flush()
        start(options, cert, key, ca, on_started=started)
