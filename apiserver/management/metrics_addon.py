"""The metrics server as ``up --nodes N`` runs it: its certificates, its child process and
the objects that register it, as k3s's bundled metrics-server manifests do (upstream
kubernetes-sigs/metrics-server manifests/base: RBAC, Service, APIService).

* ``metrics_server_child(directory, pki, server)`` → (argv, port): ``manage.py
  metrics-server`` as CN=system:metrics-server, serving ``metrics-server.kube-system.svc``
  with a certificate of the cluster CA on a free loopback port, scraping the kubelets by
  their InternalIP and verifying them with the same CA.
* ``register(kubeconfig, port, ca)``: server-side applies the objects below (field manager
  ``up``, forced, so a restart with a new port updates them), retrying until the API server
  answers.  The Service is an ExternalName one for ``localhost``: this server has no cluster
  network, and Endpoints may not name a loopback address.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import socket
import sys
from pathlib import Path

import orjson

from apiserver.client import ApiError, AsyncClient, load_kubeconfig

log = logging.getLogger(__name__)

USER = "system:metrics-server"
NAMESPACE, NAME = "kube-system", "metrics-server"
SERVICE_HOST = f"{NAME}.{NAMESPACE}.svc"
RESOLUTION = "15s"        # upstream's recommended --metric-resolution


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics_server_child(directory: Path, pki, server: str, extra_args=()) -> tuple[list, int]:
    cert, key = pki.ensure_client(NAME, USER)
    kubeconfig = directory / f"{NAME}.kubeconfig"
    pki.write_kubeconfig(kubeconfig, server, cert, key, USER)
    serving_cert, serving_key = pki.ensure_serving(
        f"{NAME}-serving", SERVICE_HOST, [SERVICE_HOST, f"{NAME}.{NAMESPACE}", "localhost"])
    port = free_port()
    argv = [sys.executable, "manage.py", "metrics-server", "--kubeconfig", str(kubeconfig),
            "--secure-port", str(port), "--tls-cert-file", str(serving_cert),
            "--tls-private-key-file", str(serving_key),
            "--kubelet-preferred-address-types", "InternalIP",
            "--kubelet-certificate-authority", str(pki.ca_cert),
            "--metric-resolution", RESOLUTION, *extra_args]
    return argv, port


def objects(port: int, ca_pem: bytes) -> list[tuple[str, dict]]:
    """(collection path, object) for each registration object."""
    rbac = "rbac.authorization.k8s.io"
    subject = [{"kind": "User", "apiGroup": rbac, "name": USER}]
    labels = {"k8s-app": NAME}
    return [
        (f"/apis/{rbac}/v1/clusterroles", {
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:aggregated-metrics-reader", "labels": {
                **labels, f"{rbac}/aggregate-to-admin": "true",
                f"{rbac}/aggregate-to-edit": "true", f"{rbac}/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"],
                       "verbs": ["get", "list", "watch"]}]}),
        (f"/apis/{rbac}/v1/clusterroles", {
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:metrics-server", "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                      {"apiGroups": [""], "resources": ["pods", "nodes"],
                       "verbs": ["get", "list", "watch"]}]}),
        (f"/apis/{rbac}/v1/clusterrolebindings", {
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:metrics-server", "labels": labels},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "system:metrics-server"},
            "subjects": subject}),
        (f"/apis/{rbac}/v1/clusterrolebindings", {
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "metrics-server:system:auth-delegator", "labels": labels},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": subject}),
        (f"/apis/{rbac}/v1/namespaces/{NAMESPACE}/rolebindings", {
            "apiVersion": f"{rbac}/v1", "kind": "RoleBinding",
            "metadata": {"name": "metrics-server-auth-reader", "namespace": NAMESPACE,
                         "labels": labels},
            "roleRef": {"apiGroup": rbac, "kind": "Role",
                        "name": "extension-apiserver-authentication-reader"},
            "subjects": subject}),
        (f"/api/v1/namespaces/{NAMESPACE}/services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}}),
        ("/apis/apiregistration.k8s.io/v1/apiservices", {
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": labels},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                     "service": {"namespace": NAMESPACE, "name": NAME, "port": port},
                     "caBundle": base64.b64encode(ca_pem).decode(),
                     "groupPriorityMinimum": 100, "versionPriority": 100}}),
    ]


async def _apply(client: AsyncClient, path: str, obj: dict) -> None:
    name = obj["metadata"]["name"]
    await client.request_json(
        "PATCH", f"{path}/{name}", {"fieldManager": "up", "force": "true"},
        orjson.dumps(obj), content_type="application/apply-patch+yaml")


async def register(kubeconfig: Path, port: int, ca_pem: bytes, attempts: int = 60) -> bool:
    """Apply every object; True when all were applied."""
    async with AsyncClient(load_kubeconfig(kubeconfig)) as client:
        pending = objects(port, ca_pem)
        for _ in range(attempts):
            failed = []
            for path, obj in pending:
                try:
                    await _apply(client, path, obj)
                except (ApiError, OSError, asyncio.TimeoutError) as exc:
                    failed.append((path, obj))
                    log.debug("metrics-server registration: %s: %s", obj["kind"], exc)
            if not failed:
                return True
            pending = failed
            await asyncio.sleep(1.0)
    return False
