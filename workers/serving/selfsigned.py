"""A self-signed serving certificate, for a kubelet started without ``--tls-cert-file``
(upstream pkg/kubelet/kubelet.go and client-go util/cert ``GenerateSelfSignedCertKey``:
a one-year certificate for the node's name and address, written beside the node's other
files).  Callers that verify the kubelet (the metrics server with
``--kubelet-certificate-authority``) need a CA-issued one instead; ``up`` issues those."""
from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def self_signed(host: str, addresses=(), directory: str | None = None) -> tuple[str, str]:
    """Write ``(cert_file, key_file)`` (the key mode 0600) for ``host`` and ``addresses``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@{int(now.timestamp())}")])
    sans = [x509.DNSName(host)]
    for a in addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(a)))
        except ValueError:
            sans.append(x509.DNSName(a))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    directory = directory or tempfile.mkdtemp(prefix=f"kubelet-{host}-")
    cert_path = os.path.join(directory, "kubelet.crt")
    key_path = os.path.join(directory, "kubelet.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path
