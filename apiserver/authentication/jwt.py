"""OIDC / JWT bearer tokens (kube-apiserver authentication mechanism 8): the ``--oidc-*``
flags or the ``--authentication-config`` file's ``jwt`` issuers, one JWT authenticator per
issuer (kubernetes/kubernetes:pkg/kubeapiserver/authenticator/config.go ``newJWTAuthenticator``;
kubernetes/apiserver:plugin/pkg/authenticator/token/oidc/oidc.go).

* The flags become one ``jwt`` entry (:func:`.authn_config.from_flags`) and go through the
  same validation as the file; their signing algorithms are ``--oidc-signing-algs``
  (RS256 by default), while issuers of the file accept every asymmetric algorithm, as
  upstream.  An issuer URL may not be the service-account issuer.
* Each issuer's discovery starts in the background when the authenticator is built; a
  token names its issuer in ``iss`` and only that issuer's authenticator answers.
* The file is watched: a changed, valid file replaces the issuers (its ``anonymous``
  section may not change); an invalid one is logged and the running issuers stay
  (upstream ``ApplyTo``'s reload loop).

May import: apiserver.authentication.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from apiserver.authentication.base import FirstAnswer, TokenAuthenticator

log = logging.getLogger("apiserver.authentication")

RELOAD_CHECK_SECONDS = 1.0


def build(compiled, signing_algs) -> FirstAnswer:
    """Started JWT authenticators for these compiled ``jwt`` entries."""
    from apiserver.authentication.oidc_provider import Provider
    from apiserver.authentication.oidc_token import JWTAuthenticator

    authenticators = []
    for entry in compiled:
        provider = Provider(entry.issuer.url, discovery_url=entry.issuer.discovery_url,
                            ca_pem=entry.issuer.certificate_authority)
        authenticators.append(JWTAuthenticator(entry.issuer, entry.mapper, provider.start(),
                                               signing_algs))
    return FirstAnswer(authenticators, name="oidc")


def close(authenticator) -> None:
    """Stop the background work of the authenticators :func:`build` made."""
    for member in getattr(authenticator, "authenticators", ()):
        member.close()


class ConfigFileJWT(TokenAuthenticator):
    """The issuers of an ``--authentication-config`` file, reloaded when it changes."""

    name = "oidc"

    def __init__(self, path: str, disallowed_issuers=(), check_seconds=RELOAD_CHECK_SECONDS,
                 clock=time.monotonic):
        from apiserver.authentication import authn_config
        from apiserver.authentication.authn_config_validation import compile_config

        self.path = path
        self.disallowed = tuple(disallowed_issuers)
        self.check_seconds = check_seconds
        self.clock = clock
        self._stat = self._file_stat()
        config = authn_config.load(path)
        self.current = build(compile_config(config, self.disallowed), _all_algorithms())
        self._text = _read(path)
        self._anonymous = config["anonymous"]
        self._checked_at = clock()
        self._lock = threading.Lock()

    def authenticate_token(self, token, audiences):
        self._maybe_reload()
        return self.current.authenticate_token(token, audiences)

    def _file_stat(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _maybe_reload(self) -> None:
        if self.clock() - self._checked_at < self.check_seconds \
                or not self._lock.acquire(blocking=False):
            return
        try:
            self._checked_at = self.clock()
            stat = self._file_stat()
            if stat == self._stat:
                return
            self.reload()
        finally:
            self._lock.release()

    def reload(self) -> bool:
        """Read the file again; whether the issuers were replaced."""
        from apiserver.authentication import authn_config
        from apiserver.authentication.authn_config_validation import compile_config

        self._stat = self._file_stat()
        try:
            text = _read(self.path)
        except OSError as exc:        # may be mid-rename: try again at the next check
            log.error("failed to read authentication config file: %s", exc.strerror or exc)
            self._stat = None
            return False
        if text == self._text:
            return False
        self._text = text             # an invalid file is not retried until it changes
        try:
            config = authn_config.decode(text)
            if config["anonymous"] != self._anonymous:
                raise ValueError("anonymous: Forbidden: changed from initial configuration "
                                 "file")
            compiled = compile_config(config, self.disallowed)
        except ValueError as exc:
            log.error("failed to load authentication config: %s", exc)
            return False
        old, self.current = self.current, build(compiled, _all_algorithms())
        close(old)
        log.info("reloaded authentication config")
        return True

    def close(self) -> None:
        close(self.current)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _all_algorithms() -> tuple:
    from apiserver.authentication.oidc_token import ALLOWED_ALGS
    return ALLOWED_ALGS


def from_options(deps) -> TokenAuthenticator | None:
    """The JWT authenticators of ``--authentication-config``, else of the ``--oidc-*``
    flags; None when neither is set.  ValueError (the server does not start) for an
    invalid configuration, with upstream's message."""
    o = deps.options
    if not o.authentication_config and not (o.oidc_issuer_url and o.oidc_client_id):
        return None
    disallowed = (o.service_account_issuer,) if o.service_account_issuer else ()
    if o.authentication_config:
        return ConfigFileJWT(o.authentication_config, disallowed)
    from apiserver.authentication import authn_config
    from apiserver.authentication.authn_config_validation import compile_config
    from apiserver.authentication.oidc_token import ALLOWED_ALGS

    algorithms = tuple(o.oidc_signing_algs) or ("RS256",)
    for alg in algorithms:
        if alg not in ALLOWED_ALGS:
            raise ValueError(f'oidc: unsupported signing alg: "{alg}"')
    return build(compile_config(authn_config.from_flags(o), disallowed), algorithms)
