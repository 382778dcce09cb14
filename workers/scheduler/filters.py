"""Filter plugins: can this pod run on this node?  Upstream's default Filter plugins in
their default order (pkg/scheduler/apis/config/v1/default_plugins.go), each a function
``filter(pod, info, state) -> Status | None`` (None: the node passes).

A ``Status`` carries upstream's code and reason strings: ``UNRESOLVABLE``
(UnschedulableAndUnresolvable: preempting pods cannot help) or ``UNSCHEDULABLE``
(removing pods might).  Reasons are upstream's sentences, counted per node in the
"0/N nodes are available" message.  Inter-pod affinity and topology spread need every
node and live in ``affinity.py`` / ``spread.py``; this module holds the per-node ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from workers.scheduler.nodeinfo import NodeInfo, host_ports
from workers.scheduler.selectors import node_selector_matches

UNSCHEDULABLE = "Unschedulable"
UNRESOLVABLE = "UnschedulableAndUnresolvable"


@dataclass
class Status:
    code: str
    reasons: list[str] = field(default_factory=list)
    plugin: str = ""


# ---- NodeUnschedulable (plugins/nodeunschedulable/node_unschedulable.go) ------------------
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def node_unschedulable(pod: dict, info: NodeInfo, state=None) -> Status | None:
    if not (info.node.get("spec") or {}).get("unschedulable"):
        return None
    if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in (pod.get("spec") or {}).get("tolerations") or []):
        return None
    return Status(UNRESOLVABLE, ["node(s) were unschedulable"], "NodeUnschedulable")


# ---- NodeName (plugins/nodename/node_name.go) ----------------------------------------------
def node_name(pod: dict, info: NodeInfo, state=None) -> Status | None:
    want = (pod.get("spec") or {}).get("nodeName")
    if not want or want == info.name:
        return None
    return Status(UNRESOLVABLE, ["node(s) didn't match the requested node name"], "NodeName")


# ---- TaintToleration (plugins/tainttoleration/taint_toleration.go) -------------------------
def tolerates(toleration: dict, taint: dict) -> bool:
    """``v1.Toleration.ToleratesTaint``: empty effect matches every effect; an empty key with
    ``Exists`` matches every key; ``Equal`` (the default) compares values."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key", "") != taint.get("key", "") and not (
            not toleration.get("key") and toleration.get("operator") == "Exists"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: list[dict], tolerations: list[dict], effects: tuple[str, ...]) -> list[dict]:
    return [t for t in taints if t.get("effect") in effects
            and not any(tolerates(tol, t) for tol in tolerations)]


def taint_toleration(pod: dict, info: NodeInfo, state=None) -> Status | None:
    taints = (info.node.get("spec") or {}).get("taints") or []
    bad = untolerated(taints, (pod.get("spec") or {}).get("tolerations") or [],
                      ("NoSchedule", "NoExecute"))
    if not bad:
        return None
    t = bad[0]
    return Status(UNRESOLVABLE,
                  [f"node(s) had untolerated taint {{{t.get('key', '')}: {t.get('value', '')}}}"],
                  "TaintToleration")


# ---- NodeAffinity, with spec.nodeSelector (plugins/nodeaffinity/node_affinity.go) ----------
def required_node_affinity_matches(pod: dict, node: dict) -> bool:
    """``spec.nodeSelector`` (every label equal) and the required node affinity terms."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return node_selector_matches(required, node) if required is not None else True


def node_affinity(pod: dict, info: NodeInfo, state=None) -> Status | None:
    if required_node_affinity_matches(pod, info.node):
        return None
    return Status(UNRESOLVABLE, ["node(s) didn't match Pod's node affinity/selector"],
                  "NodeAffinity")


# ---- NodePorts (plugins/nodeports/node_ports.go) -------------------------------------------
def _conflicts(want: tuple[str, str, int], used: tuple[str, str, int]) -> bool:
    ip, proto, port = want
    uip, uproto, uport = used
    if port != uport or proto != uproto:
        return False
    return ip == uip or "0.0.0.0" in (ip, uip)


def node_ports(pod: dict, info: NodeInfo, state=None) -> Status | None:
    wanted = host_ports(pod)
    if not wanted or not any(_conflicts(w, u) for w in wanted for u in info.used_ports):
        return None
    return Status(UNSCHEDULABLE, ["node(s) didn't have free ports for the requested pod ports"],
                  "NodePorts")


# ---- NodeResourcesFit (plugins/noderesources/fit.go, fitsRequest) -------------------------
def insufficient(requests: dict, info: NodeInfo) -> list[str]:
    """Upstream's reasons, in its order: pods, cpu, memory, ephemeral-storage, then the
    other (extended, hugepages) resources the pod asks for, sorted by name."""
    out = []
    alloc, used = info.allocatable, info.requested
    if used.get("pods", 0) + 1 > alloc.get("pods", 0):
        out.append("Too many pods")
    if not any(v for v in requests.values()):
        return out
    for name in ("cpu", "memory", "ephemeral-storage"):
        want = requests.get(name, 0)
        if want and want > alloc.get(name, 0) - used.get(name, 0):
            out.append(f"Insufficient {name}")
    for name in sorted(k for k in requests if k not in ("cpu", "memory", "ephemeral-storage", "pods")):
        want = requests[name]
        if want and want > alloc.get(name, 0) - used.get(name, 0):
            out.append(f"Insufficient {name}")
    return out


def node_resources_fit(pod: dict, info: NodeInfo, state) -> Status | None:
    reasons = insufficient(state.requests, info)
    return Status(UNSCHEDULABLE, reasons, "NodeResourcesFit") if reasons else None
