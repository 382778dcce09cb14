"""The CSR signing controller (resources/controllers/csrsigning.py): approved requests for the
well-known signers get a certificate from the cluster CA, through /status; misfits get a
Failed condition; nothing happens without a CA."""
from __future__ import annotations

import base64
import copy
import datetime
import logging
import threading
import time

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apiserver.options import Options
from apiserver.server.hooks import HookContext
from resources.controllers.csrsigning import (CertificateAuthority, CSRSigningController,
                                              duration_for, needs_signing,
                                              start_csrsigning_controller)
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server
from tests.resources.certificates.support import (CLIENT, KUBELET_CLIENT, KUBELET_SERVING,
                                                  approved, csr_object, csr_pem, make_ca)

GROUP, VERSION, PLURAL = "certificates.k8s.io", "v1", "certificatesigningrequests"
YEAR = 365 * 24 * 3600.0


@pytest.fixture
def ca(tmp_path):
    return make_ca(tmp_path)


@pytest.fixture
def setup(stores, ca):
    ensure_revision_row()
    controller = CSRSigningController(stores, CertificateAuthority(ca[0], ca[1]), YEAR)
    return stores.store(GROUP, VERSION, PLURAL), controller


def submit(store, ctx, obj, *, approve: str | None = "Approved") -> dict:
    created = orjson.loads(store.create(None, obj, ctx))
    if approve:
        store.update(None, created["metadata"]["name"], approved(copy.deepcopy(created), approve),
                     ctx.for_subresource("approval"))
    return orjson.loads(store.get(None, created["metadata"]["name"]))


def issued(store, name) -> x509.Certificate | None:
    status = orjson.loads(store.get(None, name)).get("status") or {}
    if not status.get("certificate"):
        return None
    return x509.load_pem_x509_certificate(base64.b64decode(status["certificate"]))


def test_approved_client_request_is_signed_by_the_ca(setup, ctx, ca):
    store, controller = setup
    submit(store, ctx, csr_object("alice", csr_pem("alice", ("devs", "qa")),
                                  usages=("client auth", "digital signature"), expiration=3600))
    before = datetime.datetime.now(datetime.timezone.utc)
    assert controller.sync() == 1
    cert = issued(store, "alice")
    ca_cert = ca[2]
    cert.verify_directly_issued_by(ca_cert)
    ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] \
        == ["devs", "qa"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # expirationSeconds honoured: a short certificate ends an hour from now, starts 5 min ago
    lifetime = cert.not_valid_after_utc - before
    assert datetime.timedelta(minutes=59) < lifetime <= datetime.timedelta(minutes=61)
    assert before - cert.not_valid_before_utc >= datetime.timedelta(minutes=4)
    obj = orjson.loads(store.get(None, "alice"))
    assert [c["type"] for c in obj["status"]["conditions"]] == ["Approved"]
    managers = {(m["manager"], m.get("subresource", "")) for m in obj["metadata"]["managedFields"]}
    assert ("csrsigning-controller", "status") in managers and ("tests", "approval") in managers
    assert controller.sync() == 0                      # issued: nothing left to do


def test_duration_is_capped_by_the_configured_one(stores, ctx, ca):
    ensure_revision_row()
    store = stores.store(GROUP, VERSION, PLURAL)
    controller = CSRSigningController(stores, CertificateAuthority(ca[0], ca[1]), 1800.0)
    submit(store, ctx, csr_object("capped", expiration=7200))
    now = datetime.datetime.now(datetime.timezone.utc)
    controller.sync()
    lifetime = issued(store, "capped").not_valid_after_utc - now
    assert datetime.timedelta(minutes=29) < lifetime <= datetime.timedelta(minutes=31)
    assert duration_for(None, 1800.0) == datetime.timedelta(seconds=1800)
    assert duration_for(60, YEAR) == datetime.timedelta(minutes=10)
    assert duration_for(86400 * 400, YEAR) == datetime.timedelta(seconds=YEAR)


def test_only_approved_pending_requests_for_our_signers(setup, ctx):
    store, controller = setup
    submit(store, ctx, csr_object("pending"), approve=None)
    submit(store, ctx, csr_object("denied"), approve="Denied")
    submit(store, ctx, csr_object("elsewhere", signer="example.com/signer"))
    assert controller.sync() == 0
    for name in ("pending", "denied", "elsewhere"):
        assert issued(store, name) is None
    assert not needs_signing(orjson.loads(store.get(None, "denied")))


def test_kubelet_serving_gets_dns_and_ip_sans(setup, ctx, ca):
    store, controller = setup
    request = csr_pem("system:node:n1", ("system:nodes",), dns=("n1.example",), ips=("10.0.0.7",))
    submit(store, ctx, csr_object("serving", request, signer=KUBELET_SERVING,
                                  usages=("digital signature", "key encipherment", "server auth")))
    assert controller.sync() == 1
    cert = issued(store, "serving")
    cert.verify_directly_issued_by(ca[2])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n1.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) \
        == [ExtendedKeyUsageOID.SERVER_AUTH]
    # a year by default (no expirationSeconds): backdated by 5 minutes at both ends
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == datetime.timedelta(seconds=YEAR)


