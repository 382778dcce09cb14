"""The EndpointSlice reconciler: from a Service, the pods it selects and the slices this
controller already manages for it, which slices to create, update and delete (upstream
staging/src/k8s.io/endpointslice/reconciler.go, reconciler_helpers.go, utils.go).

Pure: no I/O.  ``reconcile`` returns a ``Plan``; the controller (``endpointslice.py``) sends
it.  The shape follows upstream so that slices change in place as much as possible:

* one group of slices per address type the Service supports (its ipFamilies, else its
  clusterIP's family, else both), and within it per distinct port list (pods resolving the
  Service ports differently land in different slices);
* an existing slice keeps the endpoints still desired (updated where they changed) and is
  deleted when none are left; leftover endpoints first fill the slices already being
  updated, then the unchanged slice that fits them most closely, then new slices, each up to
  ``max_per_slice``;
* a create paired with a delete of the same address type becomes an update of the slice
  that would have been deleted;
* a Service with no endpoints at all keeps one empty placeholder slice per address type;
* with ``trafficDistribution: PreferClose`` each endpoint is hinted to its own zone.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from . import endpoints_util as eu
from . import podutil

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
RESERVED = (SERVICE_NAME, MANAGED_BY, eu.HEADLESS)
DEFAULT_MAX_PER_SLICE = 100
TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"      # deprecated spelling
TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"


@dataclass
class Plan:
    create: list[dict] = field(default_factory=list)
    update: list[dict] = field(default_factory=list)
    delete: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ---- per-service facts ------------------------------------------------------------------------
def address_types(service: dict) -> list[str]:
    """``getAddressTypesForService``."""
    spec = service.get("spec") or {}
    families = [f for f in ("IPv4", "IPv6") if f in (spec.get("ipFamilies") or [])]
    if families:
        return families
    if eu.is_ip_set(service):
        return ["IPv6" if eu.is_ipv6(spec["clusterIP"]) else "IPv4"]
    return ["IPv4", "IPv6"]


def endpoint_ports(service: dict, pod: dict) -> list[dict]:
    """``getEndpointPorts``: each Service port the pod resolves (a headless Service may have
    none)."""
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        number = eu.find_port(pod, sp)
        if number is None:
            continue
        port = {"name": sp.get("name") or "", "port": number,
                "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def ports_key(ports) -> tuple:
    """``NewPortMapKey``: the port list, order aside."""
    return tuple(sorted((p.get("name") or "", p.get("port") or 0, p.get("protocol") or "TCP",
                         p.get("appProtocol") or "") for p in ports or []))


def pod_to_endpoint(pod: dict, node: dict | None, service: dict, address_type: str) -> dict:
    """``podToEndpoint``: serving is the pod's readiness, terminating its deletion; ready is
    serving and not terminating (always true with publishNotReadyAddresses); the node's zone,
    and a hint for it under ``prefers_close``."""
    serving = podutil.is_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    ep = {"addresses": [ip for ip in eu.pod_ips(pod)
                        if eu.is_ipv6(ip) == (address_type == "IPv6")],
          "conditions": {"ready": publish or (serving and not terminating),
                         "serving": serving, "terminating": terminating}}
    if eu.should_set_hostname(pod, service):
        ep["hostname"] = pod["spec"]["hostname"]
    ep["targetRef"] = eu.target_ref(pod)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        ep["nodeName"] = node_name
    zone = ((((node or {}).get("metadata") or {}).get("labels")) or {}).get(eu.ZONE)
    if zone:
        ep["zone"] = zone
        if prefers_close(service):
            ep["hints"] = {"forZones": [{"name": zone}]}
    return ep


def prefers_close(service: dict) -> bool:
    """``trafficDistribution: PreferClose`` (trafficdist/trafficdist.go): each endpoint with
    a zone gets a hint for its own zone — unless the Service asks for topology-aware hints
    by annotation, whose zone allocation (topologycache/) this controller does not do.
    Otherwise endpoints carry no hints, so existing ones are removed."""
    annotations = service["metadata"].get("annotations") or {}
    mode = annotations.get(TOPOLOGY_HINTS, annotations.get(TOPOLOGY_MODE))
    return (service.get("spec") or {}).get("trafficDistribution") == "PreferClose" and \
        mode not in ("Auto", "auto")


def endpoint_key(ep: dict) -> tuple:
    """``hashEndpoint``: addresses, hostname and the target's namespace/name identify it."""
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep.get("addresses") or [])), ep.get("hostname") or "",
            ref.get("namespace") or "", ref.get("name") or "")


