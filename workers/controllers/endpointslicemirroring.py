"""The endpointslice-mirroring controller (upstream pkg/controller/endpointslicemirroring/:
endpointslicemirroring_controller.go, reconciler.go, reconciler_helpers.go, utils.go).

Endpoints written by hand for a Service *without* a selector are mirrored into
EndpointSlices, so slice consumers see them too: one slice per distinct (address type, port
list) of the Endpoints' subsets, at most ``max_per_subset`` (1000) addresses of each subset,
ready addresses ``ready: true`` and not-ready ones ``ready: false``.  The slices carry the
Endpoints' labels and annotations (but the trigger-time and kubectl's last-applied ones), the
labels ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io``, and the Endpoints as controller owner.

Not mirrored (and any mirrored slices deleted): Endpoints labelled
``endpointslice.kubernetes.io/skip-mirror: "true"`` (the apiserver's ``default/kubernetes``),
leader-election records, Endpoints without a Service, or whose Service has a selector (the
endpointslice controller owns those slices).
"""
from __future__ import annotations

import copy
import ipaddress

from apiserver.client import ApiError

from . import endpointslice_reconciler as rec
from .base import Controller, split_key
from .endpoints import LEADER_ANNOTATION
from .endpoints_util import TRIGGER_TIME
from .endpointslice import SLICE_CHANGE_DELAY, SliceTracker, slices_path
from .workqueue import WorkQueue

SERVICES = "/api/v1/services"
ENDPOINTS = "/api/v1/endpoints"
SLICES = "/apis/discovery.k8s.io/v1/endpointslices"
CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_MAX_PER_SUBSET = 1000


def should_mirror(endpoints: dict | None) -> bool:
    if endpoints is None:
        return False
    meta = endpoints["metadata"]
    return (meta.get("labels") or {}).get(SKIP_MIRROR) != "true" and \
        LEADER_ANNOTATION not in (meta.get("annotations") or {})


def _mirrored(s: dict | None) -> bool:
    return s is not None and (s["metadata"].get("labels") or {}).get(rec.MANAGED_BY) == \
        CONTROLLER_NAME


def _address_to_endpoint(address: dict, ready: bool) -> tuple[dict, str] | None:
    """``addressToEndpoint``: the IP re-printed canonically; None for an invalid one."""
    try:
        ip = ipaddress.ip_address(str(address.get("ip", "")).strip())
    except ValueError:
        return None
    ep = {"addresses": [str(ip)], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if address.get("targetRef"):
        ep["targetRef"] = copy.deepcopy(address["targetRef"])
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    return ep, ("IPv6" if ip.version == 6 else "IPv4")


def _ports(subset_ports) -> list[dict]:
    out = []
    for p in subset_ports or []:
        port = {"name": p.get("name") or "", "port": p.get("port"),
                "protocol": p.get("protocol") or "TCP"}
        if p.get("appProtocol"):
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return out


def mirrored_meta(endpoints: dict) -> tuple[dict, dict]:
    """The labels and annotations a mirrored slice carries."""
    m = endpoints["metadata"]
    labels = dict(m.get("labels") or {})
    labels[rec.SERVICE_NAME] = m["name"]
    labels[rec.MANAGED_BY] = CONTROLLER_NAME
    annotations = {k: v for k, v in (m.get("annotations") or {}).items()
                   if k not in (TRIGGER_TIME, LAST_APPLIED)}
    return labels, annotations


def new_slice(endpoints: dict, ports: list[dict], address_type: str, name: str = "") -> dict:
    m = endpoints["metadata"]
    labels, annotations = mirrored_meta(endpoints)
    meta = {"namespace": m["namespace"], "labels": labels, "annotations": annotations,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": m["name"],
                                 "uid": m.get("uid"), "controller": True,
                                 "blockOwnerDeletion": True}]}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = f"{m['name']}-"
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
            "addressType": address_type, "ports": copy.deepcopy(ports), "endpoints": []}


