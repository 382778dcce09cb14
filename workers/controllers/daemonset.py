"""The daemonset controller (upstream pkg/controller/daemon/daemon_controller.go and
update.go).

Each sync of a DaemonSet: claim its pods (adopt orphans its selector matches, release owned
ones it no longer matches) and group them by the node they target (``spec.nodeName``, else
the node their required affinity pins them to); find or create the ControllerRevision of the
current template (``NAME-HASH``, the template hash in ``controller-revision-hash``, revision =
highest + 1, an old one renumbered on rollback); then *manage*: a pod for every node that
should run one (``daemonset_util.should_run``: node name, nodeSelector, node affinity, taints
vs the template's tolerations plus the daemon tolerations), pinned to it by a ``matchFields``
node affinity so the scheduler binds it there; failed pods, duplicates and pods on nodes that
no longer fit (an untolerated NoExecute taint) deleted.  When that changed nothing,
RollingUpdate replaces old pods within maxUnavailable (delete first) or maxSurge (new pod
first, old one deleted once the new one is available); OnDelete waits for the user.  Old
revisions no pod uses beyond ``revisionHistoryLimit`` are deleted; status counts per node
(desired, current, misscheduled, ready, updated, available) go to ``/status``.
"""
from __future__ import annotations

import asyncio
import copy
import time

from apiserver.client import ApiError

from . import daemonset_util as dsu
from . import history as hist
from . import podutil, selectors
from .base import Controller, split_key
from .replicaset import BURST, Expectations

DAEMONSETS = "/apis/apps/v1/daemonsets"
NODES = "/api/v1/nodes"
PODS = "/api/v1/pods"


def _ds_path(ns: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/daemonsets/{name}"


def _by_age(pods: list[dict]) -> list[dict]:
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp") or "",
                                       p["metadata"]["name"]))


