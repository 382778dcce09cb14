"""Certificates made by tests: CAs, client and serving certificates (``cryptography``)."""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str, orgs=()) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
                     + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CA:
    """A CA that issues client and serving certificates."""

    def __init__(self, cn: str = "test-ca"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                                  crl_sign=True, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, encipher_only=False,
                                                  decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    @classmethod
    def from_pki(cls, pki: Path) -> "CA":
        """The CA of a server's data dir (DATA_DIR/pki), to issue certificates it trusts."""
        ca = cls.__new__(cls)
        ca.cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
        ca.key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
        return ca

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem)
        return path

    def issue(self, cn: str, orgs=(), *, client: bool = True, hosts=(),
              not_before: datetime.datetime | None = None,
              not_after: datetime.datetime | None = None):
        """(certificate, key) for ``cn``/``orgs``: a client certificate, or a serving one for
        ``hosts``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder().subject_name(_name(cn, orgs))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before or now - datetime.timedelta(minutes=5))
                   .not_valid_after(not_after or now + datetime.timedelta(hours=2))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if hosts:
            names = []
            for h in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(h)))
                except ValueError:
                    names.append(x509.DNSName(h))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key

    def write_pair(self, directory: Path, stem: str, cn: str, orgs=(), **kw) -> tuple[Path, Path]:
        """Files ``stem.crt`` and ``stem.key`` in ``directory``."""
        cert, key = self.issue(cn, orgs, **kw)
        crt, pem = directory / f"{stem}.crt", directory / f"{stem}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        return crt, pem


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
