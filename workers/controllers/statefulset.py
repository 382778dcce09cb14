"""The statefulset controller (upstream pkg/controller/statefulset/stateful_set.go,
stateful_set_control.go, stateful_pod_control.go).

Each sync of a StatefulSet: claim its pods (those named ``<set>-<ordinal>`` its selector
matches; orphans adopted, others released) and its ControllerRevisions; find or create the
*update revision* (the one whose data restores the current template; an older equal one is
renumbered, as after ``kubectl rollout undo``) and take the *current revision* from
``status.currentRevision``.  Then, unless the set is being deleted:

* every ordinal in ``[start, start+replicas)`` gets a pod — made from the current revision
  below the RollingUpdate partition, from the update revision otherwise — after its
  volumeClaimTemplates' claims ``<template>-<set>-<ordinal>``; failed or succeeded pods are
  deleted to be made again;
* pods with ordinals past the range are deleted, highest first;
* OrderedReady (``monotonic``) does one step at a time and waits until every lower pod is
  Running and Ready (and available) before creating the next or deleting any; Parallel
  creates and deletes all at once;
* RollingUpdate deletes the highest-ordinal pod >= partition not at the update revision,
  waiting until the pods above it are healthy again; OnDelete leaves that to the user.

Status counts (replicas, ready, available, current, updated) and the revisions go to
``/status``; once a RollingUpdate has updated every pod the update revision becomes the
current one.  Claims get the ownerReferences the retention policy asks for, so the garbage
collector deletes them with the set (``whenDeleted: Delete``) or with a scaled-away pod
(``whenScaled: Delete``).  Revisions beyond ``revisionHistoryLimit`` that no pod uses are
deleted.
"""
from __future__ import annotations

import asyncio
import copy
import time

from apiserver.client import ApiError

from . import history as hist
from . import podutil, selectors
from . import statefulset_util as su
from .base import Controller, split_key

STATEFULSETS = "/apis/apps/v1/statefulsets"
PODS = "/api/v1/pods"
CLAIMS = "/api/v1/persistentvolumeclaims"


def _sts_path(ns: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}"


def _pod_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/pods" + (f"/{name}" if name else "")


def _claim_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/persistentvolumeclaims" + (f"/{name}" if name else "")


class _Stop(Exception):
    """A monotonic step was taken or must wait: end this pass (upstream's shouldExit)."""


