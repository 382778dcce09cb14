"""kube-system/extension-apiserver-authentication: what an extension API server needs to
trust this server's callers (upstream kubernetes/kubernetes:pkg/controlplane/controller/
clusterauthenticationtrust/cluster_authentication_trust_controller.go).

``client-ca-file`` is the CA of client certificates; the ``requestheader-*`` keys say which
CA signs the front proxy's (this aggregator's) client certificate, which names it may carry
and which headers carry the user — the values a standard extension server (metrics-server,
any k8s.io/apiserver based one) reads with ``--authentication-kubeconfig``.  List values are
JSON arrays, as upstream writes them.  Written at start and kept so: a user's edit is put
back on the next start, as upstream's controller does on its resync.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import orjson

from apiserver.registry.context import system_context
from apiserver.runtime import errors

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
NAME = "extension-apiserver-authentication"
MANAGER = "kube-apiserver"


def desired_data(options) -> dict:
    data = {}
    if options.client_ca_file:
        data["client-ca-file"] = Path(options.client_ca_file).read_text()
    if options.requestheader_client_ca_file:
        data["requestheader-client-ca-file"] = \
            Path(options.requestheader_client_ca_file).read_text()
        for key, value in (
                ("requestheader-username-headers", options.requestheader_username_headers),
                ("requestheader-group-headers", options.requestheader_group_headers),
                ("requestheader-extra-headers-prefix", options.requestheader_extra_headers_prefix),
                ("requestheader-allowed-names", options.requestheader_allowed_names)):
            data[key] = json.dumps(list(value), separators=(",", ":"))
    return data


def reconcile(stores, options) -> bool:
    """Create or repair the ConfigMap; True when it wrote."""
    data = desired_data(options)
    if not data:
        return False
    store = stores.store("", "v1", "configmaps")
    ctx = system_context(MANAGER, stores)
    try:
        current = orjson.loads(store.get(NAMESPACE, NAME))
    except errors.NotFound:
        store.create(NAMESPACE, {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": NAME, "namespace": NAMESPACE},
                                 "data": data}, ctx)
        return True
    if current.get("data") == data:
        return False

    def put_back(obj):
        obj["data"] = data
        return obj
    store.guaranteed_update(NAMESPACE, NAME, put_back, ctx)
    return True


def start(hook) -> None:
    """Post-start hook (upstream ``start-cluster-authentication-info-controller``)."""
    try:
        reconcile(hook.stores, hook.options)
    except (OSError, errors.APIError) as exc:
        log.error("%s/%s: %s", NAMESPACE, NAME, exc)
