"""The deployment controller (upstream pkg/controller/deployment/: deployment_controller.go,
sync.go, rolling.go, recreate.go, progress.go).

Each sync of a Deployment: claim its ReplicaSets (adopt orphans its selector matches, release
ones it no longer matches); find the new ReplicaSet — the one whose template equals the
Deployment's, ``pod-template-hash`` aside — or create it (``NAME-HASH``, the hash label in its
selector and template, revision = highest old revision + 1); then, unless paused, roll out:
RollingUpdate grows the new ReplicaSet within maxSurge and shrinks old ones while at least
replicas − maxUnavailable pods stay available (unhealthy old pods go first); Recreate scales
every old ReplicaSet to zero, waits for their pods to be gone, then scales the new one up.
Old ReplicaSets scaled to zero beyond ``revisionHistoryLimit`` are deleted.  Status counts
come from the ReplicaSets' status, with the Available and Progressing conditions and reasons
of upstream (``kubectl rollout status`` reads them).
"""
from __future__ import annotations

import copy
import time

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339

from . import deployment_util as du
from . import podutil, selectors
from .base import Controller, split_key

DEPLOYMENTS = "/apis/apps/v1/deployments"
REPLICA_SETS = "/apis/apps/v1/replicasets"
DEFAULT_HISTORY = 10
DEFAULT_DEADLINE = 600


