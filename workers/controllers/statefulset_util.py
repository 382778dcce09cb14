"""StatefulSet pod identity, storage and health (upstream
pkg/controller/statefulset/stateful_set_utils.go).

A StatefulSet's pods are ``<set>-<ordinal>``; each carries its identity (the
``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index`` labels, hostname
= pod name, subdomain = ``serviceName``), its revision (``controller-revision-hash`` = the
ControllerRevision's *name*) and a volume per volumeClaimTemplate bound to the claim
``<template>-<set>-<ordinal>``.
"""
from __future__ import annotations

import copy
import re

from . import podutil

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def replicas(sts: dict) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def start_ordinal(sts: dict) -> int:
    """``getStartOrdinal``: ``spec.ordinals.start`` (StatefulSetStartOrdinal, on in 1.32)."""
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def parent_and_ordinal(pod: dict) -> tuple[str, int]:
    """``getParentNameAndOrdinal``: ("", -1) for a name not of the form ``parent-N``."""
    m = _ORDINAL.match(pod["metadata"]["name"])
    if not m:
        return "", -1
    return m.group(1), int(m.group(2))


def is_member(sts: dict, pod: dict) -> bool:
    """``isMemberOf``: the pod's name is this set's name and an ordinal."""
    return parent_and_ordinal(pod)[0] == sts["metadata"]["name"]


def in_range(sts: dict, ordinal: int) -> bool:
    """``podInOrdinalRange``."""
    start = start_ordinal(sts)
    return start <= ordinal < start + replicas(sts)


def pod_name(sts: dict, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(template_name: str, pod: str) -> str:
    """``getPersistentVolumeClaimName``: ``<claim template>-<pod name>``."""
    return f"{template_name}-{pod}"


def revision_of(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


def claims_for(sts: dict, pod: str) -> list[dict]:
    """``getPersistentVolumeClaims``: one claim per template, labelled with the template's
    labels and the set's matchLabels (so the set's selector finds them)."""
    out = []
    match_labels = ((sts["spec"].get("selector") or {}).get("matchLabels")) or {}
    for tmpl in sts["spec"].get("volumeClaimTemplates") or []:
        meta = tmpl.get("metadata") or {}
        labels = dict(meta.get("labels") or {})
        labels.update(match_labels)
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": claim_name(meta.get("name", ""), pod),
                              "namespace": sts["metadata"]["namespace"], "labels": labels},
                 "spec": copy.deepcopy(tmpl.get("spec") or {})}
        if meta.get("annotations"):
            claim["metadata"]["annotations"] = dict(meta["annotations"])
        out.append(claim)
    return out


def new_pod(sts: dict, template: dict, ordinal: int, revision: str) -> dict:
    """``newVersionedStatefulSetPod`` for one template: the template's pod named
    ``<set>-<ordinal>`` with its identity, storage and revision label."""
    pod = podutil.pod_from_template(sts, template)
    name = pod_name(sts, ordinal)
    meta = pod["metadata"]
    meta.pop("generateName", None)
    meta["name"] = name
    labels = meta.setdefault("labels", {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    if revision:
        labels[REVISION_LABEL] = revision
    spec = pod["spec"] = copy.deepcopy(pod["spec"])
    spec["hostname"] = name
    if sts["spec"].get("serviceName"):
        spec["subdomain"] = sts["spec"]["serviceName"]
    # updateStorage: a template's volume of a claim's name is replaced by the claim
    claims = {t.get("metadata", {}).get("name"): claim_name(t.get("metadata", {}).get("name", ""),
                                                            name)
              for t in sts["spec"].get("volumeClaimTemplates") or []}
    volumes = [{"name": vol, "persistentVolumeClaim": {"claimName": claim}}
               for vol, claim in claims.items()]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes
    return pod


def identity_matches(sts: dict, pod: dict) -> bool:
    """``identityMatches``: name, namespace, identity labels, hostname, subdomain."""
    parent, ordinal = parent_and_ordinal(pod)
    labels = pod["metadata"].get("labels") or {}
    spec = pod.get("spec") or {}
    return parent == sts["metadata"]["name"] and \
        pod["metadata"].get("namespace") == sts["metadata"]["namespace"] and \
        labels.get(POD_NAME_LABEL) == pod["metadata"]["name"] and \
        labels.get(POD_INDEX_LABEL) == str(ordinal) and \
        spec.get("hostname") == pod["metadata"]["name"] and \
        (spec.get("subdomain") or "") == (sts["spec"].get("serviceName") or "")


def is_created(pod: dict) -> bool:
    """``isCreated``: the pod has a phase (the API server has seen it through)."""
    return bool((pod.get("status") or {}).get("phase"))


def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_failed(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Failed"


def is_succeeded(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def is_running_and_ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and podutil.is_ready(pod)


def is_running_and_available(pod: dict, min_ready: int, now: float) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and \
        podutil.is_available(pod, min_ready, now)


def is_healthy(pod: dict) -> bool:
    """``isHealthy``: running, ready and not being deleted."""
    return is_running_and_ready(pod) and not is_terminating(pod)


def retention(sts: dict) -> tuple[str, str]:
    """(whenDeleted, whenScaled) of ``persistentVolumeClaimRetentionPolicy``."""
    policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


def _matches(ref: dict, obj: dict, kind: str) -> bool:
    return ref.get("uid") == obj["metadata"].get("uid") or (
        ref.get("kind") == kind and ref.get("name") == obj["metadata"]["name"])


def claim_owner_refs(claim: dict, sts: dict, pod: dict | None) -> list[dict]:
    """``updateClaimOwnerRefForSetAndPod``: the ownerReferences a claim should carry so the
    garbage collector applies the retention policy — the set as controller when
    ``whenDeleted: Delete`` (while the pod is in range), the pod as controller when
    ``whenScaled: Delete`` and the pod was scaled away.  References to anything else stay;
    a claim some other object controls gets none of ours (kubernetes#122499)."""
    when_deleted, when_scaled = retention(sts)
    refs = claim["metadata"].get("ownerReferences") or []
    ours = lambda r: _matches(r, sts, "StatefulSet") or (  # noqa: E731
        pod is not None and _matches(r, pod, "Pod"))
    unexpected = any(r.get("controller") and not ours(r) for r in refs)
    refs = [r for r in refs if not ours(r)]
    if unexpected:
        return refs
    scaled_down = pod is not None and not in_range(sts, parent_and_ordinal(pod)[1])
    if when_deleted == "Delete" and not (when_scaled == "Delete" and scaled_down):
        refs.append(podutil.owner_reference(sts))
    if when_scaled == "Delete" and scaled_down:
        refs.append(podutil.owner_reference(dict(pod, apiVersion="v1", kind="Pod")))
    return refs
