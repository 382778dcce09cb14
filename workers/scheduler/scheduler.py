"""The scheduler process: informers feed a cache and the queue; one loop pops a pod, runs a
scheduling cycle on the cache (``framework.schedule``), assumes the pod onto the chosen node
at once (so the next cycle already counts it) and binds it in the background (the binding
cycle of pkg/scheduler/schedule_one.go).

Cache rules (pkg/scheduler/internal/cache): every non-terminal pod with ``spec.nodeName`` is
accounted on its node, whoever bound it; a pod this scheduler has assumed stays on its node
until the informer confirms the binding or the bind fails (then it is forgotten and the pod
retried after its backoff).  Unbound pods whose ``spec.schedulerName`` is ours (and that are
not being deleted) are queued.  Node changes that could make a pod fit (a new node; labels,
taints, allocatable or unschedulable changed) and pods leaving a node move the parked pods
back (``SchedulingQueue.move_all``).  A Node update that changes only ``status.images``
refreshes the node's images (ImageLocality) without moving any pod, as upstream's queueing
hints ignore it.  A Namespace informer keeps each namespace's labels for the
``namespaceSelector`` of pod affinity terms; a change of them moves the parked pods back.
Services, ReplicationControllers, ReplicaSets and StatefulSets are watched for the default
topology spreading (``spread.default_selector``), as upstream's PodTopologySpread listers.

The cycle itself never awaits; API writes (bind, status, events, victims) run in tasks.
"""
from __future__ import annotations

import asyncio
import logging
import random

from apiserver.client import ApiError, Informer
from apiserver.client.events import EventRecorder

from workers.scheduler import binder, framework, preemption, spread
from workers.scheduler.nodeinfo import NodeInfo, is_terminal, node_images, pod_key
from workers.scheduler.queue import QueuedPod, SchedulingQueue

log = logging.getLogger("workers.scheduler")

DEFAULT_SCHEDULER_NAME = "default-scheduler"


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _node_relevant(old: dict | None, new: dict) -> bool:
    """Did a change of the Node alter what the filters look at?"""
    if old is None:
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (om.get("labels") != nm.get("labels") or _spec(old) != _spec(new)
            or (old.get("status") or {}).get("allocatable")
            != (new.get("status") or {}).get("allocatable"))


def _images(node: dict | None) -> list | None:
    return ((node or {}).get("status") or {}).get("images")


