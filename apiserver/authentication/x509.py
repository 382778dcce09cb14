"""x509 client certificates: username = CN, groups = O (upstream ``pkg/authentication/request/x509``).

The TLS layer verifies the chain against ``--client-ca-file`` and puts the verified subject in
``scope["extensions"]["tls"]``; an unverified certificate never gets here (the handshake
fails), so this authenticator only maps the subject to a user.
"""
from __future__ import annotations

from apiserver.authentication.base import Authenticator
from apiserver.authentication.user import UserInfo


class X509Authenticator(Authenticator):
    name = "x509"

    def authenticate(self, scope) -> UserInfo | None:
        tls = (scope.get("extensions") or {}).get("tls") or {}
        subject = tls.get("k8s.subject")
        if not subject:
            return None
        common_names = [v for k, v in subject if k == "commonName"]
        if not common_names or not common_names[0]:
            return None
        return UserInfo(name=common_names[0],
                        groups=tuple(v for k, v in subject if k == "organizationName"))
