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

import argparse
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
    admission_control_config_file: str = ""
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
    # authentication (upstream pkg/kubeapiserver/options/authentication.go); empty: off
    anonymous_auth: bool = True
    token_auth_file: str = ""
    basic_auth_file: str = ""
    django_user_auth: bool = True
    enable_bootstrap_token_auth: bool = False
    requestheader_client_ca_file: str = ""
    requestheader_allowed_names: tuple = ()
    requestheader_username_headers: tuple = ()
    requestheader_group_headers: tuple = ()
    requestheader_extra_headers_prefix: tuple = ()
    requestheader_uid_headers: tuple = ()
    proxy_client_cert_file: str = ""
    proxy_client_key_file: str = ""
    # how the API server reaches kubelets (exec, attach, port-forward, logs, nodes/proxy;
    # upstream pkg/kubelet/client): its client certificate, the CA the kubelets' serving
    # certificates must chain to (empty: not verified, as upstream), the address types
    # tried in order, and the dial timeout
    kubelet_client_certificate: str = ""
    kubelet_client_key: str = ""
    kubelet_certificate_authority: str = ""
    kubelet_preferred_address_types: tuple = ("Hostname", "InternalDNS", "InternalIP",
                                              "ExternalDNS", "ExternalIP")
    kubelet_timeout: float = 5.0
    enable_aggregator_routing: bool = True
    authentication_token_webhook_config_file: str = ""
    authentication_token_webhook_cache_ttl: float = 120.0
    authentication_token_webhook_version: str = "v1beta1"
    oidc_issuer_url: str = ""
    oidc_client_id: str = ""
    oidc_username_claim: str = "sub"
    oidc_username_prefix: str = ""
    oidc_groups_claim: str = ""
    oidc_groups_prefix: str = ""
    oidc_required_claims: tuple = ()         # (key, value) pairs
    oidc_ca_file: str = ""
    oidc_signing_algs: tuple = ("RS256",)
    authentication_config: str = ""
    service_account_key_files: tuple = ()    # public keys that verify SA tokens
    service_account_lookup: bool = True
    service_account_extend_token_expiration: bool = True
    service_account_jwks_uri: str = ""
    api_audiences: tuple = ()                # empty: the service-account issuer
    token_success_cache_ttl: float = 10.0
    # authorization modes' files (upstream pkg/kubeapiserver/options/authorization.go)
    authorization_policy_file: str = ""
    authorization_webhook_config_file: str = ""
    authorization_webhook_version: str = "v1beta1"
    authorization_webhook_cache_authorized_ttl: float = 300.0
    authorization_webhook_cache_unauthorized_ttl: float = 30.0


def add_arguments(parser) -> None:
    a = parser.add_argument
    a("--secure-port", type=int, default=6443, help="HTTPS port (kube-apiserver flag)")
    a("--bind-address", default="127.0.0.1", help="address to listen on")
    a("--tls-cert-file", default="", help="serving certificate (PEM)")
    a("--tls-private-key-file", default="", help="serving key (PEM)")
    a("--client-ca-file", default="", help="CA that signs client certificates")
    a("--authorization-mode", default="AlwaysAllow",
      help="comma-separated ordered authorizers: AlwaysAllow, AlwaysDeny, …")
    a("--authorization-policy-file", default="", help="ABAC policy: one JSON Policy per line")
    a("--authorization-webhook-config-file", default="",
      help="kubeconfig of the SubjectAccessReview webhook (mode Webhook)")
    a("--authorization-webhook-version", default="v1beta1",
      help="SubjectAccessReview version sent to the webhook: v1 or v1beta1")
    a("--authorization-webhook-cache-authorized-ttl", default="5m0s",
      help="how long allowed webhook answers are cached")
    a("--authorization-webhook-cache-unauthorized-ttl", default="30s",
      help="how long denied webhook answers are cached")
    a("--enable-admission-plugins", default="", help="admission plugins on top of the defaults")
    a("--disable-admission-plugins", default="", help="default admission plugins to turn off")
    a("--admission-control-config-file", default="",
      help="AdmissionConfiguration file with the plugins' own configuration")
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
    add_authentication_arguments(parser)


