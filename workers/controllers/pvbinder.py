"""The persistentvolume-binder controller, static binding only (upstream
pkg/controller/volume/persistentvolume/pv_controller.go and pv_controller_base.go).

Two kinds of keys share one queue, worked by one worker as upstream's claim and volume
workers each are (so two claims never race for one volume): ``claim:<ns>/<name>`` and
``volume:<name>``.

* A claim without ``pv.kubernetes.io/bind-completed`` (``sync_unbound_claim``) binds to the
  volume it names (after ``checkVolumeSatisfyClaim``, a VolumeMismatch event otherwise) or to
  the best match (``pvbinder_util.find_best_match``).  A class in WaitForFirstConsumer mode
  delays that until the claim carries ``volume.kubernetes.io/selected-node`` (the
  scheduler's signal) — or, since this project's scheduler has no volume-binding plugin to
  set it, until a pod using the claim has been scheduled: then only volumes whose node
  affinity admits that node count (the scheduler's check).  With nothing to bind to: a
  WaitForFirstConsumer / WaitForPodScheduled event, provisioning by the claim's class
  (pvbinder_provision.py: an external provisioner is asked through
  ``volume.kubernetes.io/storage-provisioner``; ``kubernetes.io/host-path`` is provisioned
  here with ``--enable-hostpath-provisioner``), or FailedBinding when no class is set; the
  claim stays Pending.
* Binding (``bind``) writes, in upstream's order: the volume's ``claimRef`` (plus
  ``pv.kubernetes.io/bound-by-controller`` when the controller chose it), the volume's phase
  Bound, the claim's ``volumeName`` and annotations (bound-by-controller when chosen,
  bind-completed always), and the claim's status (phase Bound, accessModes, capacity).
* A bound claim (``sync_bound_claim``) whose volume is gone or bound elsewhere becomes Lost
  (ClaimLost / ClaimMisbound events).
* A volume (``pvbinder_volume.sync_volume``) without claimRef is Available; one whose claim
  is gone is Released and reclaimed by its policy: Retain keeps it, Delete deletes the
  object (there is no real volume behind it), Recycle makes it Available again.

Writes go into a small overlay of the caches (``_written``) until the informers catch up,
as upstream's ``storeVolumeUpdate``/``storeClaimUpdate``, so the next sync never acts on an
older copy.  Every claim and volume is re-synced every ``resync`` seconds (upstream's
``--pvclaimbinder-sync-period``, 15 s); a volume becoming Available also wakes the claims
still waiting.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time

from apiserver.client import ApiError

from . import pvbinder_util as pu
from . import pvbinder_provision, pvbinder_volume
from .base import Controller, split_key

log = logging.getLogger(__name__)

PVS = "/api/v1/persistentvolumes"
PVCS = "/api/v1/persistentvolumeclaims"
CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
PODS = "/api/v1/pods"
NODES = "/api/v1/nodes"
RESYNC = 15.0
OVERLAY_TTL = 30.0


class SyncError(Exception):
    """A state the controller cannot fix by itself; retried."""


def _rv(obj: dict | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PersistentVolumeBinder(Controller):
    """See the module docstring."""

    name = "persistentvolume-binder"
    workers = 1

    def __init__(self, client, informers, recorder, resync: float = RESYNC,
                 enable_host_path_provisioner: bool = False):
        super().__init__()
        self.client, self.recorder, self.resync = client, recorder, resync
        self.enable_host_path_provisioner = enable_host_path_provisioner
        self.volumes = informers.add_handler(PVS, self._on_volume)
        self.claims = informers.add_handler(PVCS, self._on_claim)
        self.classes = informers.informer(CLASSES)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.nodes = informers.informer(NODES)
        self._written: dict[str, dict] = {}
        self._resync_task: asyncio.Task | None = None

    def start(self) -> None:
        super().start()
        self._resync_task = asyncio.create_task(self._resync_loop(), name=f"{self.name}-resync")

    async def stop(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
            await asyncio.gather(self._resync_task, return_exceptions=True)
        await super().stop()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            for key in list(self.claims.cache):
                self.queue.add("claim:" + key)
            for key in list(self.volumes.cache):
                self.queue.add("volume:" + key)

    # ---- caches -------------------------------------------------------------------------------
    def volume(self, name: str) -> dict | None:
        return self._latest("volume:" + name, self.volumes.get(name))

    def claim(self, ns: str, name: str) -> dict | None:
        return self._latest(f"claim:{ns}/{name}", self.claims.get(name, ns))

    def all_volumes(self) -> list[dict]:
        """Every volume as this controller last saw or wrote it."""
        names = set(self.volumes.cache) | {k[len("volume:"):] for k in list(self._written)
                                           if k.startswith("volume:")}
        return [v for v in (self.volume(n) for n in sorted(names)) if v is not None]

    def _latest(self, key: str, cached: dict | None) -> dict | None:
        entry = self._written.get(key)
        if entry is None:
            return cached
        written, since = entry
        if cached is None:
            # just created, not watched yet; deletions drop entries in the event handlers,
            # and one never confirmed by the watch is forgotten after OVERLAY_TTL
            if time.monotonic() - since > OVERLAY_TTL:
                self._written.pop(key, None)
                return None
            return written
        if _rv(cached) >= _rv(written):
            self._written.pop(key, None)     # the informer caught up
            return cached
        return written

    def remember(self, obj: dict) -> dict:
        m = obj["metadata"]
        key = f"claim:{m['namespace']}/{m['name']}" if m.get("namespace") else \
            f"volume:{m['name']}"
        self._written[key] = (obj, time.monotonic())
        return obj

    # ---- events -----------------------------------------------------------------------------
    def _on_volume(self, event, pv, old):
        name = pv["metadata"]["name"]
        ref = (pv.get("spec") or {}).get("claimRef")
        if event == "DELETED":
            self._written.pop("volume:" + name, None)
            if ref:
                self.queue.add(f"claim:{ref.get('namespace')}/{ref.get('name')}")
            return
        self.queue.add("volume:" + name)
        if (pv.get("status") or {}).get("phase") == "Available":
            self.enqueue_waiting_claims()

    def enqueue_waiting_claims(self) -> None:
        for key, claim in list(self.claims.cache.items()):
            if pu.ANN_BIND_COMPLETED not in pu.annotations(claim):
                self.queue.add("claim:" + key)

    def _on_claim(self, event, claim, old):
        m = claim["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        if event == "DELETED":
            self._written.pop("claim:" + key, None)
            volume = (claim.get("spec") or {}).get("volumeName")
            if volume:
                self.queue.add("volume:" + volume)
            return
        self.queue.add("claim:" + key)

    def _on_pod(self, event, pod, old):
        # a new consumer (its claims' WaitForPodScheduled event) or one just scheduled (its
        # WaitForFirstConsumer claims may bind now)
        scheduled = bool((pod.get("spec") or {}).get("nodeName"))
        if event == "DELETED" or (event == "MODIFIED" and not scheduled):
            return
        if old is not None and (old.get("spec") or {}).get("nodeName"):
            return
        for name in pu.pod_claims(pod):
            self.queue.add(f"claim:{pod['metadata']['namespace']}/{name}")

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """Sync one claim or one volume (see the module docstring); raise to be retried."""
        kind, _, rest = key.partition(":")
        try:
            if kind == "claim":
                ns, name = split_key(rest)
                claim = self.claim(ns, name)
                if claim is not None:
                    await self.sync_claim(claim)
            else:
                volume = self.volume(rest)
                if volume is not None:
                    await pvbinder_volume.sync_volume(self, volume)
        except SyncError as exc:
            # nothing to write that would fix it; the periodic resync looks again
            log.info("persistentvolume-binder: %s: %s", key, exc)

    async def sync_claim(self, claim: dict) -> None:
        if pu.ANN_BIND_COMPLETED not in pu.annotations(claim):
            await self.sync_unbound_claim(claim)
        else:
            await self.sync_bound_claim(claim)

    def storage_class(self, name: str) -> dict | None:
        return self.classes.get(name) if name else None

    def delay_binding(self, claim: dict) -> bool:
        """``shouldDelayBinding``: WaitForFirstConsumer, until a node was selected."""
        if pu.ANN_SELECTED_NODE in pu.annotations(claim):
            return False
        sc = self.storage_class(pu.claim_class(claim))
        return sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"

    def consumers(self, claim: dict) -> list[dict]:
        m = claim["metadata"]
        return [p for p in list(self.pods.cache.values())
                if p["metadata"].get("namespace") == m["namespace"]
                and m["name"] in pu.pod_claims(p)
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def consumer_node(self, claim: dict) -> dict | None:
        """The node of a scheduled pod using the claim (see the module docstring)."""
        for pod in self.consumers(claim):
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                return self.nodes.get(node) or {"metadata": {"name": node}}
        return None

    async def sync_unbound_claim(self, claim: dict) -> None:
        """``syncUnboundClaim``."""
        wanted = (claim.get("spec") or {}).get("volumeName")
        if not wanted:
            delay = self.delay_binding(claim)
            node = self.consumer_node(claim) if delay else None
            volume = pu.find_best_match(claim, self.all_volumes(), delay, node)
            if volume is not None:
                await self.bind(volume, claim)
                return
            claim = await self.assign_default_class(claim)
            if delay and node is None:
                self.event_for_unbound_delayed_claim(claim)
            elif pu.claim_class(claim):
                await self.provision_claim(claim)
                return
            else:
                self.recorder.record(claim, "Normal", "FailedBinding",
                                     "no persistent volumes available for this claim and no "
                                     "storage class is set")
            await self.update_claim_status(claim, "Pending", None)
            return
        volume = self.volume(wanted)
        if volume is None:
            await self.update_claim_status(claim, "Pending", None)   # it may appear later
            return
        if not (volume.get("spec") or {}).get("claimRef"):
            why = pu.check_volume_satisfies_claim(volume, claim)
            if why:
                self.recorder.record(claim, "Warning", "VolumeMismatch",
                                     f'Cannot bind to requested volume "{wanted}": {why}')
                await self.update_claim_status(claim, "Pending", None)
                return
            await self.bind(volume, claim)
        elif pu.is_bound_to(volume, claim):
            await self.bind(volume, claim)                  # finish a half-done binding
        elif pu.ANN_BOUND_BY_CONTROLLER not in pu.annotations(claim):
            # the user asked for a volume someone else holds: wait until it is released
            await self.update_claim_status(claim, "Pending", None)
        else:
            ref = volume["spec"]["claimRef"]
            raise SyncError(f'Invalid binding of claim "{claim["metadata"]["name"]}" to volume '
                            f'"{wanted}": volume already claimed by '
                            f'"{ref.get("namespace")}/{ref.get("name")}"')

    def event_for_unbound_delayed_claim(self, claim: dict) -> None:
        """``emitEventForUnboundDelayBindingClaim``."""
        waiting = sorted(p["metadata"]["name"] for p in self.consumers(claim)
                         if not (p.get("spec") or {}).get("nodeName"))
        if not waiting:
            self.recorder.record(claim, "Normal", "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding")
        elif len(waiting) == 1:
            self.recorder.record(claim, "Normal", "WaitForPodScheduled",
                                 f"waiting for pod {waiting[0]} to be scheduled")
        else:
            self.recorder.record(claim, "Normal", "WaitForPodScheduled",
                                 f"waiting for pods {','.join(waiting)} to be scheduled")

    async def assign_default_class(self, claim: dict) -> dict:
        """``assignDefaultStorageClass``: a claim with no class at all (not even "") gets the
        default one, once one exists (retroactive default StorageClass assignment)."""
        spec = claim.get("spec") or {}
        if spec.get("storageClassName") is not None or \
                pu.ANN_BETA_STORAGE_CLASS in pu.annotations(claim):
            return claim
        default = pu.default_class(list(self.classes.cache.values()))
        if default is None:
            return claim
        body = copy.deepcopy(claim)
        body["spec"]["storageClassName"] = default["metadata"]["name"]
        return await self.update_claim(body)

    async def provision_claim(self, claim: dict) -> None:
        """``provisionClaim`` (pvbinder_provision.py)."""
        await pvbinder_provision.provision_claim(self, claim)

    async def sync_bound_claim(self, claim: dict) -> None:
        """``syncBoundClaim``."""
        name = (claim.get("spec") or {}).get("volumeName")
        if not name:
            await self.claim_lost(claim, "ClaimLost", "Bound claim has lost reference to "
                                  "PersistentVolume. Data on the volume is lost!")
            return
        volume = self.volume(name)
        if volume is None:
            await self.claim_lost(claim, "ClaimLost", "Bound claim has lost its "
                                  "PersistentVolume. Data on the volume is lost!")
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or ref.get("uid") == claim["metadata"].get("uid"):
            await self.bind(volume, claim)        # (re)complete both sides
        else:
            await self.claim_lost(claim, "ClaimMisbound", "Two claims are bound to the same "
                                  "volume, this one is bound incorrectly")

    async def claim_lost(self, claim: dict, reason: str, message: str) -> None:
        """``updateClaimStatusWithEvent``: the event only when the phase changes."""
        if (claim.get("status") or {}).get("phase") == "Lost":
            return
        claim = await self.update_claim_status(claim, "Lost", None)
        self.recorder.record(claim, "Warning", reason, message)

    # ---- binding ------------------------------------------------------------------------------
    async def bind(self, volume: dict, claim: dict) -> None:
        """``bind``: both objects point at each other and say Bound (see the docstring)."""
        volume = await self.bind_volume_to_claim(volume, claim)
        volume = await self.update_volume_phase(volume, "Bound")
        claim = await self.bind_claim_to_volume(claim, volume)
        await self.update_claim_status(claim, "Bound", volume)

    async def bind_volume_to_claim(self, volume: dict, claim: dict) -> dict:
        """``GetBindVolumeToClaim`` + the update."""
        chosen = not pu.is_bound_to(volume, claim)
        body = copy.deepcopy(volume)
        dirty = False
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        m = claim["metadata"]
        if (ref.get("name"), ref.get("namespace"), ref.get("uid")) != \
                (m["name"], m["namespace"], m.get("uid")):
            body["spec"]["claimRef"] = pu.claim_reference(claim)
            dirty = True
        ann = body["metadata"].get("annotations") or {}
        if chosen and pu.ANN_BOUND_BY_CONTROLLER not in ann:
            body["metadata"]["annotations"] = dict(ann, **{pu.ANN_BOUND_BY_CONTROLLER: "yes"})
            dirty = True
        if not dirty:
            return volume
        return self.remember(await self.client.update(f"{PVS}/{volume['metadata']['name']}",
                                                      body))

    async def bind_claim_to_volume(self, claim: dict, volume: dict) -> dict:
        """``bindClaimToVolume``."""
        name = volume["metadata"]["name"]
        body = copy.deepcopy(claim)
        ann = dict(body["metadata"].get("annotations") or {})
        dirty = False
        if (claim.get("spec") or {}).get("volumeName") != name:
            body["spec"]["volumeName"] = name
            if pu.ANN_BOUND_BY_CONTROLLER not in ann:
                ann[pu.ANN_BOUND_BY_CONTROLLER] = "yes"
            dirty = True
        if pu.ANN_BIND_COMPLETED not in ann:
            ann[pu.ANN_BIND_COMPLETED] = "yes"
            dirty = True
        if not dirty:
            return claim
        body["metadata"]["annotations"] = ann
        return await self.update_claim(body)

    async def update_claim(self, body: dict) -> dict:
        m = body["metadata"]
        path = f"/api/v1/namespaces/{m['namespace']}/persistentvolumeclaims/{m['name']}"
        return self.remember(await self.client.update(path, body))

    async def update_claim_status(self, claim: dict, phase: str, volume: dict | None) -> dict:
        """``updateClaimStatus``: phase, and the volume's access modes and (when becoming
        Bound, unless the claim already reports more) capacity; nothing when unchanged."""
        old = claim.get("status") or {}
        status = copy.deepcopy(old)
        status["phase"] = phase
        if volume is None:
            status.pop("accessModes", None)
            status.pop("capacity", None)
        else:
            spec = volume.get("spec") or {}
            if spec.get("accessModes") is not None:
                status["accessModes"] = list(spec["accessModes"])
            else:
                status.pop("accessModes", None)
            if old.get("phase") != phase:
                if "storage" not in (spec.get("capacity") or {}):
                    raise SyncError(f'PersistentVolume "{volume["metadata"]["name"]}" is '
                                    "without a storage capacity")
                if "storage" not in (old.get("capacity") or {}) or \
                        pu.volume_storage(volume) > pu.storage(old.get("capacity")):
                    status["capacity"] = dict(spec["capacity"])
        if status == old:
            return claim
        m = claim["metadata"]
        path = f"/api/v1/namespaces/{m['namespace']}/persistentvolumeclaims/{m['name']}/status"
        return self.remember(await self.client.update(path, dict(claim, status=status)))

    async def update_volume_phase(self, volume: dict, phase: str, message: str = "") -> dict:
        """``updateVolumePhase`` (the server moves lastPhaseTransitionTime)."""
        old = volume.get("status") or {}
        if old.get("phase") == phase and (old.get("message") or "") == message:
            return volume
        status = {k: v for k, v in old.items() if k != "message"}
        status["phase"] = phase
        if message:
            status["message"] = message
        path = f"{PVS}/{volume['metadata']['name']}/status"
        return self.remember(await self.client.update(path, dict(volume, status=status)))

    async def get_claim_live(self, ns: str, name: str) -> dict | None:
        """The claim from the server (the cache may lag behind a just-created claim)."""
        try:
            return await self.client.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
