"""Bootstrap objects reconciled at every start (upstream kubernetes/kubernetes:
pkg/controlplane/controller/kubernetesservice and systemnamespaces): the system namespaces
exist, the ``default/kubernetes`` Service and its Endpoints point at this server, and the
system namespaces have a ``default`` ServiceAccount (upstream's serviceaccounts-controller
does that for every namespace).  The ``ensure_*`` post-start hooks take the server's
:class:`~apiserver.server.hooks.HookContext` (stores and options)."""
from __future__ import annotations

import ipaddress
import logging
import socket

from apiserver.registry.context import system_context
from apiserver.runtime import errors

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE_PORT = 443
log = logging.getLogger(__name__)


def ensure_system_namespaces(hook) -> None:
    store = hook.stores.store("", "v1", "namespaces")
    ctx = system_context("kube-apiserver")
    for name in SYSTEM_NAMESPACES:
        try:
            store.create(None, {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": name}}, ctx)
        except errors.AlreadyExists:
            pass


def ensure_kubernetes_service(hook) -> None:
    """``default/kubernetes``: ClusterIP = first address of the service range, port 443
    (``https``) → target port ``--secure-port``; and Endpoints with this host's address
    and EndpointSlice with this host's address (upstream's ``EndpointReconciler``; skipped when
    only a loopback address is known, which Endpoints validation refuses)."""
    stores, secure_port = hook.stores, hook.options.secure_port
    services = stores.store("", "v1", "services")
    ctx = system_context("kube-apiserver")
    port = {"name": "https", "port": KUBERNETES_SERVICE_PORT, "protocol": "TCP",
            "targetPort": secure_port}
    try:
        services.create("default", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": services.strategy.ip_allocator().first_ip(), "ports": [port],
                     "sessionAffinity": "None"}}, ctx)
    except errors.AlreadyExists:
        pass
    address = advertise_address()
    if address is None:
        log.info("no non-loopback address: not writing Endpoints default/kubernetes")
        return
    subsets = [{"addresses": [{"ip": address}],
                "ports": [{"name": "https", "port": secure_port, "protocol": "TCP"}]}]
    endpoints = stores.store("", "v1", "endpoints")
    try:
        endpoints.create("default", {"apiVersion": "v1", "kind": "Endpoints",
                                     "metadata": {"name": "kubernetes", "namespace": "default",
                                                  "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                                     "subsets": subsets}, ctx)
    except errors.AlreadyExists:
        def point_here(current):
            current["subsets"] = subsets
            return current
        endpoints.guaranteed_update("default", "kubernetes", point_here, ctx)
    ensure_kubernetes_endpoint_slice(stores, address, secure_port, ctx)


def ensure_kubernetes_endpoint_slice(stores, address: str, secure_port: int, ctx) -> None:
    """The EndpointSlice ``default/kubernetes`` beside the Endpoints, as upstream's
    reconciler writes both (pkg/controlplane/reconcilers/endpointsadapter.go: same name,
    the service-name label, no managed-by label, so the endpointslice controller leaves it
    alone)."""
    slices = stores.store("discovery.k8s.io", "v1", "endpointslices")
    if slices is None:
        return
    body = {"addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": secure_port, "protocol": "TCP"}]}
    try:
        slices.create("default", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}}, **body}, ctx)
    except errors.AlreadyExists:
        def point_here(current):
            current.update(body)
            return current
        slices.guaranteed_update("default", "kubernetes", point_here, ctx)


def ensure_default_service_accounts(hook) -> None:
    """A ``default`` ServiceAccount in each system namespace (new namespaces get theirs
    from ``NamespaceStrategy.after_create``)."""
    for namespace in SYSTEM_NAMESPACES:
        ensure_default_service_account(hook.stores, namespace)


def ensure_default_service_account(stores, namespace: str) -> None:
    """The ``default`` ServiceAccount of ``namespace`` exists (created if missing)."""
    store = stores.store("", "v1", "serviceaccounts")
    try:
        store.create(namespace, {"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": "default", "namespace": namespace}},
                     system_context("kube-controller-manager"))
    except errors.AlreadyExists:
        pass


def advertise_address() -> str | None:
    """This host's outbound IPv4 address (no packet is sent), or None if only loopback."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    ip = ipaddress.ip_address(address)
    return None if ip.is_loopback or ip.is_unspecified or ip.is_link_local else address
