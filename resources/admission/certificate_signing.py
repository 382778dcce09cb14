"""CertificateSigning (upstream kubernetes/kubernetes:plugin/pkg/admission/certificates/signing/admission.go).

Validating, on updates of ``certificatesigningrequests/status``: when the update changes
``status.certificate`` or ``status.conditions`` (a signer issuing, or marking the request
Failed), the user must be allowed the ``sign`` verb on ``signers/<signerName>`` of the
stored request, or on ``signers/<domain>/*``.  Otherwise:
``certificatesigningrequests.certificates.k8s.io "<name>" is forbidden: user not permitted
to sign requests with signerName "<signer>"``.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsAuthorizer
from resources.admission.certificate_approval import (is_authorized_for_signer_name, is_csr,
                                                      signer_name)
from resources.admission.refusals import new_forbidden


def _status(obj) -> dict:
    status = (obj or {}).get("status") if isinstance(obj, dict) else None
    return status if isinstance(status, dict) else {}


def _signing_changed(new, old) -> bool:
    """Upstream compares the certificate bytes and (semantically: absent equals empty)
    the conditions."""
    a, b = _status(new), _status(old)
    if (a.get("certificate") or "") != (b.get("certificate") or ""):
        return True
    return (a.get("conditions") or []) != (b.get("conditions") or [])


class CertificateSigning(Plugin, WantsAuthorizer):
    name = "CertificateSigning"
    validating = True
    authorizer = None

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer

    def handles(self, operation: str) -> bool:
        return operation == "UPDATE"

    def validate(self, attrs):
        if attrs.subresource != "status" or not is_csr(attrs):
            return
        if not _signing_changed(attrs.obj, attrs.old):
            return
        signer = signer_name(attrs.old)
        if not is_authorized_for_signer_name(self.authorizer, attrs.user, "sign", signer):
            raise new_forbidden(attrs, f'user not permitted to sign requests with '
                                       f'signerName "{signer}"')
