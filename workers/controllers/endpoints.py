"""The endpoints controller (upstream pkg/controller/endpoint/endpoints_controller.go and
pkg/api/v1/endpoints/util.go ``RepackSubsets``).

For every Service with a selector (not ExternalName), the core/v1 Endpoints of the same name
lists the addresses of the pods it selects: ready pods in ``addresses``, the others in
``notReadyAddresses`` (all in ``addresses`` with ``publishNotReadyAddresses``), each with the
pod as ``targetRef``, its ``nodeName`` and, when the pod names this Service as its subdomain,
its ``hostname``.  Each Service port resolves against the pod (a named targetPort by the
container port of that name and protocol); addresses offering the same ports share one subset.
Terminal pods, pods without an IP, and pods being deleted (unless publishNotReadyAddresses)
are left out.  The Endpoints carries the Service's labels, ``service.kubernetes.io/headless``
for a headless Service, the last-change-trigger-time annotation, and is truncated to 1000
addresses with ``endpoints.kubernetes.io/over-capacity: truncated``.  Services without a
selector (``default/kubernetes`` among them) are left alone; a deleted Service's Endpoints is
deleted; at start every Endpoints is queued, so one whose Service went away while the
controller was down is deleted too (``checkLeftoverEndpoints``).

No ownerReferences: upstream's Endpoints have none; this controller deletes them itself.
"""
from __future__ import annotations

import copy
import math

from apiserver.client import ApiError

from . import endpoints_util as eu
from . import podutil
from .base import Controller, split_key

SERVICES = "/api/v1/services"
PODS = "/api/v1/pods"
ENDPOINTS = "/api/v1/endpoints"
MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


def _endpoints_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/endpoints" + (f"/{name}" if name else "")


# ---- desired state (pure) ---------------------------------------------------------------------
def pod_address(service: dict, pod: dict) -> dict | None:
    """``podToEndpointAddressForService``: the pod's IP of the Service's first IP family
    (from ipFamilies, else its clusterIP, else — headless — the pod's own IP); ``None`` when
    the pod has no IP of that family."""
    spec = service.get("spec") or {}
    if spec.get("ipFamilies"):
        v6 = spec["ipFamilies"][0] == "IPv6"
    elif eu.is_ip_set(service):
        v6 = eu.is_ipv6(spec["clusterIP"])
    else:
        v6 = eu.is_ipv6((pod.get("status") or {}).get("podIP") or "")
    ip = next((i for i in eu.pod_ips(pod) if eu.is_ipv6(i) == v6), None)
    if ip is None:
        return None
    address = {"ip": ip}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    if eu.should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    address["targetRef"] = eu.target_ref(pod)
    return address


def endpoint_port(service_port: dict, number: int) -> dict:
    port = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def desired_subsets(service: dict, pods: list[dict]) -> list[dict]:
    """The Endpoints subsets of ``service`` given the pods it selects (already filtered by
    selector), repacked as upstream: one subset per distinct set of addresses sharing ports."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    pairs = []                                  # (address, ready, port or None)
    for pod in pods:
        if not eu.should_pod_be_in_endpoints(pod, publish):
            continue
        address = pod_address(service, pod)
        if address is None:
            continue                           # no IP of the Service's family
        ready = publish or podutil.is_ready(pod)
        ports = (service.get("spec") or {}).get("ports") or []
        if not ports:
            if eu.is_headless_without_ports(service):
                pairs.append((address, ready, None))
            continue
        for sp in ports:
            number = eu.find_port(pod, sp)
            if number is not None:
                pairs.append((address, ready, endpoint_port(sp, number)))
    return repack(pairs)


def _address_key(a: dict) -> tuple:
    return (a["ip"], (a.get("targetRef") or {}).get("uid") or "")


def _port_key(p: dict | None) -> tuple:
    if p is None:
        return ("", -1, "", "")
    return (p.get("name") or "", p["port"], p.get("protocol") or "", p.get("appProtocol") or "")


def repack(pairs) -> list[dict]:
    """``RepackSubsets``: map every port to the addresses offering it (ready wins when an
    address is listed both ways), then group ports whose address sets are equal; addresses
    sorted by IP then UID, ports by name/number, subsets by their first address."""
    addresses: dict[tuple, dict] = {}
    by_port: dict[tuple, dict[tuple, bool]] = {}
    ports: dict[tuple, dict | None] = {}
    for address, ready, port in pairs:
        ak, pk = _address_key(address), _port_key(port)
        addresses.setdefault(ak, address)
        ports.setdefault(pk, port)
        members = by_port.setdefault(pk, {})
        members[ak] = members.get(ak, False) or ready
    groups: dict[tuple, list] = {}
    for pk, members in by_port.items():
        groups.setdefault(tuple(sorted(members.items())), []).append(pk)
    subsets = []
    for members, pks in groups.items():
        subset = {}
        ready = [copy.deepcopy(addresses[ak]) for ak, r in members if r]
        not_ready = [copy.deepcopy(addresses[ak]) for ak, r in members if not r]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        real = sorted(pk for pk in pks if pk[1] >= 0)     # -1: the no-ports sentinel
        if real:
            subset["ports"] = [ports[pk] for pk in real]
        subsets.append(subset)
    subsets.sort(key=lambda s: (_address_key((s.get("addresses") or s["notReadyAddresses"])[0]),
                                [_port_key(p) for p in s.get("ports") or []]))
    return subsets


def truncate(subsets: list[dict]) -> bool:
    """``truncateEndpoints``: above 1000 addresses, keep each subset's proportional share,
    ready addresses first (not-ready ones dropped when the ready ones alone are too many)."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    room = limit
    for s in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        share = min(math.ceil(len(s.get(field) or []) / total * limit), room)
        s[field] = (s.get(field) or [])[:share]
        if truncate_ready:
            s.pop("notReadyAddresses", None)
        room -= len(s[field])
        if not s[field]:
            s.pop(field)
    subsets[:] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return True


