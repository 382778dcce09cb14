"""The endpointslice controller (upstream pkg/controller/endpointslice/
endpointslice_controller.go and staging/src/k8s.io/endpointslice/endpointslice_tracker.go).

For every Service with a selector (not ExternalName), discovery.k8s.io/v1 EndpointSlices
named ``<service>-<random>``, labelled ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io``, owned by the
Service (controller, blockOwnerDeletion: the garbage collector deletes them with it, as
upstream, which does not delete them itself).  What goes in them is decided by
``endpointslice_reconciler.reconcile``; this module watches Services, pods, nodes and
slices, and sends the plan.

The *tracker* remembers the generation of every slice this controller wrote and the slices
it deleted, per Service: a sync whose informer still shows older slices fails and is retried
(``StaleSlices``), so a slow watch never makes a second sync create the same slices again;
and a slice event is only a reason to sync when someone else changed the slice.
"""
from __future__ import annotations

from apiserver.client import ApiError

from . import endpoints_util as eu
from . import endpointslice_reconciler as rec
from .base import Controller, split_key
from .workqueue import WorkQueue

SERVICES = "/api/v1/services"
PODS = "/api/v1/pods"
NODES = "/api/v1/nodes"
SLICES = "/apis/discovery.k8s.io/v1/endpointslices"
DELETION_EXPECTED = -1
SLICE_CHANGE_DELAY = 1.0


def slices_path(ns: str, name: str = "") -> str:
    return f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices" + \
        (f"/{name}" if name else "")


class SliceTracker:
    """``EndpointSliceTracker``: service key -> {slice uid: generation written, or
    ``DELETION_EXPECTED``}."""

    def __init__(self):
        self.by_service: dict[str, dict[str, int]] = {}

    @staticmethod
    def _service_key(s: dict) -> str:
        return f"{s['metadata'].get('namespace')}/" \
               f"{(s['metadata'].get('labels') or {}).get(rec.SERVICE_NAME, '')}"

    def update(self, s: dict) -> None:
        self.by_service.setdefault(self._service_key(s), {})[s["metadata"]["uid"]] = \
            int(s["metadata"].get("generation") or 0)

    def expect_deletion(self, s: dict) -> None:
        self.by_service.setdefault(self._service_key(s), {})[s["metadata"]["uid"]] = \
            DELETION_EXPECTED

    def has(self, s: dict) -> bool:
        return s["metadata"].get("uid") in self.by_service.get(self._service_key(s), {})

    def should_sync(self, s: dict) -> bool:
        """True unless this is (at most) the generation this controller wrote."""
        g = self.by_service.get(self._service_key(s), {}).get(s["metadata"].get("uid"))
        return g is None or int(s["metadata"].get("generation") or 0) > g

    def handle_deletion(self, s: dict) -> bool:
        """Forget a deleted slice; True when this controller deleted it."""
        gens = self.by_service.get(self._service_key(s), {})
        return gens.pop(s["metadata"].get("uid"), None) == DELETION_EXPECTED

    def stale(self, key: str, slices: list[dict]) -> bool:
        """``StaleSlices``: the informer lags behind this controller's own writes."""
        gens = self.by_service.get(key)
        if not gens:
            return False
        seen = {s["metadata"].get("uid"): int(s["metadata"].get("generation") or 0)
                for s in slices}
        for uid, g in gens.items():
            if g == DELETION_EXPECTED:
                if uid in seen:
                    return True
            elif uid not in seen or seen[uid] < g:
                return True
        return False

    def forget(self, key: str) -> None:
        self.by_service.pop(key, None)


def _managed(s: dict | None) -> bool:
    return s is not None and (s["metadata"].get("labels") or {}).get(rec.MANAGED_BY) == \
        rec.CONTROLLER_NAME