def slice_labels(service: dict) -> dict:
    """``setEndpointSliceLabels``: the Service's labels (reserved keys aside), the headless
    label for a Service without a cluster IP, the service-name and managed-by labels."""
    labels = {k: v for k, v in (service["metadata"].get("labels") or {}).items()
              if k not in RESERVED}
    if not eu.is_ip_set(service):
        labels[eu.HEADLESS] = ""
    labels[SERVICE_NAME] = service["metadata"]["name"]
    labels[MANAGED_BY] = CONTROLLER_NAME
    return labels


def owned_by(slice_: dict, service: dict) -> bool:
    uid = service["metadata"].get("uid")
    return any(r.get("kind") == "Service" and r.get("uid") == uid
               for r in slice_["metadata"].get("ownerReferences") or [])


def new_slice(service: dict, address_type: str, ports: list[dict]) -> dict:
    """``newEndpointSlice``: generateName ``<service>-``, the Service as controller owner."""
    m = service["metadata"]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{m['name']}-", "namespace": m["namespace"],
                         "labels": slice_labels(service),
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service",
                                              "name": m["name"], "uid": m.get("uid"),
                                              "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": address_type, "ports": copy.deepcopy(ports), "endpoints": []}


def _is_placeholder_of(slice_: dict, placeholder: dict) -> bool:
    """``placeholderSliceCompare``: namespace, labels and the body, names and owners aside."""
    return not slice_.get("endpoints") and not slice_.get("ports") and \
        slice_.get("addressType") == placeholder["addressType"] and \
        (slice_["metadata"].get("labels") or {}) == placeholder["metadata"]["labels"]


# ---- reconcile --------------------------------------------------------------------------------
def reconcile(service: dict, pods: list[dict], slices: list[dict], nodes: dict,
              max_per_slice: int = DEFAULT_MAX_PER_SLICE) -> Plan:
    """``Reconcile``: ``pods`` are those the Service selects, ``slices`` those this controller
    manages for it (not being deleted), ``nodes`` maps node names to Nodes."""
    plan = Plan()
    supported = address_types(service)
    by_type: dict[str, list[dict]] = {}
    for s in slices:
        if s.get("addressType") in supported:
            by_type.setdefault(s["addressType"], []).append(s)
        else:
            plan.delete.append(s)
    for address_type in supported:
        _by_address_type(plan, service, pods, by_type.get(address_type, []), nodes,
                         address_type, max_per_slice)
    return plan