class StatefulSetController(Controller):
    name = "statefulset"

    def __init__(self, client, informers, recorder):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.sets = informers.add_handler(STATEFULSETS, self._on_set)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.claims = informers.informer(CLAIMS)
        self.history = hist.History(client, informers.add_handler(hist.REVISIONS,
                                                                  self._on_revision),
                                    "StatefulSet")

    # ---- events -----------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_set(self, event, sts, old):
        self.queue.add(self._key(sts))

    def _owner_of(self, obj: dict) -> dict | None:
        return podutil.resolve_controller_ref(obj, "StatefulSet", self.sets)

    def _on_pod(self, event, pod, old):
        for candidate in (pod, old):
            owner = self._owner_of(candidate) if candidate is not None else None
            if owner is not None:
                self.queue.add(self._key(owner))
        if podutil.controller_ref(pod) is None and event != "DELETED":
            ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels")
            for sts in list(self.sets.cache.values()):
                sel = sts["spec"].get("selector")
                if sts["metadata"].get("namespace") == ns and not selectors.is_empty(sel) \
                        and selectors.matches(sel, labels) and su.is_member(sts, pod):
                    self.queue.add(self._key(sts))

    def _on_revision(self, event, rev, old):
        owner = self._owner_of(rev)
        if owner is not None:
            self.queue.add(self._key(owner))

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        sts = self.sets.get(name, ns)
        if sts is None:
            return
        sts = copy.deepcopy(sts)
        if selectors.is_empty(sts["spec"].get("selector")):
            return                       # upstream: an empty selector selects nothing here
        pods = await self.claim(sts)
        revisions = await self.history.claim(sts)
        current, update, collisions = await self.revisions(sts, revisions)
        status = {"observedGeneration": sts["metadata"].get("generation", 1),
                  "currentRevision": current["metadata"]["name"],
                  "updateRevision": update["metadata"]["name"], "collisionCount": collisions}
        error = None
        try:
            await self.update_set(sts, current, update, pods)
        except ApiError as exc:
            error = exc
        pods = await self.claim(sts, quiet=True)
        self.count(sts, status, current, update, pods)
        await self.update_status(sts, status)
        await self.truncate_history(sts, revisions, pods, current, update)
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        if min_ready and any(su.is_running_and_ready(p) and
                             not su.is_running_and_available(p, min_ready, time.time())
                             for p in pods):
            self.queue.add_after(key, min_ready)
        if error is not None:
            raise error

    async def claim(self, sts: dict, quiet: bool = False) -> list[dict]:
        """``getPodsForStatefulSet``: pods named after the set its selector matches."""
        ns, uid = sts["metadata"]["namespace"], sts["metadata"]["uid"]
        sel = sts["spec"].get("selector")
        mine = []
        for pod in list(self.pods.cache.values()):
            if pod["metadata"].get("namespace") != ns or not su.is_member(sts, pod):
                continue
            ref = podutil.controller_ref(pod)
            ok = selectors.matches(sel, pod["metadata"].get("labels"))
            if ref is not None and ref.get("uid") == uid:
                if ok:
                    mine.append(pod)
                elif not quiet:
                    await self._set_owner(pod, None)
            elif ref is None and ok and not quiet and not sts["metadata"].get("deletionTimestamp"):
                adopted = await self._set_owner(pod, sts)
                if adopted is not None:
                    mine.append(adopted)
        return mine

    async def _set_owner(self, pod: dict, sts: dict | None) -> dict | None:
        m = pod["metadata"]
        return await podutil.set_controller_ref(self.client, _pod_path(m["namespace"], m["name"]),
                                                pod, sts)

    # ---- revisions ----------------------------------------------------------------------------
    async def revisions(self, sts: dict, revisions: list[dict]) -> tuple[dict, dict, int]:
        """``getStatefulSetRevisions``: (current, update, collisionCount)."""
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        want = {"data": hist.patch_of(sts)}
        top = max((hist.number(r) for r in revisions), default=0)
        equal = [r for r in revisions if hist.equal(r, want)]
        if equal and hist.number(equal[-1]) == top:
            update = equal[-1]
        elif equal:
            update = await self.history.renumber(equal[-1], top + 1)
        else:
            update = None
            for _ in range(5):            # CreateControllerRevision: a collision bumps the count
                rev = hist.new_revision(sts, hist.data_hash(want["data"], collisions), top + 1,
                                        sts["metadata"].get("annotations"))
                try:
                    update = await self.history.create(rev, sts)
                    break
                except ApiError as exc:
                    if exc.status != 409:
                        raise
                    collisions += 1
            if update is None:
                raise ApiError(409, "Conflict", "could not name a new ControllerRevision")
        name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == name), None)
        if current is None or current["metadata"]["name"] == update["metadata"]["name"]:
            current = update
        return current, update, collisions

    async def truncate_history(self, sts, revisions, pods, current, update) -> None:
        """``truncateHistory``: keep ``revisionHistoryLimit`` revisions besides the live ones
        (current, update, any pod's)."""
        live = {current["metadata"]["name"], update["metadata"]["name"]} | \
            {su.revision_of(p) for p in pods}
        idle = [r for r in revisions if r["metadata"]["name"] not in live]
        for rev in sorted(idle, key=hist.number)[:max(len(idle) - hist.history_limit(sts), 0)]:
            await self.history.delete(rev)

    # ---- pods ---------------------------------------------------------------------------------
    def _versioned(self, sts, current, update, ordinal) -> dict:
        """``newVersionedStatefulSetPod``: from the current revision below the partition (or,
        for a RollingUpdate without ``rollingUpdate``, below the current replicas), else from
        the update revision."""
        strategy = sts["spec"].get("updateStrategy") or {}
        ru = strategy.get("rollingUpdate")
        start = su.start_ordinal(sts)
        current_replicas = int((sts.get("status") or {}).get("currentReplicas") or 0)
        if (strategy.get("type") == "RollingUpdate" and ru is None and
                ordinal < start + current_replicas) or \
                (ru is not None and ordinal < start + int(ru.get("partition") or 0)):
            return su.new_pod(sts, hist.template_of(current), ordinal, current["metadata"]["name"])
        return su.new_pod(sts, hist.template_of(update), ordinal, update["metadata"]["name"])

    async def update_set(self, sts: dict, current: dict, update: dict, pods: list[dict]) -> None:
        """``updateStatefulSet``: one pass of creations, deletions and updates."""
        if sts["metadata"].get("deletionTimestamp"):
            return
        start, count = su.start_ordinal(sts), su.replicas(sts)
        replicas: list[dict | None] = [None] * count
        condemned = []
        for pod in pods:
            ordinal = su.parent_and_ordinal(pod)[1]
            if su.in_range(sts, ordinal):
                replicas[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        condemned.sort(key=lambda p: -su.parent_and_ordinal(p)[1])
        monotonic = sts["spec"].get("podManagementPolicy") != "Parallel"
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        first_unhealthy = next((p for p in [*replicas, *condemned[::-1]]
                                if p is not None and not su.is_healthy(p)), None)
        try:
            await self._for_all(monotonic, [
                (lambda i=i: self._replica(sts, current, update, replicas, start + i,
                                           monotonic, min_ready)) for i in range(count)])
            await self._for_all(monotonic, [
                (lambda p=p: self._fix_claims(sts, p)) for p in condemned])
            await self._for_all(monotonic, [
                (lambda p=p: self._condemned(sts, p, first_unhealthy, monotonic, min_ready))
                for p in condemned])
        except _Stop:
            return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type") != "RollingUpdate":
            return                       # OnDelete: pods change when the user deletes them
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for index in range(count - 1, partition - 1, -1):
            pod = replicas[index]
            if pod is None:
                return
            if su.revision_of(pod) != update["metadata"]["name"] and not su.is_terminating(pod):
                await self._delete_pod(sts, pod)
                return
            if not su.is_healthy(pod):
                return                   # wait for the pod above to come back first

    @staticmethod
    async def _for_all(monotonic: bool, steps) -> None:
        """``runForAll``: one after another, stopping at the first _Stop, when monotonic;
        all at once (a _Stop only ends that step) otherwise."""
        if monotonic:
            for step in steps:
                await step()
            return
        results = await asyncio.gather(*(step() for step in steps), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, _Stop):
                raise r

    async def _replica(self, sts, current, update, replicas, ordinal, monotonic, min_ready):
        """``processReplica`` for the pod of ``ordinal``; raises _Stop to end the pass."""
        index = ordinal - su.start_ordinal(sts)
        pod = replicas[index]
        if pod is not None and (su.is_failed(pod) or su.is_succeeded(pod)):
            if not su.is_terminating(pod):
                failed = su.is_failed(pod)
                self.recorder.record(sts, "Warning" if failed else "Normal",
                                     "RecreatingFailedPod" if failed else "RecreatingTerminatedPod",
                                     f"StatefulSet {sts['metadata']['namespace']}/"
                                     f"{sts['metadata']['name']} is recreating "
                                     f"{'failed' if failed else 'terminated'} "
                                     f"Pod {pod['metadata']['name']}")
                await self._delete_pod(sts, pod)
            raise _Stop()               # made again once it is gone
        if pod is None:
            fresh = self._versioned(sts, current, update, ordinal)
            if await self._claims_stale(sts, fresh):
                raise _Stop()
            await self._create_claims(sts, fresh)
            await self._create_pod(sts, fresh)
            if monotonic:
                raise _Stop()
            return
        if (pod.get("status") or {}).get("phase") == "Pending":
            await self._create_claims(sts, pod)
        if monotonic and (su.is_terminating(pod) or not su.is_running_and_ready(pod) or
                          not su.is_running_and_available(pod, min_ready, time.time())):
            raise _Stop()               # its predecessors first
        if not su.identity_matches(sts, pod):
            m = pod["metadata"]
            _, n = su.parent_and_ordinal(pod)
            await self.client.patch(_pod_path(m["namespace"], m["name"]), {"metadata": {
                "labels": {su.POD_NAME_LABEL: m["name"], su.POD_INDEX_LABEL: str(n)}}})
        await self._fix_claims(sts, pod)

    async def _condemned(self, sts, pod, first_unhealthy, monotonic, min_ready):
        """``processCondemned``: delete a pod past the range, in order when monotonic."""
        if su.is_terminating(pod):
            if monotonic:
                raise _Stop()
            return
        if monotonic and pod is not first_unhealthy and (
                not su.is_running_and_ready(pod) or
                not su.is_running_and_available(pod, min_ready, time.time())):
            raise _Stop()
        await self._delete_pod(sts, pod)
        raise _Stop()

    def _event(self, sts: dict, verb: str, what: str, error: Exception | None) -> None:
        """``recordPodEvent`` / ``recordClaimEvent``: Successful<Verb> / Failed<Verb>."""
        name = sts["metadata"]["name"]
        if error is None:
            ok = "success" if what.startswith("Claim") else "successful"
            self.recorder.record(sts, "Normal", f"Successful{verb.title()}",
                                 f"{verb} {what} in StatefulSet {name} {ok}")
        else:
            self.recorder.record(sts, "Warning", f"Failed{verb.title()}",
                                 f"{verb} {what} in StatefulSet {name} failed error: "
                                 f"{getattr(error, 'message', error)}")

    async def _create_pod(self, sts: dict, pod: dict) -> None:
        try:
            await self.client.create(_pod_path(sts["metadata"]["namespace"]), pod)
        except ApiError as exc:
            if exc.status == 409:
                raise                    # the informer has not seen it yet: try again
            self._event(sts, "create", f"Pod {pod['metadata']['name']}", exc)
            raise
        self._event(sts, "create", f"Pod {pod['metadata']['name']}", None)

    async def _delete_pod(self, sts: dict, pod: dict) -> None:
        m = pod["metadata"]
        try:
            await self.client.delete(_pod_path(m["namespace"], m["name"]),
                                     {"preconditions": {"uid": m["uid"]}})
        except ApiError as exc:
            if exc.status in (404, 409):
                return
            self._event(sts, "delete", f"Pod {m['name']}", exc)
            raise
        self._event(sts, "delete", f"Pod {m['name']}", None)

    # ---- claims -------------------------------------------------------------------------------
    def _claim(self, ns: str, name: str) -> dict | None:
        return self.claims.get(name, ns)

    async def _claims_stale(self, sts: dict, pod: dict) -> bool:
        """``PodClaimIsStale``: a claim of the pod still being deleted must go first."""
        for claim in su.claims_for(sts, pod["metadata"]["name"]):
            have = self._claim(sts["metadata"]["namespace"], claim["metadata"]["name"])
            if have is not None and have["metadata"].get("deletionTimestamp"):
                return True
        return False

    async def _create_claims(self, sts: dict, pod: dict) -> None:
        """``createPersistentVolumeClaims``: create each missing claim of the pod."""
        ns = sts["metadata"]["namespace"]
        for claim in su.claims_for(sts, pod["metadata"]["name"]):
            if self._claim(ns, claim["metadata"]["name"]) is not None:
                continue
            refs = su.claim_owner_refs(claim, sts, None)
            if refs:
                claim["metadata"]["ownerReferences"] = refs
            what = f"Claim {claim['metadata']['name']} Pod {pod['metadata']['name']}"
            try:
                await self.client.create(_claim_path(ns), claim)
            except ApiError as exc:
                if exc.status == 409:
                    continue             # made already; the informer will tell
                self._event(sts, "create", what, exc)
                raise
            self._event(sts, "create", what, None)

    async def _fix_claims(self, sts: dict, pod: dict) -> None:
        """``UpdatePodClaimForRetentionPolicy``: the claims' ownerReferences follow the
        retention policy (and whether the pod is still in range)."""
        ns = sts["metadata"]["namespace"]
        for want in su.claims_for(sts, pod["metadata"]["name"]):
            claim = self._claim(ns, want["metadata"]["name"])
            if claim is None or claim["metadata"].get("deletionTimestamp"):
                continue
            refs = su.claim_owner_refs(claim, sts, pod)
            if refs == (claim["metadata"].get("ownerReferences") or []):
                continue
            body = copy.deepcopy(claim)
            body["metadata"]["ownerReferences"] = refs
            try:                         # an update, as upstream (its role may not patch claims)
                await self.client.update(_claim_path(ns, claim["metadata"]["name"]), body)
            except ApiError as exc:
                if exc.status == 409:
                    self.queue.add(self._key(sts))
                elif exc.status != 404:
                    raise

    # ---- status -------------------------------------------------------------------------------
    @staticmethod
    def count(sts: dict, status: dict, current: dict, update: dict, pods: list[dict]) -> None:
        """``updateStatus`` + ``completeRollingUpdate``."""
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        now = time.time()
        cur, upd = current["metadata"]["name"], update["metadata"]["name"]
        n = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
             "updatedReplicas": 0}
        for p in pods:
            if su.is_created(p):
                n["replicas"] += 1
            if su.is_running_and_ready(p):
                n["readyReplicas"] += 1
                if su.is_running_and_available(p, min_ready, now):
                    n["availableReplicas"] += 1
            if su.is_created(p) and not su.is_terminating(p):
                if su.revision_of(p) == cur:
                    n["currentReplicas"] += 1
                if su.revision_of(p) == upd:
                    n["updatedReplicas"] += 1
        status.update(n)
        if (sts["spec"].get("updateStrategy") or {}).get("type") == "RollingUpdate" and \
                n["updatedReplicas"] == n["replicas"] and n["readyReplicas"] == n["replicas"]:
            status["currentReplicas"] = n["updatedReplicas"]
            status["currentRevision"] = upd
        for k in ("readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas"):
            if not status[k]:
                status.pop(k)           # omitempty, as Go writes them
        old = sts.get("status") or {}
        if old.get("conditions") is not None:
            status["conditions"] = old["conditions"]

    async def update_status(self, sts: dict, status: dict) -> None:
        if status == (sts.get("status") or {}):
            return
        m = sts["metadata"]
        try:
            await self.client.update(_sts_path(m["namespace"], m["name"]) + "/status",
                                     dict(sts, status=status))
        except ApiError as exc:
            if exc.status == 409:
                self.queue.add(self._key(sts))
            elif exc.status != 404:
                raise
