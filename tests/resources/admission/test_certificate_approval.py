"""CertificateApproval, against RBAC: approving (or denying) a CSR through /approval needs the
``approve`` verb on ``signers`` named after its signerName, or on ``<domain>/*``; upstream's
message otherwise; other subresources and operations are not its business."""
from __future__ import annotations

import copy

import pytest

from resources.admission.certificate_approval import CertificateApproval
from tests.resources.admission.rbac_cluster import Cluster, rule
from tests.resources.certificates.support import approved, csr_object

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CERTS = "certificates.k8s.io"
PLUGINS = ("CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction")


@pytest.fixture
def cluster(db):
    c = Cluster(PLUGINS)
    c.grant(rule(["create", "get", "list"], ["certificatesigningrequests"], CERTS),
            rule(["update"], ["certificatesigningrequests/approval"], CERTS))
    return c


def approve(client, name, ctype="Approved"):
    current = client.get(f"{CSRS}/{name}").json()
    return client.put(f"{CSRS}/{name}/approval", approved(copy.deepcopy(current), ctype))


def test_approval_needs_approve_on_the_signer(cluster):
    assert cluster.bob.post(CSRS, csr_object("a")).status_code == 201
    r = approve(cluster.bob, "a")
    assert r.status_code == 403
    assert r.json()["message"] == (
        'certificatesigningrequests.certificates.k8s.io "a" is forbidden: user not permitted '
        'to approve requests with signerName "kubernetes.io/kube-apiserver-client"')
    assert r.json()["details"] == {"name": "a", "group": CERTS,
                                   "kind": "certificatesigningrequests"}
    # denying is an approval-subresource update too
    assert approve(cluster.bob, "a", "Denied").status_code == 403
    cluster.grant(rule(["approve"], ["signers"], CERTS, ["kubernetes.io/kube-apiserver-client"]))
    r = approve(cluster.bob, "a")
    assert r.status_code == 200
    assert [c["type"] for c in r.json()["status"]["conditions"]] == ["Approved"]


def test_domain_wildcard_grants_every_signer_of_the_domain(cluster):
    cluster.bob.post(CSRS, csr_object("x", signer="example.com/issuer"))
    cluster.bob.post(CSRS, csr_object("k", signer="kubernetes.io/kubelet-serving",
                                      usages=("digital signature", "server auth")))
    cluster.grant(rule(["approve"], ["signers"], CERTS, ["example.com/*"]))
    assert approve(cluster.bob, "x").status_code == 200
    r = approve(cluster.bob, "k")
    assert r.status_code == 403
    assert r.json()["message"].endswith(
        'user not permitted to approve requests with signerName "kubernetes.io/kubelet-serving"')


def test_masters_may_approve(cluster):
    cluster.admin.post(CSRS, csr_object("m"))
    assert approve(cluster.admin, "m").status_code == 200


def test_only_updates_of_approval():
    plugin = CertificateApproval()
    assert plugin.handles("UPDATE") and not plugin.handles("CREATE")
    assert not plugin.handles("DELETE")