class EndpointSliceController(Controller):
    """Queue keys are Service keys."""

    name = "endpointslice"

    def __init__(self, client, informers, recorder,
                 max_per_slice: int = rec.DEFAULT_MAX_PER_SLICE):
        super().__init__()
        # upstream backs off from 1 s (not 5 ms): a sync may rewrite many slices
        self.queue = WorkQueue(self.name, base_delay=1.0, max_delay=1000.0)
        self.client, self.recorder, self.max_per_slice = client, recorder, max_per_slice
        self.services = informers.add_handler(SERVICES, self._on_service)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.nodes = informers.add_handler(NODES, self._on_node)
        self.slices = informers.add_handler(SLICES, self._on_slice)
        self.tracker = SliceTracker()
        self.triggers = eu.TriggerTimeTracker()

    # ---- events -----------------------------------------------------------------------------
    def _on_service(self, event, svc, old):
        self.queue.add(eu.key_of(svc))

    def _services_of(self, pod: dict):
        return [s for s in list(self.services.cache.values()) if eu.selects(s, pod)]

    def _on_pod(self, event, pod, old):
        if event == "MODIFIED" and eu.endpoint_relevant(pod) == eu.endpoint_relevant(old):
            return
        for candidate in (pod, old):
            if candidate is not None:
                for svc in self._services_of(candidate):
                    self.queue.add(eu.key_of(svc))

    def _on_node(self, event, node, old):
        """A pod naming a node that did not exist was left out: retry its Services when the
        node appears, or drop its endpoints when the node goes; a zone change moves them."""
        zone = lambda n: (((n or {}).get("metadata") or {}).get("labels") or {}).get(eu.ZONE)  # noqa: E731
        if event == "MODIFIED" and zone(node) == zone(old):
            return
        name = node["metadata"]["name"]
        for pod in list(self.pods.cache.values()):
            if (pod.get("spec") or {}).get("nodeName") == name:
                for svc in self._services_of(pod):
                    self.queue.add(eu.key_of(svc))

    def _service_key_of(self, s: dict) -> str | None:
        name = (s["metadata"].get("labels") or {}).get(rec.SERVICE_NAME)
        return f"{s['metadata'].get('namespace')}/{name}" if name else None

    def _on_slice(self, event, s, old):
        """Only changes this controller did not make itself are a reason to sync: a slice
        deleted by someone else, a generation beyond the one it wrote, managed-by or
        service-name labels changed (the generation does not count label changes)."""
        if event == "DELETED":
            if _managed(s) and self.tracker.has(s) and not self.tracker.handle_deletion(s):
                self._queue_for(s)
            return
        if old is not None and self._service_key_of(old) != self._service_key_of(s):
            self._queue_for(s)
            self._queue_for(old)
        elif (old is not None and _managed(s) != _managed(old)) or \
                (_managed(s) and self.tracker.should_sync(s)):
            self._queue_for(s)

    def _queue_for(self, s: dict) -> None:
        """After ``endpointSliceChangeMinSyncDelay`` (1 s), batching changes to many slices."""
        key = self._service_key_of(s)
        if key is not None:
            self.queue.add_after(key, SLICE_CHANGE_DELAY)

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """Bring the slices of Service ``key`` in line with the pods it selects; raises (to be
        retried) while the slice cache lags behind this controller's writes, and after any
        failed write or skipped pod, having recorded FailedToUpdateEndpointSlices."""
        ns, name = split_key(key)
        svc = self.services.get(name, ns)
        if svc is None:
            # its slices go with it: the garbage collector follows their ownerReferences
            self.triggers.forget(key)
            self.tracker.forget(key)
            return
        if not eu.manages(svc):
            return
        slices = [s for s in list(self.slices.cache.values())
                  if s["metadata"].get("namespace") == ns and _managed(s)
                  and (s["metadata"].get("labels") or {}).get(rec.SERVICE_NAME) == name
                  and not s["metadata"].get("deletionTimestamp")]
        if self.tracker.stale(key, slices):
            raise ApiError(409, "EndpointSlicesOutdated", f"EndpointSlice informer cache is "
                           f"out of date for Service {key}")
        pods = eu.selected_pods(svc, list(self.pods.cache.values()))
        trigger = self.triggers.compute(svc, pods)
        nodes = {n["metadata"]["name"]: n for n in list(self.nodes.cache.values())}
        plan = rec.reconcile(svc, pods, slices, nodes, self.max_per_slice)
        errors = list(plan.errors) + await self._send(svc, plan, trigger)
        if errors:
            message = "; ".join(errors)
            self.recorder.record(svc, "Warning", "FailedToUpdateEndpointSlices",
                                 f"Error updating Endpoint Slices for Service {key}: {message}")
            raise ApiError(500, "EndpointSliceSyncFailed", message)

    async def _send(self, svc: dict, plan: rec.Plan, trigger) -> list[str]:
        """Creates (not while the Service is being deleted, so as not to race the garbage
        collector), then updates, then deletes; the errors, as text."""
        ns, errors = svc["metadata"]["namespace"], []
        if not svc["metadata"].get("deletionTimestamp"):
            for s in plan.create:
                eu.set_trigger_time(s["metadata"], trigger)
                try:
                    self.tracker.update(await self.client.create(slices_path(ns), s))
                except ApiError as exc:
                    if exc.status == 403 and "being terminated" in (exc.message or ""):
                        return []          # the namespace is going away: drop the item
                    errors.append(f"failed to create EndpointSlice for Service "
                                  f"{ns}/{svc['metadata']['name']}: {exc.message}")
        for s in plan.update:
            eu.set_trigger_time(s["metadata"], trigger)
            try:
                self.tracker.update(await self.client.update(
                    slices_path(ns, s["metadata"]["name"]), s))
            except ApiError as exc:
                errors.append(f"failed to update {s['metadata']['name']} EndpointSlice for "
                              f"Service {ns}/{svc['metadata']['name']}: {exc.message}")
        for s in plan.delete:
            self.tracker.expect_deletion(s)     # before: its DELETED event may come first
            try:
                await self.client.delete(slices_path(ns, s["metadata"]["name"]),
                                         {"preconditions": {"uid": s["metadata"]["uid"]}})
            except ApiError as exc:
                if exc.status != 404:
                    self.tracker.handle_deletion(s)
                    errors.append(f"failed to delete {s['metadata']['name']} EndpointSlice "
                                  f"for Service {ns}/{svc['metadata']['name']}: "
                                  f"{exc.message}")
        return errors
