"""The front-proxy PKI ``up`` creates beside the cluster CA, as kubeadm does: a separate
``front-proxy-ca`` and the ``front-proxy-client`` certificate the aggregator presents to
extension API servers (``--proxy-client-cert-file``).  A separate CA, because a certificate
of the cluster CA must never be able to assert an identity through X-Remote-User headers
(upstream's advice for ``--requestheader-client-ca-file``).  Existing files are reused.
"""
from __future__ import annotations

from pathlib import Path

from apiserver.pki import PKI, _name

CLIENT_NAME = "front-proxy-client"


class FrontProxyPKI(PKI):
    """The same issuing code as the cluster PKI, on the front-proxy files."""

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.ca_cert = self.dir / "front-proxy-ca.crt"
        self.ca_key = self.dir / "front-proxy-ca.key"
        self.client_cert = self.dir / "front-proxy-client.crt"
        self.client_key = self.dir / "front-proxy-client.key"

    def ensure(self, hosts=()) -> "FrontProxyPKI":
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._ensure_ca("front-proxy-ca"):
            self.client_cert.unlink(missing_ok=True)      # issued by a CA that is gone
        if not self.client_cert.exists():
            self._issue(self.client_cert, self.client_key, _name(CLIENT_NAME), server=False)
        return self

    def option_defaults(self) -> dict:
        """The kube-apiserver flags kubeadm sets for this PKI."""
        return {"requestheader_client_ca_file": str(self.ca_cert),
                "requestheader_allowed_names": (CLIENT_NAME,),
                "requestheader_username_headers": ("X-Remote-User",),
                "requestheader_group_headers": ("X-Remote-Group",),
                "requestheader_extra_headers_prefix": ("X-Remote-Extra-",),
                "proxy_client_cert_file": str(self.client_cert),
                "proxy_client_key_file": str(self.client_key)}