def mirror_plan(endpoints: dict, slices: list[dict],
                max_per_subset: int = DEFAULT_MAX_PER_SUBSET) -> tuple[rec.Plan, int, int]:
    """``reconcile``: the plan, how many addresses were invalid, how many were skipped in
    all (invalid or beyond ``max_per_subset`` of their subset)."""
    desired: dict[tuple, dict[tuple, dict]] = {}
    ports_by_key: dict[tuple, list[dict]] = {}
    invalid = skipped = 0
    for subset in endpoints.get("subsets") or []:
        ports = _ports(subset.get("ports"))
        keys = {t: (t, rec.ports_key(ports)) for t in ("IPv4", "IPv6")}
        for k in keys.values():
            desired.setdefault(k, {})
            ports_by_key[k] = ports
        added = 0
        pairs = [(a, True) for a in subset.get("addresses") or []] + \
            [(a, False) for a in subset.get("notReadyAddresses") or []]
        for address, ready in pairs:
            if added >= max_per_subset:
                break
            got = _address_to_endpoint(address, ready)
            if got is None:
                invalid += 1
                continue
            ep, address_type = got
            desired[keys[address_type]][rec.endpoint_key(ep)] = ep
            added += 1
        skipped += len(pairs) - added
    existing: dict[tuple, list[dict]] = {}
    for s in slices:
        existing.setdefault((s.get("addressType"), rec.ports_key(s.get("ports"))), []).append(s)
    plan = rec.Plan()
    labels, annotations = mirrored_meta(endpoints)
    for key, wanted in desired.items():
        have = existing.get(key, [])
        if not wanted:
            plan.delete += have
            continue
        if have:
            plan.delete += have[1:]
            first = have[0]
            if _same_endpoints(first, wanted) and \
                    (first["metadata"].get("labels") or {}) == labels and \
                    (first["metadata"].get("annotations") or {}) == annotations:
                continue
        s = new_slice(endpoints, ports_by_key[key], key[0],
                      have[0]["metadata"]["name"] if have else "")
        if have:
            s["metadata"]["resourceVersion"] = have[0]["metadata"].get("resourceVersion")
        s["endpoints"] = [wanted[k] for k in sorted(wanted)][:max_per_subset]
        (plan.update if have else plan.create).append(s)
    for key, have in existing.items():
        if key not in desired:
            plan.delete += have
    _recycle(plan)
    return plan, invalid, skipped


def _same_endpoints(s: dict, wanted: dict) -> bool:
    have = {rec.endpoint_key(e): e for e in s.get("endpoints") or []}
    return have == wanted


def _recycle(plan: rec.Plan) -> None:
    """``recycleSlices``: a create and a delete of the same address type become an update."""
    for s in list(plan.create):
        doomed = next((d for d in plan.delete if d.get("addressType") == s["addressType"]), None)
        if doomed is None:
            continue
        plan.create.remove(s)
        plan.delete.remove(doomed)
        s["metadata"].pop("generateName", None)
        s["metadata"]["name"] = doomed["metadata"]["name"]
        s["metadata"]["resourceVersion"] = doomed["metadata"].get("resourceVersion")
        plan.update.append(s)