def add_authentication_arguments(parser) -> None:
    """kube-apiserver's authentication flags (``kube-apiserver --help``, Authentication)."""
    a = parser.add_argument
    flag_bool = dict(type=_bool, nargs="?", const=True)
    a("--anonymous-auth", default=True, **flag_bool,
      help="requests no other authenticator claims are system:anonymous (default true)")
    a("--token-auth-file", default="", help="static bearer tokens: CSV token,user,uid,\"g1,g2\"")
    a("--basic-auth-file", default="",
      help="BasicAuth users: CSV password,user,uid,\"g1,g2\" (removed upstream in 1.19)")
    a("--django-user-auth", default=True, **flag_bool,
      help="Django users authenticate by BasicAuth with their password (this server's own "
           "flag; default true)")
    a("--enable-bootstrap-token-auth", default=False, **flag_bool,
      help="bootstrap tokens (Secrets kube-system/bootstrap-token-<id>) authenticate")
    a("--requestheader-client-ca-file", default="",
      help="CA of the authenticating front proxy's client certificates")
    a("--requestheader-allowed-names", action="append",
      help="front-proxy client certificate CNs allowed (empty: any from that CA)")
    a("--requestheader-username-headers", action="append", help="e.g. X-Remote-User")
    a("--requestheader-group-headers", action="append", help="e.g. X-Remote-Group")
    a("--requestheader-extra-headers-prefix", action="append", help="e.g. X-Remote-Extra-")
    a("--requestheader-uid-headers", action="append", help="e.g. X-Remote-Uid")
    a("--proxy-client-cert-file", default="",
      help="client certificate the aggregator presents to extension API servers")
    a("--proxy-client-key-file", default="", help="its private key")
    a("--kubelet-client-certificate", default="",
      help="client certificate the API server presents to kubelets")
    a("--kubelet-client-key", default="", help="its private key")
    a("--kubelet-certificate-authority", default="",
      help="CA of the kubelets' serving certificates (empty: not verified)")
    a("--kubelet-preferred-address-types", default="Hostname,InternalDNS,InternalIP,"
      "ExternalDNS,ExternalIP", help="node address types tried in order to reach a kubelet")
    a("--kubelet-timeout", default="5s", help="timeout for dialling a kubelet")
    a("--enable-aggregator-routing", default="true",
      help="route to endpoints, not cluster IPs (always true here: there is no cluster network)")
    a("--authentication-token-webhook-config-file", default="",
      help="kubeconfig of the TokenReview webhook")
    a("--authentication-token-webhook-cache-ttl", default="2m0s",
      help="how long webhook answers are cached")
    a("--authentication-token-webhook-version", default="v1beta1",
      help="TokenReview version sent to the webhook: v1 or v1beta1")
    a("--oidc-issuer-url", default="", help="OpenID Connect issuer (https)")
    a("--oidc-client-id", default="", help="audience ID tokens must be issued for")
    a("--oidc-username-claim", default="sub", help="claim that is the username")
    a("--oidc-username-prefix", default="", help="prefix of OIDC usernames ('-': none)")
    a("--oidc-groups-claim", default="", help="claim holding the groups")
    a("--oidc-groups-prefix", default="", help="prefix of OIDC groups")
    a("--oidc-required-claim", action="append", help="key=value the ID token must carry")
    a("--oidc-ca-file", default="", help="CA that signs the issuer's serving certificate")
    a("--oidc-signing-algs", default="RS256", help="accepted JOSE signing algorithms")
    a("--authentication-config", default="",
      help="AuthenticationConfiguration file (JWT issuers, anonymous); excludes --oidc-*")
    a("--service-account-key-file", action="append",
      help="PEM public (or private) keys that verify service-account tokens; repeatable")
    a("--service-account-lookup", default=True, **flag_bool,
      help="check that a service-account token's objects still exist")
    a("--service-account-extend-token-expiration", default=True, **flag_bool,
      help="pod-bound tokens of the default lifetime are issued for a year, warned after 1h")
    a("--service-account-jwks-uri", default="",
      help="jwks_uri published in /.well-known/openid-configuration")
    a("--api-audiences", action="append",
      help="audiences the API accepts tokens for (default: the service-account issuer)")
    a("--token-success-cache-ttl", default="10s",
      help="how long a token's successful authentication is cached (this server's own "
           "flag; kube-apiserver fixes it at 10s)")