def _rs_path(ns: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/replicasets" + (f"/{name}" if name else "")


def _condition(status: dict, type_: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def _set_condition(status: dict, type_: str, value: str, reason: str, message: str) -> None:
    now = now_rfc3339()
    old = _condition(status, type_)
    cond = {"type": type_, "status": value, "lastUpdateTime": now,
            "lastTransitionTime": now, "reason": reason, "message": message}
    if old is not None:
        if old.get("status") == value:
            cond["lastTransitionTime"] = old.get("lastTransitionTime") or now
            if old.get("reason") == reason and old.get("message") == message:
                cond["lastUpdateTime"] = old.get("lastUpdateTime") or now
    status["conditions"] = [c for c in status.get("conditions") or []
                            if c.get("type") != type_] + [cond]


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, client, informers, recorder):
        super().__init__()
        self.client, self.recorder = client, recorder
        self._created: dict[str, str] = {}    # deployment key -> the RS this process created
        self.deployments = informers.add_handler(DEPLOYMENTS, self._on_deployment)
        self.replica_sets = informers.add_handler(REPLICA_SETS, self._on_replica_set)

    # ---- events -----------------------------------------------------------------------------
    @staticmethod
    def _key(obj: dict) -> str:
        return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"

    def _on_deployment(self, event, obj, old):
        self.queue.add(self._key(obj))

    def _on_replica_set(self, event, rs, old):
        ns = rs["metadata"].get("namespace")
        for candidate in (rs, old):
            if candidate is None:
                continue
            ref = podutil.controller_ref(candidate)
            if ref is not None and ref.get("kind") == "Deployment":
                self.queue.add(f"{ns}/{ref['name']}")
        if podutil.controller_ref(rs) is None and event != "DELETED":
            for d in list(self.deployments.cache.values()):
                if d["metadata"].get("namespace") == ns and selectors.matches(
                        d["spec"].get("selector"), rs["metadata"].get("labels")):
                    self.queue.add(self._key(d))

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        d = self.deployments.get(name, ns)
        if d is None:
            return
        d = copy.deepcopy(d)
        all_rs = await self.claim(d)
        if d["metadata"].get("deletionTimestamp"):
            return await self.sync_status(d, all_rs, None)
        if selectors.is_empty(d["spec"].get("selector")):
            return                      # upstream: an empty selector selects nothing here
        new_rs = await self.new_replica_set(d, all_rs, create=not d["spec"].get("paused"))
        if new_rs is not None and all(r["metadata"]["uid"] != new_rs["metadata"]["uid"]
                                      for r in all_rs):
            all_rs.append(new_rs)
        old = [r for r in all_rs if new_rs is None or r["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        if d["spec"].get("paused"):
            await self.scale_proportionally(d, new_rs, old)
        elif (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            await self.recreate(d, new_rs, old)
        else:
            await self.rolling(d, new_rs, old)
        await self.cleanup(d, old)
        await self.sync_status(d, all_rs, new_rs)
        deadline = d["spec"].get("progressDeadlineSeconds")
        if deadline is not None and not d["spec"].get("paused"):
            self.queue.add_after(key, min(int(deadline), 30))

    async def claim(self, d: dict) -> list[dict]:
        ns, uid = d["metadata"]["namespace"], d["metadata"]["uid"]
        out = []
        for rs in list(self.replica_sets.cache.values()):
            if rs["metadata"].get("namespace") != ns:
                continue
            ref = podutil.controller_ref(rs)
            matches = selectors.matches(d["spec"].get("selector"), rs["metadata"].get("labels"))
            if ref is not None and ref.get("uid") == uid:
                out.append(copy.deepcopy(rs))
            elif ref is None and matches and not d["metadata"].get("deletionTimestamp"):
                try:
                    refs = list(rs["metadata"].get("ownerReferences") or []) + \
                        [podutil.owner_reference(d)]
                    adopted = await self.client.patch(
                        _rs_path(ns, rs["metadata"]["name"]),
                        {"metadata": {"uid": rs["metadata"]["uid"], "ownerReferences": refs}})
                    out.append(adopted)
                except ApiError as exc:
                    if exc.status not in (404, 409, 422):
                        raise
        return out

    async def new_replica_set(self, d: dict, all_rs: list[dict], create: bool) -> dict | None:
        template = d["spec"].get("template") or {}
        existing = next((rs for rs in sorted(all_rs, key=lambda r: r["metadata"].get(
            "creationTimestamp") or "") if du.equal_ignore_hash(rs["spec"].get("template"),
                                                                 template)), None)
        max_old = max((du.revision(rs) for rs in all_rs if rs is not existing), default=0)
        if existing is not None:
            # a rollback to an old template makes that ReplicaSet the newest revision
            want_rev = str(max_old + 1 if du.revision(existing) <= max_old
                           else du.revision(existing))
            annotations = dict(existing["metadata"].get("annotations") or {})
            if annotations.get(du.REVISION) != want_rev or \
                    annotations.get(du.DESIRED_REPLICAS) != str(du.replicas_of(d)):
                annotations.update(self._copied_annotations(d))
                annotations[du.REVISION] = want_rev
                annotations[du.DESIRED_REPLICAS] = str(du.replicas_of(d))
                annotations[du.MAX_REPLICAS] = str(du.replicas_of(d) + du.surge_and_unavailable(d)[0])
                existing = await self.client.patch(
                    _rs_path(d["metadata"]["namespace"], existing["metadata"]["name"]),
                    {"metadata": {"annotations": annotations}})
            return existing
        if not create:
            return None
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        h = du.template_hash(template, collisions)
        rs_template = copy.deepcopy(template)
        rs_template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = h
        annotations = self._copied_annotations(d)
        annotations[du.REVISION] = str(max_old + 1)
        annotations[du.DESIRED_REPLICAS] = str(du.replicas_of(d))
        annotations[du.MAX_REPLICAS] = str(du.replicas_of(d) + du.surge_and_unavailable(d)[0])
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{d['metadata']['name']}-{h}",
                           "namespace": d["metadata"]["namespace"],
                           "labels": dict(rs_template["metadata"]["labels"]),
                           "annotations": annotations,
                           "ownerReferences": [podutil.owner_reference(d)]},
              "spec": {"replicas": 0, "minReadySeconds": int(d["spec"].get("minReadySeconds") or 0),
                       "selector": selector, "template": rs_template}}
        rs["spec"]["replicas"] = du.new_rs_replicas(d, all_rs, rs)
        try:
            created = await self.client.create(_rs_path(d["metadata"]["namespace"]), rs)
        except ApiError as exc:
            if exc.status == 409:       # a hash collision: try the next name next time
                status = dict(d.get("status") or {}, collisionCount=collisions + 1)
                await self._put_status(d, status)
            raise
        self.recorder.record(d, "Normal", "ScalingReplicaSet",
                             f"Scaled up replica set {created['metadata']['name']} from 0 to "
                             f"{created['spec'].get('replicas', 0)}")
        self._created[self._key(d)] = created["metadata"]["name"]
        return created

    @staticmethod
    def _copied_annotations(d: dict) -> dict:
        return {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
                if k not in du.NOT_COPIED}

    async def scale(self, d: dict, rs: dict, replicas: int) -> dict:
        old = du.replicas_of(rs)
        if old == replicas:
            return rs
        m = rs["metadata"]
        annotations = dict(m.get("annotations") or {})
        annotations[du.DESIRED_REPLICAS] = str(du.replicas_of(d))
        annotations[du.MAX_REPLICAS] = str(du.replicas_of(d) + du.surge_and_unavailable(d)[0])
        updated = await self.client.patch(_rs_path(m["namespace"], m["name"]), {
            "metadata": {"annotations": annotations}, "spec": {"replicas": replicas}})
        direction = "up" if replicas > old else "down"
        self.recorder.record(d, "Normal", "ScalingReplicaSet",
                             f"Scaled {direction} replica set {m['name']} from {old} to {replicas}")
        rs.clear()
        rs.update(updated)
        return rs

    async def rolling(self, d: dict, new_rs: dict, old: list[dict]) -> None:
        all_rs = old + [new_rs]
        want = du.replicas_of(d)
        if du.replicas_of(new_rs) > want:
            await self.scale(d, new_rs, want)
        elif du.replicas_of(new_rs) < want:
            await self.scale(d, new_rs, du.new_rs_replicas(d, all_rs, new_rs))
        old_total = sum(du.replicas_of(r) for r in old)
        if old_total == 0:
            return
        _, max_unavailable = du.surge_and_unavailable(d)
        min_available = want - max_unavailable
        new_unavailable = du.replicas_of(new_rs) - int((new_rs.get("status") or {}).get(
            "availableReplicas") or 0)
        all_total = sum(du.replicas_of(r) for r in all_rs)
        budget = all_total - min_available - new_unavailable
        if budget <= 0:
            return
        by_age = sorted(old, key=lambda r: r["metadata"].get("creationTimestamp") or "")
        # unhealthy old pods first: they count against availability without serving
        for rs in by_age:
            if budget <= 0:
                break
            unhealthy = du.replicas_of(rs) - int((rs.get("status") or {}).get(
                "availableReplicas") or 0)
            cut = min(unhealthy, budget, du.replicas_of(rs))
            if cut > 0:
                await self.scale(d, rs, du.replicas_of(rs) - cut)
                budget -= cut
        available = sum(int((r.get("status") or {}).get("availableReplicas") or 0) for r in all_rs)
        can_cut = available - min_available
        for rs in by_age:
            if can_cut <= 0:
                break
            cut = min(du.replicas_of(rs), can_cut)
            if cut > 0:
                await self.scale(d, rs, du.replicas_of(rs) - cut)
                can_cut -= cut

    async def recreate(self, d: dict, new_rs: dict, old: list[dict]) -> None:
        for rs in old:
            if du.replicas_of(rs) > 0:
                await self.scale(d, rs, 0)
        if any(int((rs.get("status") or {}).get("replicas") or 0) for rs in old):
            return                       # old pods still running: the RS events bring us back
        await self.scale(d, new_rs, du.replicas_of(d))

    async def scale_proportionally(self, d: dict, new_rs: dict | None, old: list[dict]) -> None:
        """Paused: only a replicas change is applied, to the newest active ReplicaSet."""
        active = [r for r in old + ([new_rs] if new_rs else []) if du.replicas_of(r) > 0]
        if len(active) == 1 and du.replicas_of(active[0]) != du.replicas_of(d):
            await self.scale(d, active[0], du.replicas_of(d))

    async def cleanup(self, d: dict, old: list[dict]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        limit = DEFAULT_HISTORY if limit is None else int(limit)
        idle = [r for r in old if du.replicas_of(r) == 0 and
                not int((r.get("status") or {}).get("replicas") or 0) and
                not r["metadata"].get("deletionTimestamp")]
        idle.sort(key=du.revision)
        for rs in idle[:max(len(idle) - limit, 0)]:
            try:
                await self.client.delete(_rs_path(rs["metadata"]["namespace"],
                                                  rs["metadata"]["name"]),
                                         {"preconditions": {"uid": rs["metadata"]["uid"]}})
            except ApiError as exc:
                if exc.status not in (404, 409):
                    raise

    # ---- status -------------------------------------------------------------------------------
    async def sync_status(self, d: dict, all_rs: list[dict], new_rs: dict | None) -> None:
        want = du.replicas_of(d)
        st = lambda r, k: int((r.get("status") or {}).get(k) or 0)  # noqa: E731
        status = copy.deepcopy(d.get("status") or {})
        status.update({
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(st(r, "replicas") for r in all_rs),
            "updatedReplicas": st(new_rs, "replicas") if new_rs else 0,
            "readyReplicas": sum(st(r, "readyReplicas") for r in all_rs),
            "availableReplicas": sum(st(r, "availableReplicas") for r in all_rs)})
        status["unavailableReplicas"] = max(want - status["availableReplicas"], 0)
        for k in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas",
                  "replicas"):
            if not status[k]:
                status.pop(k)            # omitempty, as Go writes them
        _, max_unavailable = du.surge_and_unavailable(d)
        if status.get("availableReplicas", 0) >= want - max_unavailable:
            _set_condition(status, "Available", "True", "MinimumReplicasAvailable",
                           "Deployment has minimum availability.")
        else:
            _set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                           "Deployment does not have minimum availability.")
        self._progress(d, status, new_rs)
        revision = str(du.revision(new_rs)) if new_rs else None
        annotations = d["metadata"].get("annotations") or {}
        if revision and annotations.get(du.REVISION) != revision:
            # the revision annotation goes with the status write, as upstream's
            # syncRevision (UpdateStatus): a write of the main resource that changes a
            # Deployment's annotations moves its generation
            d = {**d, "metadata": {**d["metadata"],
                                   "annotations": {**annotations, du.REVISION: revision}}}
        elif status == (d.get("status") or {}):
            return
        await self._put_status(d, status)

    def _progress(self, d: dict, status: dict, new_rs: dict | None) -> None:
        """``syncRolloutStatus``: the Progressing condition."""
        if d["spec"].get("paused"):
            _set_condition(status, "Progressing", "Unknown", "DeploymentPaused",
                           "Deployment is paused")
            return
        old = _condition(status, "Progressing")
        if old is not None and old.get("reason") == "DeploymentPaused":
            _set_condition(status, "Progressing", "Unknown", "DeploymentResumed",
                           "Deployment is resumed")
            old = _condition(status, "Progressing")
        if new_rs is None:
            return
        name = new_rs["metadata"]["name"]
        want = du.replicas_of(d)
        complete = status.get("updatedReplicas", 0) == want and \
            status.get("replicas", 0) == want and status.get("availableReplicas", 0) == want
        if complete:
            _set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{name}" has successfully progressed.')
            return
        if self._created.get(self._key(d)) == name:
            del self._created[self._key(d)]
            _set_condition(status, "Progressing", "True", "NewReplicaSetCreated",
                           f'Created new replica set "{name}"')
            return
        if old is None:
            _set_condition(status, "Progressing", "True", "FoundNewReplicaSet",
                           f'Found new replica set "{name}"')
            return
        before = d.get("status") or {}
        moved = any(before.get(k) != status.get(k) for k in
                    ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"))
        if moved:
            _set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                           f'ReplicaSet "{name}" is progressing.')
            return
        deadline = d["spec"].get("progressDeadlineSeconds")
        deadline = DEFAULT_DEADLINE if deadline is None else int(deadline)
        since = podutil.parse_time(old.get("lastUpdateTime"))
        if old.get("reason") != "NewReplicaSetAvailable" and since is not None and \
                since + deadline < time.time():
            _set_condition(status, "Progressing", "False", "ProgressDeadlineExceeded",
                           f'ReplicaSet "{name}" has timed out progressing.')

    async def _put_status(self, d: dict, status: dict) -> None:
        m = d["metadata"]
        try:
            await self.client.update(
                f"/apis/apps/v1/namespaces/{m['namespace']}/deployments/{m['name']}/status",
                dict(d, status=status))
        except ApiError as exc:
            if exc.status == 409:
                self.queue.add(f"{m['namespace']}/{m['name']}")
            elif exc.status != 404:
                raise
