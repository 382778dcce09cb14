"""core/v1 Node (cluster-scoped).

Upstream: k8s.io/kubernetes ``pkg/registry/core/node/strategy.go`` (a kubelet registers its
node *with* status, so create keeps status; updates of the main resource keep the stored
status), ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_NodeStatus``: allocatable defaults
to capacity), ``ValidateNode``/``ValidateNodeUpdate`` (taints, podCIDRs set-once,
providerID set-once) and ``printNode`` for the table.
"""
from __future__ import annotations

import copy
import ipaddress

from apiserver.registry.printers import age
from apiserver.registry.strategy import STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_qualified_name, is_valid_label_value

from .columns import column
from .kubelet_location import NODE_PROXY

ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class NodeStrategy(Strategy):
    kind = "Node"
    plural = "nodes"
    namespaced = False
    short_names = ("no",)
    subresources = (STATUS, NODE_PROXY)          # nodes/proxy: to the node's kubelet
    schema_name = "io.k8s.api.core.v1.Node"
    selectable_fields = {
        "spec.unschedulable": lambda o: "true" if (o.get("spec") or {}).get("unschedulable") else "false",
    }
    columns = (
        column("Name", _META, "name", format="name"),
        column("Status", description="The status of the node"),
        column("Roles", description="The roles of the node"),
        column("Age", _META, "creationTimestamp"),
        column("Version", "NodeSystemInfo", "kubeletVersion"),
        column("Internal-IP", "NodeStatus", "addresses", priority=1),
        column("External-IP", "NodeStatus", "addresses", priority=1),
        column("OS-Image", "NodeSystemInfo", "osImage", priority=1),
        column("Kernel-Version", "NodeSystemInfo", "kernelVersion", priority=1),
        column("Container-Runtime", "NodeSystemInfo", "containerRuntimeVersion", priority=1),
    )

    def default(self, obj):
        """Allocatable defaults to capacity; ``podCIDR`` and ``podCIDRs[0]`` mirror each other
        (the v1 conversion keeps them in step)."""
        status = obj.get("status")
        if isinstance(status, dict) and status.get("capacity") and status.get("allocatable") is None:
            status["allocatable"] = copy.deepcopy(status["capacity"])
        spec = obj.get("spec")
        if isinstance(spec, dict):
            if spec.get("podCIDR") and not spec.get("podCIDRs"):
                spec["podCIDRs"] = [spec["podCIDR"]]
            elif spec.get("podCIDRs") and not spec.get("podCIDR"):
                spec["podCIDR"] = spec["podCIDRs"][0]

    def prepare_for_create(self, ctx, obj):
        """A registering kubelet sends its status with the node: keep it."""

    def validate(self, ctx, obj):
        spec = obj.get("spec") or {}
        errs = []
        for i, cidr in enumerate(spec.get("podCIDRs") or []):
            try:
                ipaddress.ip_network(str(cidr), strict=False)
                if "/" not in str(cidr):
                    raise ValueError
            except ValueError:
                errs.append(errors.invalid(f"spec.podCIDRs[{i}]", cidr,
                                           "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        errs += validate_taints(spec.get("taints"), "spec.taints")
        return errs

    def validate_update(self, ctx, new, old):
        errs = self.validate(ctx, new)
        new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        if old_spec.get("podCIDRs") and new_spec.get("podCIDRs") != old_spec["podCIDRs"]:
            errs.append(errors.forbidden("spec.podCIDRs", "node updates may not change podCIDR "
                                         'except from "" to valid'))
        if old_spec.get("providerID") and new_spec.get("providerID") != old_spec["providerID"]:
            errs.append(errors.forbidden("spec.providerID", "node updates may not change "
                                         'providerID except from "" to valid'))
        return errs

    def table_row(self, obj):
        status = obj.get("status") or {}
        info = status.get("nodeInfo") or {}
        ready = next((c for c in status.get("conditions") or []
                      if isinstance(c, dict) and c.get("type") == "Ready"), None)
        states = []
        if ready is not None:
            states.append("Ready" if ready.get("status") == "True" else "NotReady")
        else:
            states.append("Unknown")
        if (obj.get("spec") or {}).get("unschedulable"):
            states.append("SchedulingDisabled")
        return [obj["metadata"].get("name", ""), ",".join(states),
                ",".join(node_roles(obj)) or "<none>", age(obj), info.get("kubeletVersion", ""),
                _address(status, "InternalIP"), _address(status, "ExternalIP"),
                info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
                info.get("containerRuntimeVersion") or "<unknown>"]


def node_roles(node: dict) -> list[str]:
    """Upstream ``findNodeRoles``: ``node-role.kubernetes.io/<role>`` labels and the value of
    ``kubernetes.io/role``, sorted and unique."""
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            roles.add(key[len(ROLE_PREFIX):])
        elif key == ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _address(status: dict, kind: str) -> str:
    for a in status.get("addresses") or []:
        if isinstance(a, dict) and a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


def validate_taints(taints, path: str) -> list:
    """``validateNodeTaints``: key (qualified name), value (label value), effect (enum),
    unique by key and effect."""
    errs, seen = [], set()
    for i, t in enumerate(taints or []):
        if not isinstance(t, dict):
            continue
        p = f"{path}[{i}]"
        key = t.get("key") or ""
        if not key:
            errs.append(errors.required(f"{p}.key"))
        else:
            errs += [errors.invalid(f"{p}.key", key, m) for m in is_qualified_name(key)]
        if t.get("value"):
            errs += [errors.invalid(f"{p}.value", t["value"], m)
                     for m in is_valid_label_value(str(t["value"]))]
        effect = t.get("effect") or ""
        if not effect:
            errs.append(errors.required(f"{p}.effect"))
        elif effect not in TAINT_EFFECTS:
            errs.append(errors.not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
        if (key, effect) in seen:
            errs.append(errors.duplicate(p, f"{key}:{effect}"))
            errs[-1].detail = "taints must be unique by key and effect pair"
        seen.add((key, effect))
    return errs
