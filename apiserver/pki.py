"""The PKI ``up`` creates in the data dir, like k3s: a CA, a serving certificate for
127.0.0.1/localhost/kubernetes.default.svc, the admin client certificate
(CN=kubernetes-admin, O=system:masters), a service-account signing key, and
``admin.kubeconfig`` with the CA embedded.  Existing files are reused, never overwritten.

For the workers ``up`` starts: ``ensure_client`` issues a named client certificate (a kubelet's
CN=system:node:NAME O=system:nodes, the scheduler's CN=system:kube-scheduler) and
``write_kubeconfig`` writes a kubeconfig for it.
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 3650


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str, orgs=()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject, issuer, public_key):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS)))


class PKI:
    def __init__(self, directory: Path):
        self.dir = Path(directory) / "pki"
        self.ca_cert = self.dir / "ca.crt"
        self.ca_key = self.dir / "ca.key"
        self.serving_cert = self.dir / "serving.crt"
        self.serving_key = self.dir / "serving.key"
        self.admin_cert = self.dir / "admin.crt"
        self.admin_key = self.dir / "admin.key"
        self.sa_key = self.dir / "sa.key"
        self.sa_pub = self.dir / "sa.pub"

    def _ensure_ca(self, cn: str) -> bool:
        """Create the CA files when absent; True when it did."""
        if self.ca_cert.exists() and self.ca_key.exists():
            return False
        key = _key()
        name = _name(cn)
        cert = (_builder(name, name, key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_private(self.ca_key, _pem_key(key))
        self.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return True

    def ensure(self, hosts=("127.0.0.1", "localhost")) -> "PKI":
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ensure_ca("kubernetes-ca")
        if not self.serving_cert.exists():
            self._issue(self.serving_cert, self.serving_key, _name("kube-apiserver"),
                        server=True, hosts=hosts)
        if not self.admin_cert.exists():
            self._issue(self.admin_cert, self.admin_key,
                        _name("kubernetes-admin", ["system:masters"]), server=False)
        if not self.sa_key.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _write_private(self.sa_key, _pem_key(key))
            self.sa_pub.write_bytes(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return self

    def _issue(self, cert_path: Path, key_path: Path, subject, *, server: bool, hosts=(),
               apiserver_names: bool = True):
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = _key()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (_builder(subject, ca_cert.subject, key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if server:
            # only the API server's own certificate names the kubernetes Service: another
            # server of this CA (a kubelet, the metrics server) must not pass for it
            names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local"] if apiserver_names else []
            sans = [x509.DNSName(n) for n in names]
            for host in hosts:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    if host not in names:
                        sans.append(x509.DNSName(host))
            if apiserver_names:
                sans.append(x509.IPAddress(ipaddress.ip_address("10.96.0.1")))
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_private(key_path, _pem_key(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def ensure_client(self, name: str, cn: str, orgs=()) -> tuple[Path, Path]:
        """pki/NAME.crt and pki/NAME.key for a client identity, issued once and reused while
        the subject matches; returns (certificate, key)."""
        cert_path, key_path = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        subject = _name(cn, orgs)
        if cert_path.exists() and key_path.exists():
            try:
                if x509.load_pem_x509_certificate(cert_path.read_bytes()).subject == subject:
                    return cert_path, key_path
            except ValueError:
                pass
        self._issue(cert_path, key_path, subject, server=False)
        return cert_path, key_path

    def ensure_serving(self, name: str, cn: str, hosts) -> tuple[Path, Path]:
        """pki/NAME.crt and pki/NAME.key: a serving certificate of this CA for exactly
        ``hosts`` (DNS names and IP addresses), reused while its subject and names match."""
        cert_path, key_path = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        subject = _name(cn)
        if cert_path.exists() and key_path.exists():
            try:
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                have = {str(v) for v in san.get_values_for_type(x509.DNSName)} | \
                    {str(v) for v in san.get_values_for_type(x509.IPAddress)}
                if cert.subject == subject and have == set(hosts):
                    return cert_path, key_path
            except (ValueError, x509.ExtensionNotFound):
                pass
        self._issue(cert_path, key_path, subject, server=True, hosts=hosts,
                    apiserver_names=False)
        return cert_path, key_path

    def write_kubeconfig(self, path: Path, server: str, cert: Path | None = None,
                         key: Path | None = None, user: str = "kubernetes-admin") -> None:
        """A kubeconfig for ``server`` as the client certificate ``cert``/``key`` (the
        admin's by default), the CA and credentials embedded, mode 0600."""
        cert, key = cert or self.admin_cert, key or self.admin_key
        b64 = lambda p: base64.b64encode(Path(p).read_bytes()).decode()  # noqa: E731
        text = f"""apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    server: {server}
    certificate-authority-data: {b64(self.ca_cert)}
users:
- name: {user}
  user:
    client-certificate-data: {b64(cert)}
    client-key-data: {b64(key)}
contexts:
- name: default
  context:
    cluster: default
    user: {user}
    namespace: default
current-context: default
preferences: {{}}
"""
        _write_private(Path(path), text.encode())
