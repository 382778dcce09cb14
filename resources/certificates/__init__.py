"""certificates.k8s.io/v1: CertificateSigningRequests, their approval and the signer.
``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.certificates.certificatesigningrequests.CertificateSigningRequestStrategy",
)
