"""The well-known ``kubernetes.io`` signers and what each will sign.

The API server accepts any request for any signer; the kube-controller-manager's signers
then check that a request fits the signer before issuing, and mark a request that does not
with a ``Failed`` condition (reason ``SignerValidationFailure``).  Upstream:
kubernetes/kubernetes:pkg/controller/certificates/signer/signer.go
(``getCSRVerificationFuncForSignerName``, ``validAPIServerClientUsages``) and
pkg/apis/certificates/helpers.go (``ValidateKubeletServingCSR``, ``ValidateKubeletClientCSR``).
"""
from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"
SIGNED_HERE = (KUBE_APISERVER_CLIENT, KUBE_APISERVER_CLIENT_KUBELET, KUBELET_SERVING)

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

_KUBELET_SERVING_USAGES = ({"digital signature", "key encipherment", "server auth"},
                           {"digital signature", "server auth"})
_KUBELET_CLIENT_USAGES = ({"digital signature", "key encipherment", "client auth"},
                          {"digital signature", "client auth"})


class SignerRefusal(ValueError):
    """The request does not fit its signer; the text becomes the Failed condition's message."""


def _go_list(values) -> str:
    # Go's %v of a sorted []string
    return "[" + " ".join(sorted(values)) + "]"


def subject_attrs(csr: x509.CertificateSigningRequest, oid) -> list[str]:
    return [a.value for a in csr.subject.get_attributes_for_oid(oid)]


def sans(csr: x509.CertificateSigningRequest) -> dict:
    """The subjectAltNames a request carries, by kind."""
    out = {"dns": [], "ip": [], "email": [], "uri": []}
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return out
    out["dns"] = ext.get_values_for_type(x509.DNSName)
    out["ip"] = ext.get_values_for_type(x509.IPAddress)
    out["email"] = ext.get_values_for_type(x509.RFC822Name)
    out["uri"] = ext.get_values_for_type(x509.UniformResourceIdentifier)
    return out


def _common_name(csr) -> str:
    names = subject_attrs(csr, NameOID.COMMON_NAME)
    return names[0] if names else ""


def _check_nodes_org(csr) -> None:
    if subject_attrs(csr, NameOID.ORGANIZATION_NAME) != [NODES_GROUP]:
        raise SignerRefusal("subject organization is not system:nodes")


def check_kubelet_serving(csr, usages: set) -> None:
    """``ValidateKubeletServingCSR``: O=[system:nodes], CN system:node:…, DNS or IP SANs
    only, usages exactly server auth + digital signature (+ key encipherment)."""
    _check_nodes_org(csr)
    names = sans(csr)
    if not names["dns"] and not names["ip"]:
        raise SignerRefusal("DNS or IP subjectAltName is required")
    if names["email"]:
        raise SignerRefusal("Email subjectAltNames are not allowed")
    if names["uri"]:
        raise SignerRefusal("URI subjectAltNames are not allowed")
    if usages not in _KUBELET_SERVING_USAGES:
        raise SignerRefusal("usages did not match " + _go_list(_KUBELET_SERVING_USAGES[0]))
    if not _common_name(csr).startswith(NODE_PREFIX):
        raise SignerRefusal("subject common name does not begin with system:node:")


def check_kubelet_client(csr, usages: set) -> None:
    """``ValidateKubeletClientCSR``: O=[system:nodes], no SANs, CN system:node:…, usages
    exactly client auth + digital signature (+ key encipherment)."""
    _check_nodes_org(csr)
    names = sans(csr)
    for kind, label in (("dns", "DNS"), ("email", "Email"), ("ip", "IP"), ("uri", "URI")):
        if names[kind]:
            raise SignerRefusal(f"{label} subjectAltNames are not allowed")
    if not _common_name(csr).startswith(NODE_PREFIX):
        raise SignerRefusal("subject common name does not begin with system:node:")
    if usages not in _KUBELET_CLIENT_USAGES:
        raise SignerRefusal("usages did not match " + _go_list(_KUBELET_CLIENT_USAGES[0]))


def check_apiserver_client(csr, usages: list) -> None:
    """``validAPIServerClientUsages``: client auth, optionally digital signature and key
    encipherment, nothing else."""
    has_client_auth = False
    for usage in usages:
        if usage == "client auth":
            has_client_auth = True
        elif usage not in ("digital signature", "key encipherment"):
            raise SignerRefusal(f"invalid usage for client certificate: {usage}")
    if not has_client_auth:
        raise SignerRefusal("missing required usage for client certificate: client auth")


def check_for_signer(signer_name: str, csr, usages: list) -> bool:
    """True when ``signer_name`` is one this server signs for and the request fits it;
    False for other signers; :class:`SignerRefusal` when it is ours and does not fit."""
    if signer_name == KUBELET_SERVING:
        check_kubelet_serving(csr, set(usages))
    elif signer_name == KUBE_APISERVER_CLIENT_KUBELET:
        check_kubelet_client(csr, set(usages))
    elif signer_name == KUBE_APISERVER_CLIENT:
        check_apiserver_client(csr, usages)
    else:
        return False
    return True