class Scheduler:
    """See the module docstring.  ``client`` is an ``AsyncClient``."""

    def __init__(self, client, *, name: str = DEFAULT_SCHEDULER_NAME,
                 rng: random.Random | None = None, queue: SchedulingQueue | None = None,
                 transport: str = "websocket", bind_concurrency: int = 32,
                 preemption_enabled: bool = True):
        self.client, self.name = client, name
        self.rng = rng or random.Random()
        self.queue = queue or SchedulingQueue()
        self.recorder = EventRecorder(client, name)
        self.preemption_enabled = preemption_enabled
        self.nodes: dict[str, NodeInfo] = {}
        self.pods_by_node: dict[str, dict[str, dict]] = {}
        self.pod_node: dict[str, str] = {}
        self.assumed: set[str] = set()
        self.bound = 0                       # successful bindings (metrics, tests)
        self.failed = 0                      # unschedulable attempts
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self.pod_informer = Informer(client, "/api/v1/pods", handler=self.on_pod,
                                     transport=transport, name="pods")
        self.node_informer = Informer(client, "/api/v1/nodes", handler=self.on_node,
                                      transport=transport, name="nodes")
        self.namespace_labels: dict[str, dict] = {}
        self.namespace_informer = Informer(client, "/api/v1/namespaces",
                                           handler=self.on_namespace, transport=transport,
                                           name="namespaces")
        # what DefaultSelector reads (no handlers: their caches are looked up per pod)
        self.selector_informers = {
            resource: Informer(client, path, transport=transport, name=resource)
            for resource, path in (("services", "/api/v1/services"),
                                   ("replicationcontrollers", "/api/v1/replicationcontrollers"),
                                   ("replicasets", "/apis/apps/v1/replicasets"),
                                   ("statefulsets", "/apis/apps/v1/statefulsets"))}

    # ---- cache --------------------------------------------------------------------------
    def _add_bound(self, key: str, node: str, pod: dict) -> None:
        prev = self.pod_node.get(key)
        if prev is not None and prev != node:
            self._remove_bound(key)
        self.pod_node[key] = node
        self.pods_by_node.setdefault(node, {})[key] = pod
        info = self.nodes.get(node)
        if info is not None:
            info.add_pod(pod)

    def _remove_bound(self, key: str) -> bool:
        node = self.pod_node.pop(key, None)
        if node is None:
            return False
        self.pods_by_node.get(node, {}).pop(key, None)
        info = self.nodes.get(node)
        if info is not None:
            info.remove_pod(key)
        return True

    def responsible(self, pod: dict) -> bool:
        return (_spec(pod).get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.name

    # ---- informer handlers --------------------------------------------------------------
    def on_pod(self, event: str, pod: dict, old: dict | None) -> None:
        key = pod_key(pod)
        node = _spec(pod).get("nodeName")
        if event == "DELETED":
            self.queue.delete(key)
            self.assumed.discard(key)
            if self._remove_bound(key):
                self.queue.move_all()
            return
        if node:
            self.queue.delete(key)
            if is_terminal(pod):
                self.assumed.discard(key)
                if self._remove_bound(key):
                    self.queue.move_all()
                return
            was_ours = key in self.assumed
            self.assumed.discard(key)
            newly = self.pod_node.get(key) != node
            self._add_bound(key, node, pod)
            if newly and not was_ours:
                self.queue.move_all()    # AssignedPodAdd: affinity to it may now hold
            return
        if key in self.assumed:
            return                       # our binding is in flight
        if key in self.pod_node:         # was bound, now is not (recreated with the name)
            self._remove_bound(key)
        m = pod.get("metadata") or {}
        if self.responsible(pod) and not m.get("deletionTimestamp") and not is_terminal(pod):
            self.queue.add(pod)
        else:
            self.queue.delete(key)

    def on_node(self, event: str, node: dict, old: dict | None) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        if event == "DELETED":
            self.nodes.pop(name, None)
            return
        info = self.nodes.get(name)
        if info is not None and not _node_relevant(old, node):
            info.node = node             # a heartbeat: nothing the filters read changed
            if _images(old) != _images(node):
                info.images = node_images(node)
            return
        info = NodeInfo(node)
        for pod in self.pods_by_node.get(name, {}).values():
            info.add_pod(pod)
        self.nodes[name] = info
        self.queue.move_all()

    def on_namespace(self, event: str, ns: dict, old: dict | None) -> None:
        name = (ns.get("metadata") or {}).get("name", "")
        if event == "DELETED":
            self.namespace_labels.pop(name, None)
            return
        labels = (ns.get("metadata") or {}).get("labels") or {}
        changed = old is not None and self.namespace_labels.get(name) != labels
        self.namespace_labels[name] = labels
        if changed:
            self.queue.move_all()        # a namespaceSelector may select it now

    def spread_selector(self, pod: dict) -> dict:
        """``spread.default_selector`` of ``pod`` from the informers' caches."""
        ns = (pod.get("metadata") or {}).get("namespace", "")
        prefix = f"{ns}/"
        services = [svc for key, svc in self.selector_informers["services"].cache.items()
                    if key.startswith(prefix)]
        ref = spread.controller_ref(pod)
        controller = self.selector_informers[ref[0]].get(ref[1], ns) if ref else None
        return spread.default_selector(pod, services, controller)

    # ---- the scheduling cycle -----------------------------------------------------------
    def schedule_one(self, qp: QueuedPod) -> None:
        pod = qp.pod
        key = qp.key
        if key in self.pod_node or (pod.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.done(key)         # bound or deleted meanwhile (skipPodSchedule)
            return
        try:
            # the default spreading's selector is looked up only if scoring needs it
            node = framework.schedule(pod, self.nodes, self.rng, self.namespace_labels,
                                      lambda: self.spread_selector(pod))
        except framework.FitError as err:
            self._unschedulable(qp, err)
            return
        assumed = {**pod, "spec": {**_spec(pod), "nodeName": node}}
        self.assumed.add(key)
        self._add_bound(key, node, assumed)
        self._spawn(self._bind(qp, node))

    def _unschedulable(self, qp: QueuedPod, err: framework.FitError) -> None:
        pod = qp.pod
        nominated, victims, post = None, [], ""
        if self.preemption_enabled:
            nominated, victims, post = preemption.find_candidate(pod, self.nodes, err,
                                                                 self.namespace_labels)
        message = err.message(post)
        self.failed += 1
        self.queue.done_unschedulable(qp)
        log.info("unable to schedule %s: %s", qp.key, message)
        self.recorder.record(pod, "Warning", "FailedScheduling", message)
        self._spawn(self._report(pod, message, nominated, victims))

    async def _report(self, pod: dict, message: str, nominated, victims) -> None:
        for v in victims:
            m = v.get("metadata") or {}
            self.recorder.record(v, "Normal", "Preempted",
                                 f"Preempted by pod {(pod.get('metadata') or {}).get('uid')} "
                                 f"on node {nominated}")
            try:
                await binder.delete_victim(self.client, v)
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("deleting victim %s/%s: %s", m.get("namespace"), m.get("name"), exc)
        try:
            await binder.mark_unschedulable(self.client, pod, message, nominated=nominated)
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.warning("updating status of %s: %s", pod_key(pod), exc)

    async def _bind(self, qp: QueuedPod, node: str) -> None:
        pod, key = qp.pod, qp.key
        async with self._bind_slots:
            try:
                await binder.bind(self.client, pod, node)
            except ApiError as exc:
                self._forget(key)
                if exc.status in (404, 409):
                    # gone, being deleted, or bound by someone else: nothing to retry
                    log.info("binding %s to %s refused: %s", key, node, exc.message)
                    self.queue.done(key)
                else:
                    log.warning("binding %s to %s failed: %s", key, node, exc)
                    self.queue.done_error(qp)
                return
            except (OSError, asyncio.TimeoutError) as exc:
                self._forget(key)
                log.warning("binding %s to %s failed: %s", key, node, exc)
                self.queue.done_error(qp)
                return
        self.bound += 1
        self.queue.done(key)
        log.info("Successfully bound pod %s to node %s", key, node)
        m = pod.get("metadata") or {}
        self.recorder.record(pod, "Normal", "Scheduled",
                             f"Successfully assigned {m.get('namespace')}/{m.get('name')} "
                             f"to {node}")

    def _forget(self, key: str) -> None:
        if key in self.assumed:
            self.assumed.discard(key)
            self._remove_bound(key)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- lifecycle ----------------------------------------------------------------------
    def _informers(self) -> list[Informer]:
        return [self.namespace_informer, *self.selector_informers.values(),
                self.node_informer, self.pod_informer]

    def start_informers(self) -> None:
        for informer in self._informers():
            informer.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        for informer in self._informers():
            await informer.wait_synced(timeout)

    async def scheduling_loop(self) -> None:
        await self.wait_synced()
        log.info("scheduler %s: caches synced (%d nodes, %d pods); scheduling",
                 self.name, len(self.nodes), len(self.pod_informer.cache))
        while True:
            qp = await self.queue.pop()
            try:
                self.schedule_one(qp)
            except Exception:            # a bug on one pod must not stop the scheduler
                log.exception("scheduling %s failed", qp.key)
                self.queue.done_error(qp)
            await asyncio.sleep(0)       # let informers and binds run between cycles

    def start(self) -> asyncio.Task:
        self.start_informers()
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self.scheduling_loop())
        return self._loop_task

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except asyncio.CancelledError:
                pass
            self._loop_task = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.recorder.flush()
        for informer in reversed(self._informers()):
            await informer.close()