def _bool(text) -> bool:
    """A Go boolean flag value (``--anonymous-auth=false``)."""
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "t", "true", ""):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _split(text) -> list[str]:
    """A Go string-slice flag: comma-separated, repeatable (a list of the repeats)."""
    if text is None:
        return []
    items = text if isinstance(text, (list, tuple)) else [text]
    return [p.strip() for item in items for p in str(item).split(",") if p.strip()]


def _pairs(items, flag: str) -> tuple:
    """A Go mapStringString flag (``key=value``, comma-separated, repeatable)."""
    out = []
    for item in _split(items):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag}: {item!r} is not key=value")
        out.append((key.strip(), value.strip()))
    return tuple(out)


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
        webhook_ttl = parse_go_duration(o["authentication_token_webhook_cache_ttl"])
        token_ttl = parse_go_duration(o["token_success_cache_ttl"])
        authz_ttls = (parse_go_duration(o["authorization_webhook_cache_authorized_ttl"]),
                      parse_go_duration(o["authorization_webhook_cache_unauthorized_ttl"]))
        kubelet_timeout = parse_go_duration(o.get("kubelet_timeout") or "5s")
    except ValueError as exc:
        raise ValueError(f"invalid duration {exc}") from None
    if not o["service_account_issuer"]:
        raise ValueError("--service-account-issuer: may not be empty")
    if max_token and not 3600 <= max_token <= 1 << 32:
        raise ValueError("the service-account-max-token-expiration must be between 1 hour and "
                         "2^32 seconds")
    if o["authentication_config"] and any(
            o[k] for k in ("oidc_issuer_url", "oidc_client_id", "oidc_groups_claim",
                           "oidc_username_prefix", "oidc_groups_prefix", "oidc_required_claim",
                           "oidc_ca_file")):
        raise ValueError("authentication-config file and oidc-* flags are mutually exclusive")
    for flag in ("authentication_token_webhook_version", "authorization_webhook_version"):
        if o[flag] not in ("v1", "v1beta1"):
            raise ValueError(f"--{flag.replace('_', '-')}: must be v1 or v1beta1")
    modes = _split(o["authorization_mode"])
    if "ABAC" in modes and not o["authorization_policy_file"]:
        raise ValueError("authorization-mode ABAC's authorization policy file not passed")
    if o["authorization_policy_file"] and "ABAC" not in modes:
        raise ValueError("cannot specify --authorization-policy-file without mode ABAC")
    if "Webhook" in modes and not o["authorization_webhook_config_file"]:
        raise ValueError("authorization-mode Webhook's authorization config file not passed")
    if str(o["enable_aggregator_routing"]).lower() == "false":
        raise ValueError("--enable-aggregator-routing=false needs a cluster network to reach "
                         "service IPs through; this server routes to endpoints only")
    if bool(o["oidc_issuer_url"]) != bool(o["oidc_client_id"]):
        raise ValueError("oidc-issuer-url and oidc-client-id must be specified together")
    return Options(
        secure_port=o["secure_port"], bind_address=o["bind_address"],
        tls_cert_file=o["tls_cert_file"], tls_private_key_file=o["tls_private_key_file"],
        client_ca_file=o["client_ca_file"],
        authorization_modes=tuple(_split(o["authorization_mode"])),
        enable_admission_plugins=tuple(_split(o["enable_admission_plugins"])),
        disable_admission_plugins=tuple(_split(o["disable_admission_plugins"])),
        admission_control_config_file=o["admission_control_config_file"],
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
        cluster_signing_duration=signing_duration,
        authorization_policy_file=o["authorization_policy_file"],
        authorization_webhook_config_file=o["authorization_webhook_config_file"],
        authorization_webhook_version=o["authorization_webhook_version"],
        authorization_webhook_cache_authorized_ttl=authz_ttls[0],
        authorization_webhook_cache_unauthorized_ttl=authz_ttls[1],
        **kubelet_options(o, kubelet_timeout),
        **authentication_options(o, webhook_ttl, token_ttl))


ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")


