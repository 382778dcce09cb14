"""x509 client certificates: user = CN, groups = O (kubernetes/apiserver:pkg/authentication/
request/x509/x509.go, ``CommonNameUserConversion``).

TLS asks for a client certificate but does not require one; the handshake verifies any that
is sent against every CA the server trusts for clients (``--client-ca-file`` and the front
proxy's ``--requestheader-client-ca-file``).  Once per connection :class:`CertificatePools`
records which of those CAs issued the certificate; the x509 authenticator accepts only
certificates of the client CA, the front-proxy authenticator only those of its own CA (and
allowed names), as upstream verifies each against its own pool.  Certificates are checked
for their validity period on every request, so a long-lived connection does not outlive one.
Python's ``ssl`` does not expose the client's intermediates, so a client certificate must
be issued directly by one of the CAs.

May import: apiserver.authentication, cryptography.
"""
from __future__ import annotations

import time

from cryptography import x509
from cryptography.x509.oid import NameOID

from apiserver.authentication.base import AuthenticationError, Authenticator
from apiserver.authentication.user import UserInfo

CLIENT_CA = "client-ca"
REQUESTHEADER_CA = "requestheader-ca"
# the attribute names Python's ssl module uses, which the scope carries
_NAMES = {NameOID.COMMON_NAME: "commonName", NameOID.ORGANIZATION_NAME: "organizationName"}


def load_ca_bundle(path: str) -> list:
    """The certificates of PEM bundle ``path`` (a missing or empty file is an error)."""
    try:
        with open(path, "rb") as fh:
            certs = x509.load_pem_x509_certificates(fh.read())
    except OSError as exc:
        raise ValueError(f"CA bundle {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"CA bundle {path!r}: {exc}") from None
    return certs


class CertificatePools:
    """Named CA pools; :meth:`inspect` describes a peer certificate for the scope."""

    def __init__(self, pools: dict):
        self.pools = {name: load_ca_bundle(path) for name, path in pools.items() if path}

    @property
    def files(self) -> list[str]:
        return list(self.pools)

    def issued_by(self, cert) -> frozenset:
        names = set()
        for name, cas in self.pools.items():
            for ca in cas:
                try:
                    cert.verify_directly_issued_by(ca)
                except Exception:   # wrong issuer, bad signature, unsupported key type
                    continue
                names.add(name)
                break
        return frozenset(names)

    def inspect(self, der: bytes) -> dict | None:
        """``scope["extensions"]["tls"]`` entries for a verified peer certificate."""
        if not der:
            return None
        cert = x509.load_der_x509_certificate(der)
        subject = tuple((_NAMES.get(attr.oid, attr.rfc4514_attribute_name), attr.value)
                        for attr in cert.subject)
        return {"k8s.subject": subject, "k8s.verified_by": self.issued_by(cert),
                "k8s.not_before": cert.not_valid_before_utc.timestamp(),
                "k8s.not_after": cert.not_valid_after_utc.timestamp()}


def peer(scope) -> dict:
    return (scope.get("extensions") or {}).get("tls") or {}


def check_validity(tls: dict, now: float | None = None) -> None:
    now = time.time() if now is None else now
    if "k8s.not_after" in tls and now > tls["k8s.not_after"]:
        raise AuthenticationError("x509: certificate has expired or is not yet valid")
    if "k8s.not_before" in tls and now < tls["k8s.not_before"]:
        raise AuthenticationError("x509: certificate has expired or is not yet valid")


def subject_values(subject, key: str) -> list[str]:
    return [v for k, v in subject if k == key]


class X509Authenticator(Authenticator):
    name = "x509"

    def authenticate(self, scope) -> UserInfo | None:
        tls = peer(scope)
        subject = tls.get("k8s.subject")
        if not subject:
            return None
        if CLIENT_CA not in tls.get("k8s.verified_by", ()):
            raise AuthenticationError("verifying certificate failed: x509: certificate "
                                      "signed by unknown authority")
        check_validity(tls)
        common_names = subject_values(subject, "commonName")
        if not common_names or not common_names[0]:
            return None
        return UserInfo(name=common_names[0],
                        groups=tuple(subject_values(subject, "organizationName")))


def from_options(deps) -> X509Authenticator | None:
    """On when ``--client-ca-file`` names a CA (``up`` passes its own)."""
    return X509Authenticator() if deps.options.client_ca_file else None
