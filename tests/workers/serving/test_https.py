"""``HttpsServer`` (workers/serving/https.py) with a ``self_signed`` serving pair
(workers/serving/selfsigned.py): port 0 binds a free port and reports it, the verified
client certificate reaches the app's scope, a caller without one is still served, and a
certificate of another CA fails the handshake."""
from __future__ import annotations

import asyncio
import http.client
import ipaddress
import os
import ssl
import stat

import orjson
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.certs import CA
from tests.workers.serving.support import peer
from workers.serving.https import HttpsServer
from workers.serving.selfsigned import self_signed


def test_self_signed_names_the_host_and_addresses(tmp_path):
    cert_file, key_file = self_signed("node-1", ["10.0.0.7", "node-1.local"], str(tmp_path))
    assert os.path.dirname(cert_file) == str(tmp_path)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with open(cert_file, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn.startswith("node-1@") and cert.issuer == cert.subject
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["node-1", "node-1.local"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 365 <= days <= 366


async def echo(scope, receive, send):
    """Answers with the peer certificate's DER and subject (or ``none``)."""
    tls = (scope.get("extensions") or {}).get("tls")
    body = orjson.dumps({"der": tls["client_cert_der"].hex(),
                         "subject": tls["client_subject"]}) if tls else b"none"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("https-pki")
    client_ca, other = CA("client-ca"), CA("other")
    cert_file, key_file = self_signed("localhost", ["127.0.0.1"], str(d))
    out = {"dir": d, "cert": cert_file, "key": key_file,
           "client_ca": str(client_ca.write(d / "client-ca.crt"))}
    out["jane"] = client_ca.write_pair(d, "jane", "jane", ["dev"])
    out["jane_peer"] = peer(x509.load_pem_x509_certificate(out["jane"][0].read_bytes()))
    out["stranger"] = other.write_pair(d, "stranger", "jane")
    return out


def get(port, pki, pair=None):
    ctx = ssl.create_default_context(cafile=pki["cert"])
    if pair:
        ctx.load_cert_chain(str(pair[0]), str(pair[1]))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_port_zero_binds_and_the_peer_certificate_and_subject_reach_the_scope(pki):
    async def go():
        server = HttpsServer(echo, "127.0.0.1", 0, pki["cert"], pki["key"],
                             [pki["client_ca"], ""], name="test")
        await server.start()
        try:
            assert server.port != 0
            with_cert = await asyncio.to_thread(get, server.port, pki, pki["jane"])
            without = await asyncio.to_thread(get, server.port, pki)
            try:
                await asyncio.to_thread(get, server.port, pki, pki["stranger"])
                refused = None
            except (ssl.SSLError, ConnectionError, http.client.HTTPException) as exc:
                refused = exc
            return with_cert, without, refused
        finally:
            await server.stop()
    with_cert, without, refused = asyncio.run(go())
    status, body = with_cert
    expected = pki["jane_peer"]
    assert status == 200 and orjson.loads(body) == {
        "der": expected["client_cert_der"].hex(), "subject": expected["client_subject"]}
    assert expected["client_subject"] == [{"organizationName": "dev"}, {"commonName": "jane"}]
    assert without == (200, b"none")
    assert refused is not None


def test_a_taken_port_is_an_error(pki):
    async def go():
        first = HttpsServer(echo, "127.0.0.1", 0, pki["cert"], pki["key"])
        await first.start()
        try:
            second = HttpsServer(echo, "127.0.0.1", first.port, pki["cert"], pki["key"],
                                 name="second")
            with pytest.raises(OSError, match="second: cannot listen on 127.0.0.1"):
                await second.start()
        finally:
            await first.stop()
    asyncio.run(go())
