"""CertificateSubjectRestriction: nobody (not even system:masters) may ask the
kube-apiserver-client signer for a system:masters certificate; other signers and other
organizations pass; upstream's message."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission.certificate_subject_restriction import CertificateSubjectRestriction
from tests.resources.admission.rbac_cluster import Cluster
from tests.resources.certificates.support import b64, csr_object, csr_pem

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
PLUGINS = ("CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction")


@pytest.fixture
def cluster(db):
    return Cluster(PLUGINS)


def test_system_masters_for_the_client_signer_is_refused(cluster):
    r = cluster.admin.post(CSRS, csr_object("root", csr_pem("root", ("devs", "system:masters"))))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'certificatesigningrequests.certificates.k8s.io "root" is forbidden: use of '
        'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed')
    assert r.json()["reason"] == "Forbidden"


def test_other_groups_and_signers_pass(cluster):
    assert cluster.admin.post(CSRS, csr_object("dev", csr_pem("dev", ("devs",)))).status_code == 201
    r = cluster.admin.post(CSRS, csr_object("elsewhere", csr_pem("x", ("system:masters",)),
                                            signer="example.com/issuer"))
    assert r.status_code == 201


def attrs(request: bytes, signer="kubernetes.io/kube-apiserver-client", subresource=""):
    obj = {"metadata": {"name": "c"}, "spec": {"signerName": signer, "request": b64(request)}}
    return Attributes(operation="CREATE", group="certificates.k8s.io", version="v1",
                      kind="CertificateSigningRequest", resource="certificatesigningrequests",
                      subresource=subresource, namespace="", name="c", obj=obj, old=None)


def test_unparsable_request_and_subresources():
    plugin = CertificateSubjectRestriction()
    assert plugin.handles("CREATE") and not plugin.handles("UPDATE")
    with pytest.raises(errors.Forbidden) as exc:
        plugin.validate(attrs(b"not pem"))
    assert exc.value.message == ('certificatesigningrequests.certificates.k8s.io "c" is '
                                 'forbidden: failed to parse CSR: PEM block type must be '
                                 'CERTIFICATE REQUEST')
    plugin.validate(attrs(b"not pem", subresource="status"))          # not its business
