"""TaintNodesByCondition (upstream kubernetes/kubernetes:plugin/pkg/admission/nodetaint/admission.go).

Mutating, on create of Nodes (not subresources): a new Node gets the
``node.kubernetes.io/not-ready:NoSchedule`` taint unless it already has a taint of that
key and effect, so nothing is scheduled on it before it reports Ready.  Upstream the node
lifecycle controller (kube-controller-manager) removes the taint once the node is Ready;
this server runs no such controller yet, so the taint stays until a client removes it.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin

NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


class TaintNodesByCondition(Plugin):
    name = "TaintNodesByCondition"
    mutating = True

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def admit(self, attrs):
        if attrs.group != "" or attrs.resource != "nodes" or attrs.subresource:
            return
        if not isinstance(attrs.obj, dict):
            return
        spec = attrs.obj.get("spec")
        if not isinstance(spec, dict):
            spec = attrs.obj["spec"] = {}
        taints = spec.get("taints")
        if not isinstance(taints, list):
            taints = []
        for taint in taints:   # upstream MatchTaint: same key and effect
            if isinstance(taint, dict) and taint.get("key") == NOT_READY_TAINT["key"] \
                    and taint.get("effect") == NOT_READY_TAINT["effect"]:
                return
        spec["taints"] = taints + [dict(NOT_READY_TAINT)]