def kubelet_options(o: dict, timeout: float) -> dict:
    """The Options fields of the --kubelet-* flags."""
    types = tuple(_split(o.get("kubelet_preferred_address_types") or "")) or ADDRESS_TYPES
    bad = [t for t in types if t not in ADDRESS_TYPES]
    if bad:
        raise ValueError(f"--kubelet-preferred-address-types: unknown address type {bad[0]!r}")
    if bool(o.get("kubelet_client_certificate")) != bool(o.get("kubelet_client_key")):
        raise ValueError("--kubelet-client-certificate and --kubelet-client-key must be "
                         "specified together")
    return dict(kubelet_client_certificate=o.get("kubelet_client_certificate") or "",
                kubelet_client_key=o.get("kubelet_client_key") or "",
                kubelet_certificate_authority=o.get("kubelet_certificate_authority") or "",
                kubelet_preferred_address_types=types, kubelet_timeout=timeout)


def authentication_options(o: dict, webhook_ttl: float, token_ttl: float) -> dict:
    """The Options fields of the authentication flags."""
    return dict(
        anonymous_auth=_bool(o["anonymous_auth"]),
        token_auth_file=o["token_auth_file"], basic_auth_file=o["basic_auth_file"],
        django_user_auth=_bool(o["django_user_auth"]),
        enable_bootstrap_token_auth=_bool(o["enable_bootstrap_token_auth"]),
        requestheader_client_ca_file=o["requestheader_client_ca_file"],
        requestheader_allowed_names=tuple(_split(o["requestheader_allowed_names"])),
        requestheader_username_headers=tuple(_split(o["requestheader_username_headers"])),
        requestheader_group_headers=tuple(_split(o["requestheader_group_headers"])),
        requestheader_extra_headers_prefix=tuple(_split(o["requestheader_extra_headers_prefix"])),
        requestheader_uid_headers=tuple(_split(o["requestheader_uid_headers"])),
        proxy_client_cert_file=o["proxy_client_cert_file"],
        proxy_client_key_file=o["proxy_client_key_file"],
        authentication_token_webhook_config_file=o["authentication_token_webhook_config_file"],
        authentication_token_webhook_cache_ttl=webhook_ttl,
        authentication_token_webhook_version=o["authentication_token_webhook_version"],
        oidc_issuer_url=o["oidc_issuer_url"], oidc_client_id=o["oidc_client_id"],
        oidc_username_claim=o["oidc_username_claim"],
        oidc_username_prefix=o["oidc_username_prefix"],
        oidc_groups_claim=o["oidc_groups_claim"], oidc_groups_prefix=o["oidc_groups_prefix"],
        oidc_required_claims=_pairs(o["oidc_required_claim"], "--oidc-required-claim"),
        oidc_ca_file=o["oidc_ca_file"],
        oidc_signing_algs=tuple(_split(o["oidc_signing_algs"])) or ("RS256",),
        authentication_config=o["authentication_config"],
        service_account_key_files=tuple(_split(o["service_account_key_file"])),
        service_account_lookup=_bool(o["service_account_lookup"]),
        service_account_extend_token_expiration=_bool(
            o["service_account_extend_token_expiration"]),
        service_account_jwks_uri=o["service_account_jwks_uri"],
        api_audiences=tuple(_split(o["api_audiences"])),
        token_success_cache_ttl=token_ttl)
