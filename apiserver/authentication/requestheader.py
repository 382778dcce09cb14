"""The authenticating front proxy (``--requestheader-*``): the user named in request headers,
trusted only on a connection whose client certificate was issued by
``--requestheader-client-ca-file`` and, when ``--requestheader-allowed-names`` is set, whose
CN is one of them.  Upstream: kubernetes/apiserver:pkg/authentication/request/headerrequest/
requestheader.go, wrapped in the x509 verifier (``request/x509.NewVerifier``).

* user: the first username header with a value (none: no opinion);
* groups: every value of every group header, each value one group;
* extra: ``<prefix><key>: value`` headers, the key percent-decoded and lower-cased, values in
  order;
* uid: the first uid header with a value (``--requestheader-uid-headers``).

Without the proxy's certificate the headers mean nothing (a spoofed ``X-Remote-User`` is
ignored) and they are removed from every request after authentication either way.

May import: apiserver.authentication.
"""
from __future__ import annotations

import logging
from urllib.parse import unquote

from apiserver.authentication.base import AuthenticationError, Authenticator
from apiserver.authentication.request import (header_values, headers_with_prefix,
                                              remove_headers)
from apiserver.authentication.user import UserInfo
from apiserver.authentication.x509 import (REQUESTHEADER_CA, check_validity, peer,
                                           subject_values)

log = logging.getLogger("apiserver.authentication")


class RequestHeaderAuthenticator(Authenticator):
    name = "requestheader"

    def __init__(self, username_headers=("X-Remote-User",), group_headers=("X-Remote-Group",),
                 extra_prefixes=("X-Remote-Extra-",), uid_headers=(), allowed_names=()):
        self.username_headers = tuple(username_headers)
        self.group_headers = tuple(group_headers)
        self.extra_prefixes = tuple(extra_prefixes)
        self.uid_headers = tuple(uid_headers)
        self.allowed_names = tuple(allowed_names)

    def _first(self, scope, names) -> str:
        for name in names:
            for value in header_values(scope, name):
                if value:
                    return value
        return ""

    def authenticate(self, scope):
        tls = peer(scope)
        if not tls.get("k8s.subject"):
            return None
        if REQUESTHEADER_CA not in tls.get("k8s.verified_by", ()):
            raise AuthenticationError("verifying certificate failed: x509: certificate "
                                      "signed by unknown authority")
        check_validity(tls)
        if self.allowed_names:
            cn = (subject_values(tls["k8s.subject"], "commonName") or [""])[0]
            if cn not in self.allowed_names:
                raise AuthenticationError(f"x509: subject with cn={cn} is not in the allowed "
                                          f"list")
        name = self._first(scope, self.username_headers)
        if not name:
            return None
        groups = tuple(v for h in self.group_headers for v in header_values(scope, h))
        extra: dict[str, list[str]] = {}
        for prefix in self.extra_prefixes:
            for suffix, value in headers_with_prefix(scope, prefix):
                extra.setdefault(unquote(suffix).lower(), []).append(value)
        return UserInfo(name=name, uid=self._first(scope, self.uid_headers), groups=groups,
                        extra=extra)

    def strip(self, scope) -> None:
        remove_headers(scope, names=self.username_headers + self.group_headers
                       + self.uid_headers, prefixes=self.extra_prefixes)


def from_options(deps) -> RequestHeaderAuthenticator | None:
    """On with ``--requestheader-client-ca-file`` and at least one username header (upstream
    logs that aggregation will not work without them)."""
    o = deps.options
    if not o.requestheader_client_ca_file:
        return None
    if not o.requestheader_username_headers:
        log.warning("--requestheader-client-ca-file is set without "
                    "--requestheader-username-headers: front-proxy authentication is off")
        return None
    return RequestHeaderAuthenticator(
        username_headers=o.requestheader_username_headers,
        group_headers=o.requestheader_group_headers,
        extra_prefixes=o.requestheader_extra_headers_prefix,
        uid_headers=o.requestheader_uid_headers, allowed_names=o.requestheader_allowed_names)
