"""``manage.py apiserver --data-dir DIR [kube-apiserver flags]``: the API server alone.

The database lives in DIR (or ``DATABASE_URL``); TLS material comes from the flags, else
from DIR/pki (created when absent).
"""
from __future__ import annotations

import dataclasses
import sys

from django.core.management.base import BaseCommand, CommandError

from apiserver import options as opts
from apiserver.admission import base as admission
from apiserver.authorization import base as authorization
from apiserver.pki import PKI
from apiserver.pki_front_proxy import FrontProxyPKI
from apiserver.server import lifecycle, processes


class Command(BaseCommand):
    help = "Run the Kubernetes API server (HTTPS)."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default="var", help="state directory (database, PKI)")
        opts.add_arguments(parser)

    def options_from(self, o) -> opts.Options:
        """The flags as Options; a bad value, an unknown admission plugin or authorization
        mode is an error before anything starts."""
        try:
            options = opts.from_arguments(o)
            admission.resolve(options.enable_admission_plugins, options.disable_admission_plugins)
            authorization.check(options.authorization_modes)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return options

    def handle(self, *args, **o):
        options = self.options_from(o)
        directory = lifecycle.data_dir(o["data_dir"])
        options = with_data_dir_defaults(options, directory)
        lifecycle.migrate()
        cert, key, ca = self.tls_files(options, directory)
        self.stdout.write(f"serving on https://{options.bind_address}:{options.secure_port}")
        sys.stdout.flush()
        start(options, cert, key, ca)

    @staticmethod
    def tls_files(options, directory):
        if options.tls_cert_file and options.tls_private_key_file:
            return options.tls_cert_file, options.tls_private_key_file, options.client_ca_file
        pki = PKI(directory).ensure(hosts=_hosts(options.bind_address))
        return str(pki.serving_cert), str(pki.serving_key), options.client_ca_file


def start(options, cert, key, ca, on_started=None) -> None:
    """Serve; a file a flag names that cannot be used (a token file, a CA bundle, an
    authentication config) stops the start with its message, not a traceback."""
    try:
        processes.start(options, cert, key, ca, on_started=on_started)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def with_data_dir_defaults(options: opts.Options, directory) -> opts.Options:
    """Flags left empty that default to files in the data dir: the service-account signing
    key is DATA_DIR/pki/sa.key, the CSR signer's CA DATA_DIR/pki/ca.crt and ca.key (all
    created with the PKI); without serving certificate flags, client certificates are
    those of DATA_DIR/pki/ca.crt (the admin kubeconfig's); without front-proxy flags, the
    front-proxy CA and client of DATA_DIR/pki/front-proxy-* (``apiserver.pki_front_proxy``)."""
    pki = PKI(directory)
    changes = {}
    own_tls = options.tls_cert_file and options.tls_private_key_file
    if not options.client_ca_file and not own_tls:
        changes["client_ca_file"] = str(pki.ca_cert)
    if not options.service_account_signing_key_file:
        changes["service_account_signing_key_file"] = str(pki.sa_key)
    if not options.cluster_signing_cert_file and not options.cluster_signing_key_file:
        changes["cluster_signing_cert_file"] = str(pki.ca_cert)
        changes["cluster_signing_key_file"] = str(pki.ca_key)
    if not (options.requestheader_client_ca_file or options.proxy_client_cert_file or
            options.proxy_client_key_file):
        # the aggregator's identity towards extension API servers, as kubeadm sets it up
        changes.update(FrontProxyPKI(directory).ensure().option_defaults())
    return dataclasses.replace(options, **changes) if changes else options


def _hosts(bind: str):
    hosts = ["127.0.0.1", "localhost"]
    if bind not in hosts and bind not in ("0.0.0.0", "::"):
        hosts.append(bind)
    return hosts