class DaemonSetController(Controller):
    name = "daemonset"

    def __init__(self, client, informers, recorder):
        super().__init__()
        self.client, self.recorder = client, recorder
        self.daemonsets = informers.add_handler(DAEMONSETS, self._on_daemonset)
        self.nodes = informers.add_handler(NODES, self._on_node)
        self.pods = informers.add_handler(PODS, self._on_pod)
        self.history = hist.History(client, informers.add_handler(hist.REVISIONS,
                                                                  self._on_revision),
                                    "DaemonSet")
        self.expectations = Expectations()
        self.failed_backoff = dsu.Backoff()

    # ---- events -----------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_daemonset(self, event, ds, old):
        if event == "DELETED":
            self.expectations.forget(self._key(ds))
        self.queue.add(self._key(ds))

    def _on_node(self, event, node, old):
        """A new or removed node concerns every DaemonSet; a changed one only those whose
        verdict on it changed (upstream ``updateNode``), so heartbeats cost nothing."""
        for ds in list(self.daemonsets.cache.values()):
            if event != "MODIFIED" or old is None or \
                    dsu.should_run(old, ds) != dsu.should_run(node, ds):
                self.queue.add(self._key(ds))

    def _owner_of(self, obj: dict) -> dict | None:
        return podutil.resolve_controller_ref(obj, "DaemonSet", self.daemonsets)

    def _on_pod(self, event, pod, old):
        ds = self._owner_of(pod)
        if ds is not None:
            key = self._key(ds)
            if event == "ADDED":
                self.expectations.created(key)
            elif event == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deleted(key, pod["metadata"].get("uid"))
            self.queue.add(key)
        if old is not None:
            previous = self._owner_of(old)
            if previous is not None and previous is not ds:
                self.queue.add(self._key(previous))
        if podutil.controller_ref(pod) is None and event != "DELETED":
            ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels")
            for candidate in list(self.daemonsets.cache.values()):
                sel = candidate["spec"].get("selector")
                if candidate["metadata"].get("namespace") == ns and \
                        not selectors.is_empty(sel) and selectors.matches(sel, labels):
                    self.queue.add(self._key(candidate))

    def _on_revision(self, event, rev, old):
        ds = self._owner_of(rev)
        if ds is not None:
            self.queue.add(self._key(ds))

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        ds = self.daemonsets.get(name, ns)
        if ds is None:
            self.expectations.forget(key)
            return
        ds = copy.deepcopy(ds)
        if selectors.is_empty(ds["spec"].get("selector")):
            self.recorder.record(ds, "Warning", "SelectingAll",
                                 "This daemon set is selecting all pods. A non-empty selector "
                                 "is required.")
            return
        if ds["metadata"].get("deletionTimestamp"):
            return                      # upstream: nothing more for a DaemonSet going away
        nodes = list(self.nodes.cache.values())
        pods = await self.claim(ds)
        cur, old = await self.construct_history(ds)
        hash_ = (cur["metadata"].get("labels") or {}).get(dsu.HASH_LABEL) or \
            dsu.template_hash(ds)
        error = None
        observed = self.expectations.satisfied(key)
        if observed:
            try:
                changed = await self.manage(key, ds, nodes, pods, hash_)
                strategy = (ds["spec"].get("updateStrategy") or {}).get("type")
                if not changed and strategy == "RollingUpdate":
                    await self.rolling_update(key, ds, nodes, pods, hash_)
                await self.cleanup_history(ds, old, pods)
            except ApiError as exc:
                error = exc
        await self.update_status(ds, nodes, pods, hash_, observed)
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        if min_ready and any(podutil.is_ready(p) and
                             not podutil.is_available(p, min_ready, time.time()) for p in pods):
            self.queue.add_after(key, min_ready)
        if error is not None:
            raise error

    async def claim(self, ds: dict) -> list[dict]:
        """``getDaemonPods`` + ``ClaimPods``: the DaemonSet's pods, terminating ones included
        (a node whose pod is still going away gets no second one)."""
        ns, uid = ds["metadata"]["namespace"], ds["metadata"]["uid"]
        sel = ds["spec"].get("selector")
        mine = []
        for pod in list(self.pods.cache.values()):
            if pod["metadata"].get("namespace") != ns:
                continue
            ref = podutil.controller_ref(pod)
            ok = selectors.matches(sel, pod["metadata"].get("labels"))
            if ref is not None and ref.get("uid") == uid:
                if ok:
                    mine.append(pod)
                else:
                    await self._set_owner(pod, None)
            elif ref is None and ok and not pod["metadata"].get("deletionTimestamp"):
                if await self._set_owner(pod, ds):
                    mine.append(pod)
        return mine

    async def _set_owner(self, pod: dict, ds: dict | None) -> dict | None:
        m = pod["metadata"]
        return await podutil.set_controller_ref(
            self.client, f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}", pod, ds)

    # ---- history ------------------------------------------------------------------------------
    async def construct_history(self, ds: dict) -> tuple[dict, list[dict]]:
        """``constructHistory``: (the current revision, the old ones)."""
        revisions = await self.history.claim(ds)
        want = {"data": hist.patch_of(ds)}
        current = [r for r in revisions if hist.equal(r, want)]
        old = [r for r in revisions if not hist.equal(r, want)]
        top = max((hist.number(r) for r in revisions), default=0)
        if current:
            # dedupCurHistories: one current revision, the newest number
            keep = max(current, key=hist.number)
            for dup in current:
                if dup is not keep:
                    await self.history.delete(dup)
            if hist.number(keep) < top:
                keep = await self.history.renumber(keep, top + 1)
            return keep, old
        hash_ = dsu.template_hash(ds)
        rev = hist.new_revision(ds, hash_, top + 1, ds["metadata"].get("annotations"))
        try:
            created = await self.history.create(rev, ds)
        except ApiError as exc:
            if exc.status == 409:       # a hash collision: the next sync names it anew
                status = dict(ds.get("status") or {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self._put_status(ds, status)
            raise
        return created, old

    async def cleanup_history(self, ds: dict, old: list[dict], pods: list[dict]) -> None:
        """``cleanupHistory``: delete the oldest revisions past the limit that no pod runs."""
        excess = len(old) - hist.history_limit(ds)
        if excess <= 0:
            return
        live = {(p["metadata"].get("labels") or {}).get(dsu.HASH_LABEL) for p in pods}
        for rev in sorted(old, key=hist.number):
            if excess <= 0:
                break
            if (rev["metadata"].get("labels") or {}).get(dsu.HASH_LABEL) in live:
                continue
            await self.history.delete(rev)
            excess -= 1

    # ---- manage -------------------------------------------------------------------------------
    @staticmethod
    def _by_node(pods: list[dict]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for p in pods:
            node = dsu.target_node(p)
            out.setdefault(node or "", []).append(p)
        return out

    async def manage(self, key: str, ds: dict, nodes: list[dict], pods: list[dict],
                     hash_: str) -> bool:
        """``manage`` / ``podsShouldBeOnNode``: create and delete so each fitting node runs
        one daemon pod; True when it asked for any change."""
        by_node = self._by_node(pods)
        surging = (ds["spec"].get("updateStrategy") or {}).get("type") == "RollingUpdate" and \
            dsu.surge_and_unavailable(ds, 1)[0] > 0          # util.AllowsSurge
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        create_on, delete = [], []
        for node in nodes:
            name = node["metadata"]["name"]
            run, keep = dsu.should_run(node, ds)
            on_node = by_node.get(name)
            if run and not on_node:
                create_on.append(name)
            elif keep:
                running = []
                for p in on_node or []:
                    m, phase = p["metadata"], (p.get("status") or {}).get("phase")
                    if m.get("deletionTimestamp"):
                        continue
                    if phase == "Failed":
                        backoff_key = f"{key}/{name}"
                        wait = self.failed_backoff.in_backoff(backoff_key)
                        if wait:
                            self.queue.add_after(key, wait)
                            continue
                        self.failed_backoff.next(backoff_key)
                    if phase in ("Failed", "Succeeded"):
                        failed = phase == "Failed"
                        self.recorder.record(
                            ds, "Warning" if failed else "Normal",
                            "FailedDaemonPod" if failed else "SucceededDaemonPod",
                            f"Found {'failed' if failed else 'succeeded'} daemon pod "
                            f"{m['namespace']}/{m['name']} on node {name}, will try to "
                            f"{'kill' if failed else 'delete'} it")
                        delete.append(p)
                    else:
                        running.append(p)
                running = _by_age(running)
                if not surging:
                    delete += running[1:]             # keep the oldest
                elif not running:
                    if run:
                        create_on.append(name)
                elif len(running) > 1:
                    # surging: the oldest new pod and the oldest old one may coexist until
                    # the new one is available (or the old one is no longer ready)
                    new = [p for p in running
                           if (p["metadata"].get("labels") or {}).get(dsu.HASH_LABEL) == hash_]
                    old = [p for p in running if p not in new]
                    delete += new[1:] + old[1:]
                    if new and old and (not podutil.is_ready(old[0]) or podutil.is_available(
                            new[0], min_ready, time.time())):
                        delete.append(old[0])
            elif on_node:
                delete += [p for p in on_node if not p["metadata"].get("deletionTimestamp")]
        # getUnscheduledPodsWithoutNode: pods pinned to a node that is gone never get bound,
        # and no pod garbage collector would remove them
        names = {n["metadata"]["name"] for n in nodes}
        for node_name, on_node in by_node.items():
            if node_name not in names:
                delete += [p for p in on_node if not (p.get("spec") or {}).get("nodeName")
                           and not p["metadata"].get("deletionTimestamp")]
        await self.sync_nodes(key, ds, delete, create_on, hash_)
        return bool(delete or create_on)

    async def rolling_update(self, key: str, ds: dict, nodes: list[dict], pods: list[dict],
                             hash_: str) -> None:
        """``rollingUpdate``: replace old pods node by node within the strategy's budget."""
        by_node = self._by_node(pods)
        node_by_name = {n["metadata"]["name"]: n for n in nodes}
        desired = sum(1 for n in nodes if dsu.should_run(n, ds)[0])
        surge, max_unavailable = dsu.surge_and_unavailable(ds, desired)
        generation = dsu.template_generation(ds)
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        now = time.time()
        available = lambda p: podutil.is_available(p, min_ready, now)  # noqa: E731

        def split(on_node):
            """``findUpdatedPodsOnNode``: (new, old, ok), terminating pods left out."""
            on_node = [p for p in on_node if not p["metadata"].get("deletionTimestamp")]
            new = [p for p in on_node if dsu.is_updated(p, hash_, generation)]
            old = [p for p in on_node if p not in new]
            if len(new) > 1 or len(old) > 1:
                return None, None, False        # the manage loop cleans this node first
            return (new or [None])[0], (old or [None])[0], True

        if surge == 0:
            unavailable, replace, candidates = 0, [], []
            for name, on_node in sorted(by_node.items()):
                new, old, ok = split(on_node)
                if not ok or (new is None) == (old is None):
                    unavailable += 1
                elif new is not None:
                    if not available(new):
                        unavailable += 1
                elif not available(old):
                    replace.append(old)             # unavailable already: free to replace
                elif unavailable < max_unavailable:
                    candidates.append(old)
            room = min(max(max_unavailable - unavailable, 0), len(candidates))
            await self.sync_nodes(key, ds, replace + candidates[:room], [], hash_)
            return
        surging, to_delete, allowed, candidates = 0, [], [], []
        for name, on_node in sorted(by_node.items()):
            new, old, ok = split(on_node)
            if not ok:
                surging += 1
                continue
            node = node_by_name.get(name)
            if node is None or not dsu.should_run(node, ds)[0]:
                if old is not None:
                    to_delete.append(old)
                continue
            if old is None:
                continue
            if new is None:
                if not available(old):
                    allowed.append(name)
                elif surging < surge:
                    candidates.append(name)
            elif not available(new):
                surging += 1
            else:
                to_delete.append(old)
        room = min(max(surge - surging, 0), len(candidates))
        await self.sync_nodes(key, ds, to_delete, allowed + candidates[:room], hash_)

    async def sync_nodes(self, key: str, ds: dict, delete: list[dict], create_on: list[str],
                         hash_: str) -> None:
        """``syncNodes``: create (slow start: batches of 1, 2, 4 …) and delete, with
        expectations so the next sync waits until the informer has seen them."""
        create_on = create_on[:BURST]
        delete = delete[:BURST]
        if not create_on and not delete:
            return
        self.expectations.expect(key, adds=len(create_on),
                                 deletes=[p["metadata"]["uid"] for p in delete])
        ns = ds["metadata"]["namespace"]
        error = None
        done, batch = 0, 1
        while done < len(create_on) and error is None:
            chunk = create_on[done:done + batch]
            results = await asyncio.gather(*(
                self.client.create(f"/api/v1/namespaces/{ns}/pods", dsu.new_pod(ds, n, hash_))
                for n in chunk), return_exceptions=True)
            for node_name, r in zip(chunk, results):
                if isinstance(r, BaseException):
                    error = error or r
                    self.expectations.created(key)
                    if isinstance(r, ApiError):
                        self.recorder.record(ds, "Warning", "FailedCreate",
                                             f"Error creating: {r.message}")
                else:
                    self.recorder.record(ds, "Normal", "SuccessfulCreate",
                                         f"Created pod: {r['metadata']['name']}")
            done += len(chunk)
            batch *= 2
        if done < len(create_on):
            self.expectations.created(key, len(create_on) - done)

        async def one(pod):
            m = pod["metadata"]
            try:
                await self.client.delete(f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}",
                                         {"preconditions": {"uid": m["uid"]}})
                self.recorder.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {m['name']}")
            except ApiError as exc:
                self.expectations.deleted(key, m["uid"])
                if exc.status not in (404, 409):
                    raise
        results = await asyncio.gather(*(one(p) for p in delete), return_exceptions=True)
        error = error or next((r for r in results if isinstance(r, BaseException)), None)
        if error is not None:
            raise error

    # ---- status -------------------------------------------------------------------------------
    def status_of(self, ds: dict, nodes: list[dict], pods: list[dict], hash_: str,
                  observed: bool = True) -> dict:
        """``updateDaemonSetStatus``: per node, from its oldest daemon pod; the generation
        counts as observed only when this sync could act on it (expectations met)."""
        by_node = self._by_node(pods)
        generation = dsu.template_generation(ds)
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        now = time.time()
        desired = current = misscheduled = ready = available = updated = 0
        for node in nodes:
            run, _ = dsu.should_run(node, ds)
            on_node = by_node.get(node["metadata"]["name"])
            if run:
                desired += 1
                if not on_node:
                    continue
                current += 1
                pod = _by_age(on_node)[0]
                if podutil.is_ready(pod):
                    ready += 1
                    if podutil.is_available(pod, min_ready, now):
                        available += 1
                if dsu.is_updated(pod, hash_, generation):
                    updated += 1
            elif on_node:
                misscheduled += 1
        status = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                  "desiredNumberScheduled": desired, "numberReady": ready,
                  "observedGeneration": ds["metadata"].get("generation", 1) if observed
                  else (ds.get("status") or {}).get("observedGeneration", 0),
                  "updatedNumberScheduled": updated, "numberAvailable": available,
                  "numberUnavailable": max(desired - available, 0)}
        for k in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable",
                  "observedGeneration"):
            if not status[k]:
                status.pop(k)                       # omitempty, as Go writes them
        old = ds.get("status") or {}
        for k in ("collisionCount", "conditions"):
            if old.get(k) is not None:
                status[k] = old[k]
        return status

    async def update_status(self, ds: dict, nodes, pods, hash_: str, observed: bool) -> None:
        status = self.status_of(ds, nodes, pods, hash_, observed)
        if status == (ds.get("status") or {}):
            return
        await self._put_status(ds, status)

    async def _put_status(self, ds: dict, status: dict) -> None:
        m = ds["metadata"]
        try:
            await self.client.update(_ds_path(m["namespace"], m["name"]) + "/status",
                                     dict(ds, status=status))
        except ApiError as exc:
            if exc.status == 409:
                self.queue.add(self._key(ds))
            elif exc.status != 404:
                raise