class EndpointSliceMirroringController(Controller):
    """Queue keys are Endpoints (= Service) keys."""

    name = "endpointslice-mirroring"

    def __init__(self, client, informers, recorder,
                 max_per_subset: int = DEFAULT_MAX_PER_SUBSET):
        super().__init__()
        self.queue = WorkQueue(self.name, base_delay=1.0, max_delay=1000.0)
        self.client, self.recorder, self.max_per_subset = client, recorder, max_per_subset
        self.endpoints = informers.add_handler(ENDPOINTS, self._on_endpoints)
        self.services = informers.add_handler(SERVICES, self._on_service)
        self.slices = informers.add_handler(SLICES, self._on_slice)
        self.tracker = SliceTracker()

    # ---- events -----------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_endpoints(self, event, ep, old):
        if should_mirror(ep) or (event == "MODIFIED" and should_mirror(old)):
            self.queue.add(self._key(ep))

    def _on_service(self, event, svc, old):
        """Only a Service without a selector, or one gaining or losing its selector."""
        selectorless = not (svc.get("spec") or {}).get("selector")
        if event == "MODIFIED":
            if selectorless != (not (old.get("spec") or {}).get("selector")):
                self.queue.add(self._key(svc))
        elif selectorless:
            self.queue.add(self._key(svc))

    def _on_slice(self, event, s, old):
        if event == "DELETED":
            if _mirrored(s) and self.tracker.has(s) and not self.tracker.handle_deletion(s):
                self._queue_for(s)
            return
        name = lambda x: (x["metadata"].get("labels") or {}).get(rec.SERVICE_NAME)  # noqa: E731
        if old is not None and name(old) != name(s):
            self._queue_for(s)
            self._queue_for(old)
        elif (old is not None and _mirrored(s) != _mirrored(old)) or \
                (_mirrored(s) and self.tracker.should_sync(s)):
            self._queue_for(s)

    def _queue_for(self, s: dict) -> None:
        name = (s["metadata"].get("labels") or {}).get(rec.SERVICE_NAME)
        if name:
            self.queue.add_after(f"{s['metadata'].get('namespace')}/{name}", SLICE_CHANGE_DELAY)

    # ---- sync ---------------------------------------------------------------------------------
    def _mirrored_slices(self, ns: str, name: str) -> list[dict]:
        return [s for s in list(self.slices.cache.values())
                if s["metadata"].get("namespace") == ns and _mirrored(s)
                and (s["metadata"].get("labels") or {}).get(rec.SERVICE_NAME) == name]

    async def sync(self, key: str) -> None:
        """Mirror Endpoints ``key`` into slices, or delete its mirrored slices when it should
        not be mirrored; raises (to be retried) while the slice cache lags behind this
        controller's writes and after a failed write."""
        ns, name = split_key(key)
        ep = self.endpoints.get(name, ns)
        svc = self.services.get(name, ns)
        if not should_mirror(ep) or svc is None or (svc.get("spec") or {}).get("selector"):
            self.tracker.forget(key)
            return await self._delete_all(ns, name)
        slices = [s for s in self._mirrored_slices(ns, name)
                  if not s["metadata"].get("deletionTimestamp")]
        if self.tracker.stale(key, slices):
            raise ApiError(409, "EndpointSlicesOutdated", f"EndpointSlice informer cache is "
                           f"out of date for Endpoints {key}")
        plan, invalid, skipped = mirror_plan(ep, slices, self.max_per_subset)
        if invalid:
            self.recorder.record(ep, "Warning", "InvalidIPAddress",
                                 f"Skipped {invalid} invalid IP addresses when mirroring to "
                                 "EndpointSlices")
        if skipped > invalid:
            self.recorder.record(ep, "Warning", "TooManyAddressesToMirror",
                                 f"A max of {self.max_per_subset} addresses can be mirrored to "
                                 f"EndpointSlices per Endpoints subset. {skipped} addresses "
                                 "were skipped")
        await self._send(ep, plan)

    async def _delete_all(self, ns: str, name: str) -> None:
        errors = []
        for s in self._mirrored_slices(ns, name):
            try:
                await self.client.delete(slices_path(ns, s["metadata"]["name"]))
            except ApiError as exc:
                if exc.status != 404:
                    errors.append(exc)
        if errors:
            raise errors[0]

    async def _send(self, ep: dict, plan: rec.Plan) -> None:
        ns = ep["metadata"]["namespace"]
        if not ep["metadata"].get("deletionTimestamp"):
            for s in plan.create:
                try:
                    self.tracker.update(await self.client.create(slices_path(ns), s))
                except ApiError as exc:
                    if exc.status == 403 and "being terminated" in (exc.message or ""):
                        return
                    raise
        for s in plan.update:
            self.tracker.update(await self.client.update(
                slices_path(ns, s["metadata"]["name"]), s))
        for s in plan.delete:
            self.tracker.expect_deletion(s)
            try:
                await self.client.delete(slices_path(ns, s["metadata"]["name"]))
            except ApiError as exc:
                if exc.status != 404:
                    self.tracker.handle_deletion(s)
                    raise
