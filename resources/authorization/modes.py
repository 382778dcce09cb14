"""The ABAC, Node and Webhook authorization modes, registered with
``apiserver.authorization.base.register_mode`` from the resources app's ``ready()``.

Upstream: kubernetes/kubernetes:pkg/kubeapiserver/authorizer/config.go (each mode built once
per server from its flags: ABAC from ``--authorization-policy-file``, Node from the graph
of pods, PersistentVolumes and VolumeAttachments).
"""
from __future__ import annotations

from apiserver.authorization.abac import ABACAuthorizer
from apiserver.authorization.base import register_mode
from apiserver.authorization.node import NodeAuthorizer
from apiserver.authorization.webhook import WebhookAuthorizer
from apiserver.authorization.webhook import from_options as webhook_from_options
from resources.authorization.node_graph import NodeGraph


def abac_mode(deps) -> ABACAuthorizer:
    """The policies of ``--authorization-policy-file``, read now: a bad file stops the start
    with a message naming the line."""
    return ABACAuthorizer.from_file(getattr(deps.options, "authorization_policy_file", "") or "")


def node_mode(deps) -> NodeAuthorizer:
    """A Node authorizer over a graph of this process's own; the graph is loaded on the
    first node request (the stores are installed after the modes are built)."""
    return NodeAuthorizer(NodeGraph(deps.stores))


def webhook_mode(deps) -> WebhookAuthorizer:
    """The SubjectAccessReview webhook of ``--authorization-webhook-config-file``."""
    return webhook_from_options(deps.options)


def register() -> None:
    """Called once from ``ResourcesConfig.ready()``."""
    register_mode("ABAC", abac_mode)
    register_mode("Node", node_mode)
    register_mode("Webhook", webhook_mode)