def _by_address_type(plan: Plan, service, pods, existing, nodes, address_type, max_per_slice):
    create, update, delete = [], [], []
    existing_by_ports: dict[tuple, list[dict]] = {}
    for s in existing:
        if owned_by(s, service):
            existing_by_ports.setdefault(ports_key(s.get("ports")), []).append(s)
        else:
            delete.append(s)          # a namesake Service's leftovers
    desired: dict[tuple, dict[tuple, dict]] = {}
    desired_ports: dict[tuple, list[dict]] = {}
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    for pod in pods:
        if not eu.should_pod_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        pk = ports_key(ports)
        desired.setdefault(pk, {})
        desired_ports.setdefault(pk, ports)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = nodes.get(node_name)
        if node is None and not publish:
            # upstream skips the pod for now and retries, so a pod naming a node that does
            # not exist cannot keep a slice stuck (reconciler.go)
            plan.errors.append(f"skipping Pod {pod['metadata']['name']} for Service "
                               f"{service['metadata']['namespace']}/"
                               f"{service['metadata']['name']}: Node {node_name} Not Found")
            continue
        ep = pod_to_endpoint(pod, node, service, address_type)
        if ep["addresses"]:
            desired[pk][endpoint_key(ep)] = ep
    for pk, slices_ in existing_by_ports.items():
        if pk not in desired:
            delete.extend(slices_)
    for pk, wanted in desired.items():
        c, u, d = _by_ports(service, existing_by_ports.get(pk, []), wanted,
                            address_type, desired_ports[pk], max_per_slice)
        create += c
        update += u
        delete += d
    if len(existing) == len(delete) and not create:
        placeholder = new_slice(service, address_type, [])
        if len(delete) == 1 and _is_placeholder_of(delete[0], placeholder):
            delete = []               # it is already there: do not delete and recreate it
        else:
            create.append(placeholder)
    # turn create + delete pairs into updates of the slice that would go (``finalize``)
    i = 0
    while i < len(delete) and create:
        doomed = delete[i]
        if doomed.get("addressType") == create[-1]["addressType"] and owned_by(doomed, service):
            s = create.pop()
            s["metadata"]["name"] = doomed["metadata"]["name"]
            s["metadata"].pop("generateName", None)
            s["metadata"]["resourceVersion"] = doomed["metadata"].get("resourceVersion")
            s["metadata"]["annotations"] = dict(doomed["metadata"].get("annotations") or {})
            update.append(s)
            delete.pop(i)
        else:
            i += 1
    plan.create += create
    plan.update += update
    plan.delete += delete


def _by_ports(service, existing, wanted: dict, address_type, ports, max_per_slice):
    """``reconcileByPortMapping`` for one port list: (creates, updates, deletes)."""
    wanted = dict(wanted)
    labels = slice_labels(service)
    to_update: dict[str, dict] = {}
    unchanged: dict[str, dict] = {}
    delete = []
    for s in existing:
        kept, changed = [], False
        for ep in s.get("endpoints") or []:
            got = wanted.pop(endpoint_key(ep), None)
            if got is not None:
                kept.append(got)
                changed = changed or got != ep
        labels_changed = (s["metadata"].get("labels") or {}) != labels
        if changed or len(kept) != len(s.get("endpoints") or []):
            if not kept:
                delete.append(s)
            else:
                to_update[s["metadata"]["name"]] = _with(s, kept, labels)
        elif labels_changed:
            to_update[s["metadata"]["name"]] = _with(s, kept, labels)
        else:
            unchanged[s["metadata"]["name"]] = s
    left = [wanted[k] for k in sorted(wanted)]
    # fill the slices being written anyway, fullest first
    for s in sorted(to_update.values(), key=lambda s: -len(s["endpoints"])):
        while left and len(s["endpoints"]) < max_per_slice:
            s["endpoints"].append(left.pop(0))
    create = []
    while left:
        target = None
        if len(left) < max_per_slice and unchanged:
            target = _closest_fit(list(unchanged.values()), len(left), max_per_slice)
        if target is None:
            target = new_slice(service, address_type, ports)
        else:
            unchanged.pop(target["metadata"]["name"])
            target = _with(target, list(target.get("endpoints") or []), labels)
        while left and len(target["endpoints"]) < max_per_slice:
            target["endpoints"].append(left.pop(0))
        if target["metadata"].get("name"):
            to_update[target["metadata"]["name"]] = target
        else:
            create.append(target)
    return create, list(to_update.values()), delete


def _with(s: dict, endpoints: list[dict], labels: dict) -> dict:
    out = copy.deepcopy(s)
    out["endpoints"] = endpoints
    out["metadata"]["labels"] = dict(labels)
    return out


def _closest_fit(slices: list[dict], count: int, max_per_slice: int) -> dict | None:
    """``getSliceToFill``: the slice with the least room left that still takes ``count``."""
    best, best_room = None, max_per_slice
    for s in slices:
        room = max_per_slice - (count + len(s.get("endpoints") or []))
        if 0 <= room < best_room:
            best, best_room = s, room
            if room == 0:
                break
    return best
