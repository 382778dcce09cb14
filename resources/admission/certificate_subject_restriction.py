"""CertificateSubjectRestriction (upstream kubernetes/kubernetes:plugin/pkg/admission/certificates/subjectrestriction/admission.go).

Validating, on create of CertificateSigningRequests (not subresources): a request for the
``kubernetes.io/kube-apiserver-client`` signer may not name ``system:masters`` among its
subject's organizations (the groups of the client certificate it would become).  The
refusal: ``certificatesigningrequests.certificates.k8s.io "<name>" is forbidden: use of
kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed``; a
request that does not parse: ``... is forbidden: failed to parse CSR: <why>``.  Unlike
CertificateApproval and CertificateSigning this plugin asks no authorizer (upstream
neither): nobody may obtain such a certificate through the API.
"""
from __future__ import annotations

from cryptography.x509.oid import NameOID

from apiserver.admission.base import Plugin
from resources.admission.certificate_approval import is_csr, signer_name
from resources.admission.refusals import new_forbidden
from resources.certificates.pem import decode_bytes, parse_csr

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
MASTERS = "system:masters"


class CertificateSubjectRestriction(Plugin):
    name = "CertificateSubjectRestriction"
    validating = True

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def validate(self, attrs):
        if attrs.subresource or not is_csr(attrs) or signer_name(attrs.obj) != CLIENT_SIGNER:
            return
        try:
            csr = parse_csr(decode_bytes(attrs.obj["spec"].get("request")))
        except ValueError as exc:
            raise new_forbidden(attrs, f"failed to parse CSR: {exc}") from None
        for attribute in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
            if attribute.value == MASTERS:
                raise new_forbidden(attrs, f"use of {CLIENT_SIGNER} signer with {MASTERS} "
                                           "group is not allowed")
