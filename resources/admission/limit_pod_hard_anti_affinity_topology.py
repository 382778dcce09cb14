"""LimitPodHardAntiAffinityTopology (upstream kubernetes/kubernetes:plugin/pkg/admission/antiaffinity/admission.go).

Validating, on create and update of Pods (not subresources): every term of
``spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`` must use
the topology key ``kubernetes.io/hostname``, so a pod cannot keep a whole zone to itself.
The refusal is upstream's ``errors.NewForbidden`` with the pod's own name:
``pods "<name>" is forbidden: affinity.PodAntiAffinity.RequiredDuringScheduling has
TopologyKey <key> but only key kubernetes.io/hostname is allowed``.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from resources.admission.refusals import forbidden

HOSTNAME = "kubernetes.io/hostname"


def _required_anti_affinity_terms(pod: dict) -> list:
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    affinity = spec.get("affinity") if isinstance(spec.get("affinity"), dict) else {}
    anti = affinity.get("podAntiAffinity") if isinstance(affinity.get("podAntiAffinity"), dict) else {}
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution")
    return [t for t in terms if isinstance(t, dict)] if isinstance(terms, list) else []


class LimitPodHardAntiAffinityTopology(Plugin):
    name = "LimitPodHardAntiAffinityTopology"
    validating = True

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def validate(self, attrs):
        if attrs.subresource or attrs.group != "" or attrs.resource != "pods":
            return
        if not isinstance(attrs.obj, dict):
            return
        for term in _required_anti_affinity_terms(attrs.obj):
            key = term.get("topologyKey", "")
            if key != HOSTNAME:
                name = (attrs.obj.get("metadata") or {}).get("name", "")
                raise forbidden("pods", "", name,
                                "affinity.PodAntiAffinity.RequiredDuringScheduling has "
                                f"TopologyKey {key} but only key {HOSTNAME} is allowed")
