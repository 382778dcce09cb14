"""CertificateApproval (upstream kubernetes/kubernetes:plugin/pkg/admission/certificates/approval/admission.go,
with the signer check of plugin/pkg/admission/certificates/util.go).

Validating, on updates of ``certificatesigningrequests/approval`` (``kubectl certificate
approve|deny``): the user must be allowed the ``approve`` verb on the synthetic resource
``signers`` (group ``certificates.k8s.io``) named after the request's ``spec.signerName``
of the new object, or on ``<domain>/*`` for the signer's domain part.  Otherwise:
``certificatesigningrequests.certificates.k8s.io "<name>" is forbidden: user not permitted
to approve requests with signerName "<signer>"``.
"""
from __future__ import annotations

import logging

from apiserver.admission.base import Plugin
from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.registry.initializer import WantsAuthorizer
from resources.admission.refusals import new_forbidden

log = logging.getLogger(__name__)

GROUP = "certificates.k8s.io"
RESOURCE = "certificatesigningrequests"


def _signer_attributes(user, verb: str, name: str) -> AuthorizationAttributes:
    return AuthorizationAttributes(user=user, verb=verb, is_resource_request=True,
                                   api_group=GROUP, api_version="*", resource="signers",
                                   name=name)


def is_authorized_for_signer_name(authorizer, user, verb: str, signer: str) -> bool:
    """Upstream ``IsAuthorizedForSignerName``: ``verb`` on ``signers/<signer>``, else on
    ``signers/<domain>/*``; an authorizer error counts as no."""
    for name in (signer, signer.split("/")[0] + "/*"):
        try:
            decision, _ = authorizer.authorize(_signer_attributes(user, verb, name))
        except Exception as exc:   # upstream logs the error and tries the next form
            log.info("cannot authorize %r %r for policy: %s", verb, name, exc)
            continue
        if decision is Decision.ALLOW:
            return True
    return False


def is_csr(attrs) -> bool:
    return attrs.group == GROUP and attrs.resource == RESOURCE


def signer_name(obj) -> str:
    spec = (obj or {}).get("spec") if isinstance(obj, dict) else None
    return (spec or {}).get("signerName", "") if isinstance(spec, dict) else ""


class CertificateApproval(Plugin, WantsAuthorizer):
    name = "CertificateApproval"
    validating = True
    authorizer = None

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer

    def handles(self, operation: str) -> bool:
        return operation == "UPDATE"

    def validate(self, attrs):
        if attrs.subresource != "approval" or not is_csr(attrs):
            return
        signer = signer_name(attrs.obj)
        if not is_authorized_for_signer_name(self.authorizer, attrs.user, "approve", signer):
            raise new_forbidden(attrs, f'user not permitted to approve requests with '
                                       f'signerName "{signer}"')
