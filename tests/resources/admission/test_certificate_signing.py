"""CertificateSigning, against RBAC: writing status.certificate or changing the conditions
through /status needs ``sign`` on the stored request's signer; other status writes pass;
and the in-process CSR signer still issues approved requests with all three Certificate*
plugins on."""
from __future__ import annotations

import base64
import copy

import pytest
from cryptography import x509

from resources.controllers.csrsigning import CertificateAuthority, CSRSigningController
from tests.resources.admission.rbac_cluster import Cluster, rule
from tests.resources.certificates.support import (approved, csr_object, csr_pem, make_ca,
                                                  self_signed_pem)

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CERTS = "certificates.k8s.io"
PLUGINS = ("CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction")
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"


@pytest.fixture
def cluster(db):
    c = Cluster(PLUGINS)
    c.grant(rule(["create", "get", "list"], ["certificatesigningrequests"], CERTS),
            rule(["update"], ["certificatesigningrequests/approval",
                              "certificatesigningrequests/status"], CERTS),
            rule(["approve"], ["signers"], CERTS, [CLIENT_SIGNER]))
    return c


def put_status(client, name, change):
    current = client.get(f"{CSRS}/{name}").json()
    change(current.setdefault("status", {}))
    return client.put(f"{CSRS}/{name}/status", current)


def submit_approved(client, name):
    assert client.post(CSRS, csr_object(name, csr_pem(name, ("devs",)))).status_code == 201
    current = client.get(f"{CSRS}/{name}").json()
    assert client.put(f"{CSRS}/{name}/approval",
                      approved(copy.deepcopy(current))).status_code == 200


def test_issuing_needs_sign_on_the_signer(cluster):
    submit_approved(cluster.bob, "a")
    cert = base64.b64encode(self_signed_pem("a")).decode()
    r = put_status(cluster.bob, "a", lambda s: s.update(certificate=cert))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'certificatesigningrequests.certificates.k8s.io "a" is forbidden: user not permitted '
        f'to sign requests with signerName "{CLIENT_SIGNER}"')
    # marking it Failed changes the conditions: a signer's job too
    r = put_status(cluster.bob, "a", lambda s: s["conditions"].append(
        {"type": "Failed", "status": "True", "reason": "R", "message": "m"}))
    assert r.status_code == 403
    cluster.grant(rule(["sign"], ["signers"], CERTS, ["kubernetes.io/*"]))
    assert put_status(cluster.bob, "a", lambda s: s.update(certificate=cert)).status_code == 200


def test_status_writes_that_do_not_sign_pass(cluster):
    submit_approved(cluster.bob, "a")
    # the same certificate and conditions (a no-op status write) need no signer permission
    assert put_status(cluster.bob, "a", lambda s: None).status_code == 200


def test_in_process_signer_signs_with_the_plugins_on(cluster, tmp_path):
    ca = make_ca(tmp_path)
    submit_approved(cluster.bob, "alice")
    controller = CSRSigningController(cluster.stores, CertificateAuthority(ca[0], ca[1]),
                                      365 * 24 * 3600.0)
    assert controller.sync() == 1
    status = cluster.bob.get(f"{CSRS}/alice").json()["status"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(status["certificate"]))
    cert.verify_directly_issued_by(ca[2])
    assert cert.subject.rfc4514_string() == "CN=alice,O=devs"
    assert controller.sync() == 0
