"""The root CA certificate publisher (upstream
pkg/controller/certificates/rootcacertpublisher/publisher.go): every namespace holds a
ConfigMap ``kube-root-ca.crt`` whose ``ca.crt`` is the cluster's CA bundle, so pods can
verify the API server (the ServiceAccount admission plugin projects it into each pod's
``kube-api-access-*`` volume, resources/admission/service_account.py).

Keys are namespace names.  A namespace that appears (or is updated while Active) is synced;
so is the namespace of a ``kube-root-ca.crt`` that is edited or deleted.  A sync creates the
ConfigMap when it is missing, and otherwise restores ``data`` to exactly ``{"ca.crt": CA}``
and the ``kubernetes.io/description`` annotation when either drifted; other labels and
annotations a user added are kept, as upstream.

The CA comes from ``--root-ca-file``, else the certificate authority of the manager's
kubeconfig (upstream falls back to its client config's CAData the same way):
``root_ca_bundle``.
"""
from __future__ import annotations

import copy
from pathlib import Path

from apiserver.client import ApiError

from .base import Controller

CONFIGMAPS = "/api/v1/configmaps"
NAMESPACES = "/api/v1/namespaces"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")
NAMESPACE_TERMINATING = "NamespaceTerminating"


def root_ca_bundle(root_ca_file: str | None, config) -> bytes:
    """The PEM bundle to publish: ``--root-ca-file`` when given (it must hold a certificate,
    as upstream's ``readCA``), else the kubeconfig's certificate-authority(-data)."""
    if root_ca_file:
        try:
            data = Path(root_ca_file).read_bytes()
        except OSError as exc:
            raise SystemExit(f"error parsing root-ca-file at {root_ca_file}: {exc}") from None
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise SystemExit(f"error parsing root-ca-file at {root_ca_file}: data does not "
                             "contain any valid RSA or ECDSA certificates")
        return data
    if config.ca_data:
        return config.ca_data
    if config.ca_file:
        return Path(config.ca_file).read_bytes()
    return b""


class RootCACertPublisher(Controller):
    """See the module docstring."""

    name = "root-ca-certificate-publisher"
    workers = 1                                  # upstream runs it with one worker

    def __init__(self, client, informers, recorder, root_ca: bytes):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.root_ca = root_ca.decode() if isinstance(root_ca, bytes) else root_ca
        self.configmaps = informers.add_handler(CONFIGMAPS, self._on_configmap)
        self.namespaces = informers.add_handler(NAMESPACES, self._on_namespace)

    def _on_configmap(self, event, cm, old):
        # upstream handles updates and deletes only: an add is the publisher's own create
        if event == "ADDED" or cm["metadata"].get("name") != ROOT_CA_CONFIGMAP:
            return
        self.queue.add(cm["metadata"]["namespace"])

    def _on_namespace(self, event, ns, old):
        if event == "DELETED":
            return
        if event == "MODIFIED" and (ns.get("status") or {}).get("phase", "Active") != "Active":
            return
        self.queue.add(ns["metadata"]["name"])

    def desired_data(self) -> dict:
        return {"ca.crt": self.root_ca}

    async def sync(self, key: str) -> None:
        """Create or restore ``kube-root-ca.crt`` in namespace ``key``; raise to retry."""
        cm = self.configmaps.get(ROOT_CA_CONFIGMAP, key)
        if cm is None:
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA_CONFIGMAP,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": self.desired_data()}
            try:
                await self.client.create(f"{NAMESPACES}/{key}/configmaps", body)
            except ApiError as exc:
                # a namespace that is gone or terminating is not retried, as upstream
                # (AlreadyExists is: by then the cache holds the object to compare)
                if exc.status == 404 or _has_cause(exc, NAMESPACE_TERMINATING):
                    return
                raise
            return
        annotations = cm["metadata"].get("annotations") or {}
        if cm.get("data") == self.desired_data() and annotations.get(DESCRIPTION_ANNOTATION):
            return
        body = copy.deepcopy(cm)
        body["data"] = self.desired_data()          # binaryData is left alone, as upstream
        body["metadata"]["annotations"] = dict(body["metadata"].get("annotations") or {},
                                               **{DESCRIPTION_ANNOTATION: DESCRIPTION})
        try:
            await self.client.update(f"{NAMESPACES}/{key}/configmaps/{ROOT_CA_CONFIGMAP}", body)
        except ApiError as exc:
            if exc.status == 404:
                return                   # deleted meanwhile: its DELETED event recreates it
            raise


def _has_cause(exc: ApiError, reason: str) -> bool:
    """``apierrors.HasStatusCause``: the error's Status lists a cause with ``reason``."""
    details = (exc.body.get("details") or {}) if isinstance(exc.body, dict) else {}
    return any(isinstance(c, dict) and c.get("reason") == reason
               for c in details.get("causes") or [])
