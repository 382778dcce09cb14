"""kube-apiserver flags → Options, the first step of options → Config → CompletedConfig
(upstream kubernetes/kubernetes:cmd/kube-apiserver/app/options/options.go).  Names and meanings
follow upstream (``kube-apiserver --help``); an unknown flag is an error (argparse), never
ignored.  Options are plain, immutable values; ``apiserver.server.config`` turns them into the
objects the servers run with.

Only the flags this server implements are accepted; later issues add more.  Flags of our own
(not upstream's) say so in their help: ``--server-processes``, ``--request-threads``,
``--watch-bookmark-interval``, ``--watch-send-timeout``; the ``--cluster-signing-*`` flags are
kube-controller-manager's, for the in-process CSR signer.

May import: apiserver.runtime.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from apiserver.runtime.durations import parse_go_duration

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class Options:
    secure_port: int = 6443
    bind_address: str = "127.0.0.1"
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    authorization_modes: tuple = ("AlwaysAllow",)
    enable_admission_plugins: tuple = ()
    disable_admission_plugins: tuple = ()
    request_timeout: float = 60.0
    min_request_timeout: float = 1800.0      # watches end after a random [1x, 2x) of this
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    service_cluster_ip_range: str = "10.96.0.0/12"
    compaction_interval: float = 300.0
    request_threads: int = 8
    server_processes: int = 1
    watch_bookmark_interval: float = 60.0    # upstream's cacher sends bookmarks about once a minute
    watch_send_timeout: float = 10.0         # a watcher that takes longer to accept a write is dropped
    # service-account tokens: the private key TokenRequest signs with (empty: the command
    # fills in DATA_DIR/pki/sa.key), the issuer (``iss``, also the default audience) and a
    # cap on requested lifetimes in seconds (0: no cap)
    service_account_signing_key_file: str = ""
    service_account_issuer: str = DEFAULT_ISSUER
    service_account_max_token_expiration: float = 0.0
    # the CA the in-process CSR signer issues certificates from (kube-controller-manager's
    # --cluster-signing-cert-file/--cluster-signing-key-file; empty: DATA_DIR/pki/ca.*) and
    # the longest lifetime it grants (--cluster-signing-duration, upstream default 1 year)
    cluster_signing_cert_file: str = ""
    cluster_signing_key_file: str = ""
    cluster_signing_duration: float = 365 * 24 * 3600.0


def add_arguments(parser) -> None:
    a = parser.add_argument
    a("--secure-port", type=int, default=6443, help="HTTPS port (kube-apiserver flag)")
    a("--bind-address", default="127.0.0.1", help="address to listen on")
    a("--tls-cert-file", default="", help="serving certificate (PEM)")
    a("--tls-private-key-file", default="", help="serving key (PEM)")
    a("--client-ca-file", default="", help="CA that signs client certificates")
    a("--authorization-mode", default="AlwaysAllow",
      help="comma-separated ordered authorizers: AlwaysAllow, AlwaysDeny, …")
    a("--enable-admission-plugins", default="", help="admission plugins on top of the defaults")
    a("--disable-admission-plugins", default="", help="default admission plugins to turn off")
    a("--request-timeout", default="1m0s", help="timeout of non-long-running requests")
    a("--min-request-timeout", type=int, default=1800,
      help="seconds; a watch without timeoutSeconds ends after a random time in [this, 2x this)")
    a("--max-requests-inflight", type=int, default=400)
    a("--max-mutating-requests-inflight", type=int, default=200)
    a("--service-cluster-ip-range", default="10.96.0.0/12", help="CIDR for Service cluster IPs")
    a("--etcd-compaction-interval", default="5m0s",
      help="how often history is compacted, and how much is kept")
    a("--request-threads", type=int, default=8,
      help="size of the request thread pool (this server's own flag)")
    a("--server-processes", type=int, default=1,
      help="API server processes sharing the port, each with its own watch cache (this "
           "server's own flag)")
    a("--watch-bookmark-interval", default="1m0s",
      help="how often a watch that allows bookmarks gets one (this server's own flag)")
    a("--watch-send-timeout", default="10s",
      help="a watcher that does not take an event within this is closed and resumes (this "
           "server's own flag)")
    a("--service-account-signing-key-file", default="",
      help="PEM private key that signs service-account tokens (default DATA_DIR/pki/sa.key)")
    a("--service-account-issuer", default=DEFAULT_ISSUER,
      help="issuer (iss claim) of service-account tokens; also their default audience")
    a("--service-account-max-token-expiration", default="0s",
      help="longest lifetime a TokenRequest is granted (0s: no cap)")
    a("--cluster-signing-cert-file", default="",
      help="CA certificate the CSR signer issues from (kube-controller-manager flag; default "
           "DATA_DIR/pki/ca.crt)")
    a("--cluster-signing-key-file", default="",
      help="CA private key of the CSR signer (default DATA_DIR/pki/ca.key)")
    a("--cluster-signing-duration", default="8760h0m0s",
      help="longest validity of a certificate the CSR signer issues")


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def from_arguments(o: dict) -> Options:
    """Complete and check parsed flags; raises ValueError with the flag's name."""
    try:
        ipaddress.ip_network(o["service_cluster_ip_range"])
    except ValueError:
        raise ValueError(f"--service-cluster-ip-range: invalid CIDR {o['service_cluster_ip_range']!r}")
    try:
        timeout = parse_go_duration(o["request_timeout"])
        compaction = parse_go_duration(o["etcd_compaction_interval"])
        max_token = parse_go_duration(o["service_account_max_token_expiration"])
        bookmarks = parse_go_duration(o["watch_bookmark_interval"])
        send_timeout = parse_go_duration(o["watch_send_timeout"])
        signing_duration = parse_go_duration(o["cluster_signing_duration"])
    except ValueError as exc:
        raise ValueError(f"invalid duration {exc}") from None
    if not o["service_account_issuer"]:
        raise ValueError("--service-account-issuer: may not be empty")
    if max_token and not 3600 <= max_token <= 1 << 32:
        raise ValueError("the service-account-max-token-expiration must be between 1 hour and "
                         "2^32 seconds")
    return Options(
        secure_port=o["secure_port"], bind_address=o["bind_address"],
        tls_cert_file=o["tls_cert_file"], tls_private_key_file=o["tls_private_key_file"],
        client_ca_file=o["client_ca_file"],
        authorization_modes=tuple(_split(o["authorization_mode"])),
        enable_admission_plugins=tuple(_split(o["enable_admission_plugins"])),
        disable_admission_plugins=tuple(_split(o["disable_admission_plugins"])),
        request_timeout=timeout,
        min_request_timeout=float(o["min_request_timeout"]),
        max_requests_inflight=o["max_requests_inflight"],
        max_mutating_requests_inflight=o["max_mutating_requests_inflight"],
        service_cluster_ip_range=o["service_cluster_ip_range"],
        compaction_interval=compaction, request_threads=o["request_threads"],
        server_processes=max(1, o["server_processes"]),
        watch_bookmark_interval=bookmarks, watch_send_timeout=send_timeout,
        service_account_signing_key_file=o["service_account_signing_key_file"],
        service_account_issuer=o["service_account_issuer"],
        service_account_max_token_expiration=max_token,
        cluster_signing_cert_file=o["cluster_signing_cert_file"],
        cluster_signing_key_file=o["cluster_signing_key_file"],
        cluster_signing_duration=signing_duration)
