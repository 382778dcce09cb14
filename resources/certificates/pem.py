"""PEM and PKCS#10 parsing with Go's semantics, for CSR validation and the signer.

Go's ``encoding/pem.Decode`` finds the first well-formed block anywhere in the data (text
before and after it is ignored) and ``crypto/x509`` then parses its DER; the messages here
are the ones upstream's validation reports (kubernetes/kubernetes:pkg/apis/certificates/v1/
helpers.go ``ParseCSR``, pkg/apis/certificates/validation/validation.go
``validateCertificate``).  The DER parsing itself is the ``cryptography`` package's.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

CSR_BLOCK = "CERTIFICATE REQUEST"
CERTIFICATE_BLOCK = "CERTIFICATE"

# a block: BEGIN line, optional "Key: value" headers and a blank line, base64, END line
_BLOCK = re.compile(rb"(?:^|\n)-----BEGIN ([^\n-][^\n]*?)-----[ \t\r]*\n(.*?)-----END \1-----",
                    re.S)


@dataclass(frozen=True)
class Block:
    type: str
    headers: dict
    der: bytes


def decode_blocks(data: bytes) -> list[Block]:
    """Every PEM block of ``data`` in order, skipping malformed ones as Go's ``pem.Decode``
    does when called in a loop on the rest."""
    blocks = []
    for match in _BLOCK.finditer(data or b""):
        body = match.group(2)
        headers = {}
        lines = body.split(b"\n")
        if lines and b":" in lines[0]:
            while lines and lines[0].strip():
                key, _, value = lines.pop(0).partition(b":")
                headers[key.strip().decode(errors="replace")] = value.strip().decode(errors="replace")
        try:
            der = base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
        except (binascii.Error, ValueError):
            continue
        blocks.append(Block(match.group(1).decode(errors="replace"), headers, der))
    return blocks


def parse_csr(data: bytes) -> x509.CertificateSigningRequest:
    """The first PEM block of ``data`` as a PKCS#10 request (upstream ``ParseCSR``);
    ValueError with upstream's text when it is not one."""
    blocks = decode_blocks(data)
    if not blocks or blocks[0].type != CSR_BLOCK:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        return x509.load_der_x509_csr(blocks[0].der)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("x509: malformed certificate request") from None


def check_csr_signature(csr: x509.CertificateSigningRequest) -> str | None:
    """None when the request is signed by its own key (Go ``CheckSignature``), else the
    error text Go's verifier gives for that key type."""
    try:
        if csr.is_signature_valid:
            return None
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "x509: cannot verify signature: algorithm unimplemented"
    if isinstance(key, rsa.RSAPublicKey):
        return "crypto/rsa: verification error"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "x509: ECDSA verification failure"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "x509: Ed25519 verification failure"
    return "x509: cannot verify signature: algorithm unimplemented"


def csr_error(data: bytes) -> str | None:
    """Why ``data`` is not an acceptable, self-signed PEM certificate request (upstream
    ``validateCSR``), or None."""
    try:
        csr = parse_csr(data)
    except ValueError as err:
        return str(err)
    return check_csr_signature(csr)


def certificate_error(data: bytes) -> str | None:
    """Why ``data`` is not an acceptable ``status.certificate`` (upstream
    ``validateCertificate``): one or more headerless CERTIFICATE blocks; empty is fine."""
    if not data:
        return None
    blocks = decode_blocks(data)
    for block in blocks:
        if block.type != CERTIFICATE_BLOCK:
            return f'only CERTIFICATE PEM blocks are allowed, found "{block.type}"'
        if block.headers:
            return "no PEM block headers are permitted"
        try:
            x509.load_der_x509_certificate(block.der)
        except ValueError:
            return "x509: malformed certificate"
    if not blocks:
        return "must contain at least one CERTIFICATE PEM block"
    return None


def decode_bytes(value) -> bytes:
    """A ``[]byte`` field's wire value (base64 text) as bytes; b"" when absent or not base64
    (the decoder refuses such bodies before any hook runs)."""
    if not value or not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""