def _without_rv(subsets) -> list:
    out = copy.deepcopy(subsets or [])
    for s in out:
        for field in ("addresses", "notReadyAddresses"):
            for a in s.get(field) or []:
                (a.get("targetRef") or {}).pop("resourceVersion", None)
    return out


def service_labels(service: dict) -> dict:
    """The Service's labels plus (headless) or minus the headless label."""
    labels = dict(service["metadata"].get("labels") or {})
    if eu.is_ip_set(service):
        labels.pop(eu.HEADLESS, None)
    else:
        labels[eu.HEADLESS] = ""
    return labels


# ---- the controller ---------------------------------------------------------------------------
class EndpointsController(Controller):
    """Queue keys are Service keys (an Endpoints shares its Service's key)."""

    name = "endpoint"

    def __init__(self, client, informers, recorder):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.services = informers.add_handler(SERVICES, self._on_service)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.endpoints = informers.add_handler(ENDPOINTS, self._on_endpoints)
        self.triggers = eu.TriggerTimeTracker()
        # key -> (resourceVersion this process replaced, the one its update returned)
        self._stale: dict[str, tuple] = {}

    def start(self) -> None:
        """Also queue every existing Endpoints (``checkLeftoverEndpoints``), so those whose
        Service is gone are deleted; leader-election records are skipped, as upstream."""
        for ep in list(self.endpoints.cache.values()):
            if LEADER_ANNOTATION not in (ep["metadata"].get("annotations") or {}):
                self.queue.add(eu.key_of(ep))
        super().start()

    # ---- events -----------------------------------------------------------------------------
    def _on_service(self, event, svc, old):
        self.queue.add(eu.key_of(svc))

    def _on_pod(self, event, pod, old):
        if event == "MODIFIED" and eu.endpoint_relevant(pod) == eu.endpoint_relevant(old):
            return
        for candidate in (pod, old):
            if candidate is None:
                continue
            for svc in list(self.services.cache.values()):
                if eu.selects(svc, candidate):
                    self.queue.add(eu.key_of(svc))

    def _on_endpoints(self, event, ep, old):
        if event == "DELETED":              # recreated if its Service still wants it
            self.queue.add(eu.key_of(ep))

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """Create, update or delete the Endpoints ``key`` names from its Service and the pods
        it selects; a no-op when nothing differs.  Raises (to be retried) while the cache
        still shows the Endpoints this controller replaced, and after a failed write (a
        FailedToCreateEndpoint / FailedToUpdateEndpoint event is recorded on it)."""
        ns, name = split_key(key)
        svc = self.services.get(name, ns)
        if svc is None:
            self.triggers.forget(key)
            self._stale.pop(key, None)
            try:
                await self.client.delete(_endpoints_path(ns, name))
            except ApiError as exc:
                if exc.status != 404:
                    raise
            return
        if not eu.manages(svc):
            return
        pods = eu.selected_pods(svc, self.pods.cache.values())
        trigger = self.triggers.compute(svc, pods)
        subsets = desired_subsets(svc, pods)
        current = self.endpoints.get(name, ns)
        replaced, written = self._stale.get(key, (None, None))
        if current is not None and written != replaced and \
                current["metadata"].get("resourceVersion") == replaced:
            # our last write has not reached the informer yet (issues.k8s.io/127370)
            raise ApiError(409, "Stale", f"endpoints information for service {key} is not "
                           "up to date")
        truncated = truncate(subsets)
        labels = service_labels(svc)
        if current is not None:
            annotations = current["metadata"].get("annotations") or {}
            if _without_rv(current.get("subsets")) == subsets and \
                    (current["metadata"].get("labels") or {}) == labels and \
                    (OVER_CAPACITY in annotations) == truncated:
                return
            new = copy.deepcopy(current)
        else:
            new = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns}}
        new["subsets"] = subsets
        new["metadata"]["labels"] = labels
        eu.set_trigger_time(new["metadata"], trigger)
        if truncated:
            new["metadata"]["annotations"][OVER_CAPACITY] = "truncated"
        else:
            new["metadata"]["annotations"].pop(OVER_CAPACITY, None)
        await self._write(svc, new, current)

    async def _write(self, svc: dict, new: dict, current: dict | None) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        try:
            if current is None:
                await self.client.create(_endpoints_path(ns), new)
            else:
                out = await self.client.update(_endpoints_path(ns, name), new)
                self._stale[eu.key_of(svc)] = (current["metadata"].get("resourceVersion"),
                                               (out.get("metadata") or {}).get("resourceVersion"))
        except ApiError as exc:
            if current is None and exc.status == 403 and _namespace_terminating(exc):
                return                      # creates keep failing there: drop the item
            if current is None:
                self.recorder.record(new, "Warning", "FailedToCreateEndpoint",
                                     f"Failed to create endpoint for service {ns}/{name}: "
                                     f"{exc.message}")
            else:
                self.recorder.record(new, "Warning", "FailedToUpdateEndpoint",
                                     f"Failed to update endpoint {ns}/{name}: {exc.message}")
            raise


def _namespace_terminating(exc: ApiError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    causes = (body.get("details") or {}).get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes) or \
        "being terminated" in (exc.message or "")
