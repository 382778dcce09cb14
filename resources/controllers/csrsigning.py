"""The CSR signing controller: issues certificates for approved requests from the cluster CA.

Upstream's kube-controller-manager runs one ``csrsigning`` controller per well-known signer
(kubernetes/kubernetes:pkg/controller/certificates/signer/signer.go): a request that is
approved, not denied, not failed and not yet issued, for ``kubernetes.io/kube-apiserver-client``,
``kubernetes.io/kube-apiserver-client-kubelet`` or ``kubernetes.io/kubelet-serving``, is
checked against its signer's rules (``resources.certificates.signers``; a misfit gets a
``Failed`` condition, reason ``SignerValidationFailure``) and signed with the CA of
``--cluster-signing-cert-file``/``--cluster-signing-key-file`` for
min(``spec.expirationSeconds``, ``--cluster-signing-duration``), at least 10 minutes.  The
certificate keeps the request's subject and SANs; the usages become key usage and extended
key usage (pkg/controller/certificates/authority/policies.go ``PermissiveSigningPolicy``),
backdated 5 minutes unless it is short-lived, never past the CA's own expiry.  It is written
through ``/status``, as upstream's ``UpdateStatus``.

It finds its work in storage when it starts, after every local commit and once a
second.  Without signing files it does nothing and says so once.
"""
from __future__ import annotations

import base64
import datetime
import logging
import os

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from apiserver.registry.context import system_context
from resources.controllers.base import POLL_SECONDS, PollingController
from apiserver.registry.meta import now_rfc3339
from apiserver.runtime import errors
from resources.certificates import pem, signers
from resources.certificates.validation import APPROVED, DENIED, FAILED, has_true_condition

log = logging.getLogger(__name__)

MANAGER = "csrsigning-controller"
BACKDATE = datetime.timedelta(minutes=5)
SHORT = datetime.timedelta(hours=8)     # shorter certificates are not backdated at the end
MIN_DURATION = datetime.timedelta(minutes=10)

# authority/policies.go keyUsageDict and extKeyUsageDict
KEY_USAGES = {
    "signing": "digital_signature", "digital signature": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "key agreement": "key_agreement", "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign", "crl sign": "crl_sign", "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
# in Go's x509.ExtKeyUsage order, which upstream sorts by
EXT_KEY_USAGES = (
    ("any", ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE),
    ("server auth", ExtendedKeyUsageOID.SERVER_AUTH),
    ("client auth", ExtendedKeyUsageOID.CLIENT_AUTH),
    ("code signing", ExtendedKeyUsageOID.CODE_SIGNING),
    ("email protection", ExtendedKeyUsageOID.EMAIL_PROTECTION),
    ("s/mime", ExtendedKeyUsageOID.EMAIL_PROTECTION),
    ("ipsec end system", ObjectIdentifier("1.3.6.1.5.5.7.3.5")),
    ("ipsec tunnel", ObjectIdentifier("1.3.6.1.5.5.7.3.6")),
    ("ipsec user", ObjectIdentifier("1.3.6.1.5.5.7.3.7")),
    ("timestamping", ExtendedKeyUsageOID.TIME_STAMPING),
    ("ocsp signing", ExtendedKeyUsageOID.OCSP_SIGNING),
    ("microsoft sgc", ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")),
    ("netscape sgc", ObjectIdentifier("2.16.840.1.113730.4.1")),
)


class CertificateAuthority:
    """The signing CA from two PEM files; reloaded when either file changes (upstream's
    ``caProvider`` watches them the same way)."""

    def __init__(self, cert_file: str, key_file: str):
        self.cert_file, self.key_file = cert_file, key_file
        self._stamp = None
        self.certificate = self.key = None

    def current(self):
        stamp = (os.stat(self.cert_file).st_mtime_ns, os.stat(self.key_file).st_mtime_ns)
        if stamp != self._stamp:
            with open(self.cert_file, "rb") as fh:
                certificate = x509.load_pem_x509_certificate(fh.read())
            with open(self.key_file, "rb") as fh:
                key = serialization.load_pem_private_key(fh.read(), None)
            self.certificate, self.key, self._stamp = certificate, key, stamp
        return self.certificate, self.key


def duration_for(expiration_seconds, max_seconds: float) -> datetime.timedelta:
    """Upstream ``signer.duration``: the requested duration, capped by the configured
    one, at least 10 minutes; the configured one when nothing was requested."""
    ttl = datetime.timedelta(seconds=max_seconds)
    if not isinstance(expiration_seconds, int):
        return ttl
    requested = datetime.timedelta(seconds=expiration_seconds)
    return ttl if requested > ttl else MIN_DURATION if requested < MIN_DURATION else requested


def _key_usage(usages: list) -> x509.KeyUsage | None:
    bits = {name: False for name in set(KEY_USAGES.values())}
    for usage in usages:
        if usage in KEY_USAGES:
            bits[KEY_USAGES[usage]] = True
    if not any(bits.values()):
        return None
    if not bits["key_agreement"]:
        # the X.509 encoder only allows these with keyAgreement (RFC 5280 4.2.1.3)
        bits["encipher_only"] = bits["decipher_only"] = False
    return x509.KeyUsage(**bits)


def _ext_key_usage(usages: list) -> list:
    wanted = set(usages)
    out = []
    for usage, oid in EXT_KEY_USAGES:
        if usage in wanted and oid not in out:
            out.append(oid)
    return out


def sign(ca_cert, ca_key, csr: x509.CertificateSigningRequest, usages: list,
         ttl: datetime.timedelta, now: datetime.datetime | None = None) -> bytes:
    """A PEM certificate for ``csr`` (upstream ``CertificateAuthority.Sign`` with the
    ``PermissiveSigningPolicy``)."""
    unknown = [u for u in usages if u not in KEY_USAGES and u not in dict(EXT_KEY_USAGES)]
    if unknown:
        raise ValueError("unrecognized usage values: " + " ".join(f'"{u}"' for u in unknown))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_not_after = ca_cert.not_valid_after_utc
    if now >= ca_not_after:
        raise ValueError(f"refusing to sign a certificate that expired in the past: NotAfter={ca_not_after}")
    not_before = now - BACKDATE
    not_after = now + ttl if ttl < SHORT else not_before + ttl
    not_after = min(not_after, ca_not_after)
    builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_cert.subject)
               .public_key(csr.public_key())
               .serial_number(int.from_bytes(os.urandom(16), "big") >> 1 or 1)
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    key_usage = _key_usage(usages)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    ext = _ext_key_usage(usages)
    if ext:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ext), critical=False)
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        builder = builder.add_extension(san.value, critical=not list(csr.subject))
    except x509.ExtensionNotFound:
        pass
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    except x509.ExtensionNotFound:
        pass
    algorithm = None if isinstance(ca_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) \
        else hashes.SHA256()
    return builder.sign(ca_key, algorithm).public_bytes(serialization.Encoding.PEM)


