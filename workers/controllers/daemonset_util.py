"""What the DaemonSet controller asks of nodes and daemon pods (upstream
pkg/controller/daemon/util/daemonset_util.go and the ``NodeShouldRunDaemonPod`` /
``predicates`` pair of pkg/controller/daemon/daemon_controller.go).

Node affinity and taint matching reuse the scheduler's evaluators (the same
component-helpers and v1helper code serves both upstream), so a pod the controller places
is one the scheduler will bind.
"""
from __future__ import annotations

import copy
import math
import time

from workers.scheduler.filters import required_node_affinity_matches, tolerates

from . import deployment_util as du
from . import podutil

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
GENERATION_LABEL = "pod-template-generation"          # extensions.DaemonSetTemplateGenerationKey
HASH_LABEL = "controller-revision-hash"               # apps.DefaultDaemonSetUniqueLabelKey

# AddOrUpdateDaemonPodTolerations: daemon pods survive the conditions a node may be in
# (NoExecute for readiness, NoSchedule for pressure and cordoning) so that node agents keep
# running where ordinary pods are evicted or not scheduled.
DEFAULT_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def template_generation(ds: dict) -> str | None:
    return (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION)


def add_daemon_tolerations(spec: dict) -> None:
    """``AddOrUpdateDaemonPodTolerations``: add each default toleration unless an identical
    one is there already (``AddOrUpdateTolerationInPodSpec``)."""
    tolerations = list(spec.get("tolerations") or [])
    wanted = list(DEFAULT_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    for key, effect in wanted:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        same = [t for t in tolerations if t.get("key") == key and t.get("effect") == effect
                and (t.get("operator") or "Equal") == "Exists"]
        if not same:
            tolerations.append(tol)
    spec["tolerations"] = tolerations


def pin_to_node(spec: dict, node_name: str) -> None:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``: the required node affinity becomes one
    term matching the node's ``metadata.name``, so the scheduler binds the pod there (the
    controller has already checked the node fits the rest of the affinity)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In",
                             "values": [node_name]}]}
    affinity = spec.get("affinity") or {}
    spec["affinity"] = affinity
    node_affinity = affinity.get("nodeAffinity")
    if node_affinity is None:
        node_affinity = affinity["nodeAffinity"] = {}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [term]}


def target_node(pod: dict) -> str | None:
    """``GetTargetNodeName``: ``spec.nodeName``, else the node its affinity pins it to."""
    name = (pod.get("spec") or {}).get("nodeName")
    if name:
        return name
    required = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and \
                    len(f.get("values") or []) == 1:
                return f["values"][0]
    return None


def new_pod(ds: dict, node_name: str | None, hash_: str, template: dict | None = None) -> dict:
    """``CreatePodTemplate`` + ``NewPod``: the template with the generation and hash labels,
    the daemon tolerations, pinned to ``node_name`` when given."""
    template = copy.deepcopy(template if template is not None else ds["spec"].get("template") or {})
    meta = template.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    generation = template_generation(ds)
    if generation is not None:
        labels[GENERATION_LABEL] = generation
    if hash_:
        labels[HASH_LABEL] = hash_
    spec = template.setdefault("spec", {})
    add_daemon_tolerations(spec)
    if node_name:
        pin_to_node(spec, node_name)
    return podutil.pod_from_template(ds, template)


def should_run(node: dict, ds: dict) -> tuple[bool, bool]:
    """``NodeShouldRunDaemonPod``: (should run a daemon pod, should keep one running).

    A node fits when the template's nodeName (if any) is this node, its nodeSelector and
    required node affinity match, and every NoSchedule/NoExecute taint is tolerated by the
    template's tolerations plus the daemon ones; an untolerated NoSchedule taint only stops
    new pods, an untolerated NoExecute one also evicts running ones."""
    pod = new_pod(ds, None, "")
    spec = pod["spec"]
    name = node["metadata"]["name"]
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if not required_node_affinity_matches(pod, node):
        return False, False
    tolerations = spec.get("tolerations") or []
    untolerated = [t for t in (node.get("spec") or {}).get("taints") or []
                   if t.get("effect") in ("NoSchedule", "NoExecute")
                   and not any(tolerates(tol, t) for tol in tolerations)]
    if untolerated:
        return False, not any(t.get("effect") == "NoExecute" for t in untolerated)
    return True, True


def is_updated(pod: dict, hash_: str, generation: str | None) -> bool:
    """``IsPodUpdated``: the pod carries the current template generation or hash."""
    labels = pod["metadata"].get("labels") or {}
    by_generation = generation is not None and labels.get(GENERATION_LABEL) == generation
    by_hash = bool(hash_) and labels.get(HASH_LABEL) == hash_
    return by_generation or by_hash


def _scaled(value, total: int) -> int:
    """``GetScaledValueFromIntOrPercent`` rounding up (the DaemonSet rounds both up)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * total / 100)
    return int(text)


def surge_and_unavailable(ds: dict, desired: int) -> tuple[int, int]:
    """``UnavailableCount`` / ``SurgeCount``: both scaled on the desired pod count; both
    zero means one unavailable at a time, as the defaulting intends."""
    strategy = ds["spec"].get("updateStrategy") or {}
    ru = strategy.get("rollingUpdate") or {}
    surge = _scaled(ru.get("maxSurge"), desired)
    unavailable = _scaled(ru.get("maxUnavailable", 1), desired)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def template_hash(ds: dict) -> str:
    """``ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)`` — the DaemonSet names
    its revisions after the template hash, as a Deployment names its ReplicaSets."""
    collisions = (ds.get("status") or {}).get("collisionCount")
    return du.template_hash(ds["spec"].get("template") or {}, collisions)


class Backoff:
    """``flowcontrol.Backoff`` as ``failedPodsBackoff`` uses it (1 s doubling to 15 min, per
    DaemonSet and node): a node whose daemon pods keep failing — often a kubelet rejecting
    them — is not sent a new pod in a hot loop."""

    def __init__(self, initial: float = 1.0, maximum: float = 900.0, clock=time.monotonic):
        self.initial, self.maximum, self.clock = initial, maximum, clock
        self._entries: dict[str, tuple[float, float]] = {}     # key -> (delay, last update)

    def in_backoff(self, key: str) -> float:
        """Seconds left before ``key`` may act again (0: it may)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        left = entry[0] - (self.clock() - entry[1])
        return max(left, 0.0)

    def next(self, key: str) -> None:
        now = self.clock()
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(entry[0] * 2, self.maximum), now)
