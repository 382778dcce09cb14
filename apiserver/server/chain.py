"""The server chain: AggregatorServer → KubeAPIServer → APIExtensionsServer → NotFound
(upstream kubernetes/kubernetes:cmd/kube-apiserver/app/server.go ``CreateServerChain``).

Which server installs a kind is decided by its API group, as upstream: the
APIExtensionsServer serves ``apiextensions.k8s.io`` (CustomResourceDefinitions, and later the
custom resources themselves), the AggregatorServer ``apiregistration.k8s.io`` (APIService),
the KubeAPIServer every other registered group.  The extensions and aggregator servers are
empty until their issues register those kinds.
"""
from __future__ import annotations

from apiserver.server.generic import NotFoundHandler

EXTENSIONS_GROUPS = ("apiextensions.k8s.io",)
AGGREGATOR_GROUPS = ("apiregistration.k8s.io",)


def create_server_chain(config):
    """Build the three servers on ``config`` (a CompletedConfig); returns the head."""
    kinds = [type(s) for s in config.scheme.all()]
    extensions = config.new("apiextensions-apiserver", NotFoundHandler())
    extensions.install_api_groups([k for k in kinds if k.group in EXTENSIONS_GROUPS])
    kube = config.new("kube-apiserver", extensions)
    kube.install_api_groups([k for k in kinds
                             if k.group not in EXTENSIONS_GROUPS + AGGREGATOR_GROUPS])
    aggregator = config.new("kube-aggregator", kube)
    aggregator.install_api_groups([k for k in kinds if k.group in AGGREGATOR_GROUPS])
    return aggregator