@pytest.mark.parametrize("name,request_args,signer,usages,message", [
    ("bad-usage", ("alice", ("devs",)), CLIENT, ("client auth", "server auth"),
     "invalid usage for client certificate: server auth"),
    ("no-client-auth", ("alice", ("devs",)), CLIENT, ("digital signature",),
     "missing required usage for client certificate: client auth"),
    ("not-a-node", ("alice", ("system:nodes",)), KUBELET_CLIENT,
     ("digital signature", "client auth"), "subject common name does not begin with system:node:"),
    ("wrong-org", ("system:node:n1", ("devs",)), KUBELET_CLIENT,
     ("digital signature", "client auth"), "subject organization is not system:nodes"),
    ("kubelet-usages", ("system:node:n1", ("system:nodes",)), KUBELET_CLIENT,
     ("client auth",), "usages did not match [client auth digital signature key encipherment]"),
    ("no-sans", ("system:node:n1", ("system:nodes",)), KUBELET_SERVING,
     ("digital signature", "server auth"), "DNS or IP subjectAltName is required"),
])
def test_misfits_get_a_failed_condition(setup, ctx, name, request_args, signer, usages, message):
    store, controller = setup
    submit(store, ctx, csr_object(name, csr_pem(*request_args), signer=signer, usages=usages))
    assert controller.sync() == 1
    obj = orjson.loads(store.get(None, name))
    failed = obj["status"]["conditions"][-1]
    assert (failed["type"], failed["status"], failed["reason"]) == \
        ("Failed", "True", "SignerValidationFailure")
    assert failed["message"] == message
    assert "certificate" not in obj["status"]
    assert controller.sync() == 0                      # failed is final


def test_without_signing_files_nothing_starts(db, caplog):
    completed, _ = build_server()
    stop = threading.Event()
    before = threading.active_count()
    with caplog.at_level(logging.INFO, logger="resources.controllers.csrsigning"):
        start_csrsigning_controller(HookContext(completed.stores, Options(), stop))
    assert threading.active_count() == before
    texts = [r.getMessage() for r in caplog.records
             if r.name == "resources.controllers.csrsigning"]
    assert len(texts) == 1 and "will not be signed" in texts[0]


def test_the_hook_starts_a_thread_that_signs_on_commit(threaded_db, ctx, tmp_path):
    cert_file, key_file, ca_cert, _ = make_ca(tmp_path)
    completed, _ = build_server()
    store = completed.stores.store(GROUP, VERSION, PLURAL)
    stop = threading.Event()
    options = Options(cluster_signing_cert_file=cert_file, cluster_signing_key_file=key_file)
    before = {t.ident for t in threading.enumerate()}
    start_csrsigning_controller(HookContext(completed.stores, options, stop))
    threads = [t for t in threading.enumerate() if t.ident not in before]
    assert [t.name for t in threads] == ["csrsigning-controller"]
    try:
        submit(store, ctx, csr_object("threaded"))
        deadline = time.monotonic() + 10
        while issued(store, "threaded") is None:
            assert time.monotonic() < deadline, "no certificate within 10 s"
            time.sleep(0.05)
        issued(store, "threaded").verify_directly_issued_by(ca_cert)
    finally:
        stop.set()
        threads[0].join(5)
    assert not threads[0].is_alive()