def needs_signing(obj: dict) -> bool:
    """Approved, not denied or failed, not issued, and for one of our signers."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return (spec.get("signerName") in signers.SIGNED_HERE and not status.get("certificate")
            and has_true_condition(obj, APPROVED) and not has_true_condition(obj, DENIED)
            and not has_true_condition(obj, FAILED))


class CSRSigningController(PollingController):
    name = "csrsigning-controller"

    def __init__(self, stores, ca: CertificateAuthority, max_seconds: float, *,
                 poll_seconds: float = POLL_SECONDS):
        self.stores = stores
        self.ca = ca
        self.max_seconds = max_seconds
        super().__init__(poll_seconds=poll_seconds)
        self.reported: set = set()     # (name, resourceVersion) whose failure was logged

    @property
    def store(self):
        return self.stores.store("certificates.k8s.io", "v1", "certificatesigningrequests")

    def pending(self) -> list[dict]:
        return [obj for obj in map(orjson.loads, self.store.list(None)["items"])
                if needs_signing(obj)]

    def handle(self, obj: dict) -> str:
        """Sign one request, or mark it Failed; returns "issued", "failed" or "skipped"."""
        spec = obj.get("spec") or {}
        usages = list(spec.get("usages") or [])
        csr = pem.parse_csr(pem.decode_bytes(spec.get("request")))
        try:
            signers.check_for_signer(spec.get("signerName"), csr, usages)
        except signers.SignerRefusal as refusal:
            message = str(refusal)
            return self._write(obj, lambda cur: _add_failed(cur, message), "failed")
        ca_cert, ca_key = self.ca.current()
        certificate = sign(ca_cert, ca_key, csr, usages,
                           duration_for(spec.get("expirationSeconds"), self.max_seconds))
        return self._write(obj, lambda cur: _set_certificate(cur, certificate), "issued")

    def _write(self, obj: dict, change, outcome: str) -> str:
        ctx = system_context(MANAGER, self.stores)
        ctx.subresource = "status"
        uid = obj["metadata"].get("uid")
        done = []

        def transform(current):
            # the request may have changed since it was listed: act only if it still waits
            if current["metadata"].get("uid") != uid or not needs_signing(current):
                return current
            done.append(True)
            return change(current)
        try:
            self.store.guaranteed_update(None, obj["metadata"]["name"], transform, ctx)
        except errors.NotFound:
            return "skipped"
        return outcome if done else "skipped"

    def sync(self) -> int:
        """One pass over every request waiting for a certificate; returns how many it
        issued or failed."""
        count = 0
        for obj in self.pending():
            name = obj["metadata"]["name"]
            try:
                if self.handle(obj) != "skipped":
                    count += 1
            except (ValueError, OSError, errors.APIError) as exc:
                key = (name, obj["metadata"].get("resourceVersion"))
                if key not in self.reported:     # once per version, not once a second
                    self.reported.add(key)
                    log.warning("csrsigning: certificate signing request %s not signed: %s",
                                name, getattr(exc, "reason", "") or exc)
        return count


def _add_failed(obj: dict, message: str) -> dict:
    status = obj.setdefault("status", {})
    status.setdefault("conditions", []).append({
        "type": FAILED, "status": "True", "reason": "SignerValidationFailure",
        "message": message, "lastUpdateTime": now_rfc3339()})
    return obj


def _set_certificate(obj: dict, certificate: bytes) -> dict:
    obj.setdefault("status", {})["certificate"] = base64.b64encode(certificate).decode()
    return obj


def start_csrsigning_controller(hook) -> None:
    """Post-start hook: sign until the server stops, if a signing CA is configured."""
    o = hook.options
    cert_file = getattr(o, "cluster_signing_cert_file", "")
    key_file = getattr(o, "cluster_signing_key_file", "")
    if not cert_file or not key_file:
        log.info("csrsigning controller: no --cluster-signing-cert-file/--cluster-signing-key-file;"
                 " certificate signing requests will not be signed")
        return
    ca = CertificateAuthority(cert_file, key_file)
    try:
        ca.current()
    except (OSError, ValueError) as exc:
        log.warning("csrsigning controller: cannot load the signing CA (%s); certificate "
                    "signing requests will not be signed", type(exc).__name__)
        return
    max_seconds = float(getattr(o, "cluster_signing_duration", 365 * 24 * 3600.0))
    controller = CSRSigningController(hook.stores, ca, max_seconds)
    controller.start(hook.stop, storages=[controller.store.storage])
