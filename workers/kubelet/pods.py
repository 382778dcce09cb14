"""The pod worker: one task per pod bound to this node, driving its containers through the
runtime and reporting what happens (upstream pkg/kubelet/pod_workers.go, ``SyncPod`` in
kuberuntime_manager.go and the status manager of status/status_manager.go).

Lifecycle of ``PodWorker.run()``:

1. A pod already Succeeded/Failed is left alone; one whose status shows running containers
   (a restarted kubelet) is adopted as it is — same container ids, no new events.
2. Otherwise: startTime, podIP out of the node's podCIDR (hostIP for hostNetwork pods),
   PodReadyToStartContainers, then the init containers one after another (each must exit 0;
   a failed one is restarted unless restartPolicy is Never), then every container at once.
3. Each container: pull (Pulling/Pulled), create (Created), start (Started); ready at once,
   or ``readinessProbe.initialDelaySeconds`` later; when it exits, restartPolicy decides, and a
   restart after the first waits in CrashLoopBackOff (10 s doubling, 5 min cap).  A
   ``livenessProbe`` is run through the runtime (``probes.watch_liveness``): after
   failureThreshold consecutive failures (each an ``Unhealthy`` event) the container is
   killed (``Killing``) and restarted unless restartPolicy is Never, whatever its exit code
   (upstream kuberuntime_manager.go ``computePodActions``).  With a runtime that runs probes
   (``runs_probes``: the process runtime) startup and readiness probes run too
   (``probes.probe_for_real``); otherwise they are their initialDelaySeconds.  Such a
   runtime also runs ``lifecycle.postStart`` before the container counts as Running
   (``probes.post_start``): a failed hook kills the attempt, which ends as a crash.
4. When every container is done for good the phase is Succeeded or Failed and the IP freed.
5. ``deletionTimestamp`` set: running containers get a Killing event and are stopped within
   the grace period; the final status is posted and the pod DELETEd with
   ``gracePeriodSeconds: 0`` and a UID precondition, which completes the API's deletion.

Status is sent as a strategic merge patch of ``pods/NAME/status`` (conditions merge by type,
so the scheduler's PodScheduled stays), only when it changed.  A worker that finds its pod
gone (404) ends.
"""
from __future__ import annotations

import asyncio
import logging

from apiserver.client import ApiError

from . import ephemeral, probes
from . import status as st
from .events import container_path
from .runtime import CreateContainerConfigError, ImageNeverPull, normalize_image

log = logging.getLogger("workers.kubelet.pods")

SMP = "application/strategic-merge-patch+json"


def _meta(pod) -> dict:
    return pod.get("metadata") or {}


def _spec(pod) -> dict:
    return pod.get("spec") or {}


def _probe_delay(container: dict, probe: str) -> float:
    p = container.get(probe)
    if not isinstance(p, dict):
        return 0.0
    try:
        return max(float(p.get("initialDelaySeconds") or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def _pull_policy(container: dict) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return policy
    image = container.get("image") or ""
    tag = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent"


class PodWorker:
    """Runs one pod; ``host`` gives ``client``, ``runtime``, ``events``, ``node_name``,
    ``node_ip``, ``ips`` (PodIPs) and ``now()``."""

    def __init__(self, host, pod: dict):
        self.host, self.pod = host, pod
        self.uid = _meta(pod).get("uid")
        spec = _spec(pod)
        self.init = [st.ContainerRecord(c.get("name", ""), c.get("image", ""), init=True,
                                        reason="PodInitializing")
                     for c in spec.get("initContainers") or ()]
        main_reason = "PodInitializing" if self.init else "ContainerCreating"
        self.containers = [st.ContainerRecord(c.get("name", ""), c.get("image", ""),
                                              reason=main_reason)
                           for c in spec.get("containers") or ()]
        self.specs = {("init", c.get("name")): c for c in spec.get("initContainers") or ()}
        self.specs.update({("main", c.get("name")): c for c in spec.get("containers") or ()})
        reported = {c.get("name"): c for key in ("initContainerStatuses", "containerStatuses")
                    for c in (pod.get("status") or {}).get(key) or ()}
        for rec in self.init + self.containers:      # a restarted kubelet keeps the counts
            cs = reported.get(rec.name) or {}
            rec.restart_count = int(cs.get("restartCount") or 0)
            rec.last_state = (cs.get("lastState") or {}).get("terminated") or {}
        self.ephemeral, self.ephemeral_started = ephemeral.records(pod)
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.deleting = asyncio.Event()
        self.changed = asyncio.Event()
        self.sandbox_ready = False
        self.terminal = False
        self.gone = False
        self.start_time: str | None = None
        self.pod_ip: str | None = None
        self._posted: dict | None = None
        self._conditions = list((pod.get("status") or {}).get("conditions") or ())
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._probers: set[asyncio.Task] = set()
        self._liveness_killed: set[str] = set()      # container ids killed by liveness
        self.task: asyncio.Task | None = None
        if _meta(pod).get("deletionTimestamp"):
            self.deleting.set()

    # ---- the outside ----------------------------------------------------------------------
    def start(self) -> asyncio.Task:
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"pod {_meta(self.pod).get('namespace')}/{_meta(self.pod).get('name')}")
        return self.task

    def update(self, pod: dict) -> None:
        """A newer version of the pod from the watch."""
        self.pod = pod
        if _meta(pod).get("deletionTimestamp"):
            self.deleting.set()
        ephemeral.sync(self)

    async def forget(self) -> None:
        """The pod is gone from the API: stop everything, free its address."""
        self.gone = True
        for t in self._tasks + list(self._probers) + ([self.task] if self.task else []):
            t.cancel()
        await self.host.runtime.remove_pod(self.uid)
        self.host.ips.release(self.uid)

    # ---- the lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        try:
            phase = (self.pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                self.terminal = True
            elif not self.deleting.is_set():
                lifecycle = asyncio.ensure_future(self._lifecycle())
                deleting = asyncio.ensure_future(self.deleting.wait())
                try:
                    await asyncio.wait([lifecycle, deleting],
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    deleting.cancel()
                    if not lifecycle.done():
                        lifecycle.cancel()      # deletion: _terminate stops what runs
                        await asyncio.gather(lifecycle, return_exceptions=True)
                    elif lifecycle.exception() is not None:
                        raise lifecycle.exception()
            await self.deleting.wait()
            await self._terminate()
        except asyncio.CancelledError:
            raise
        except ApiError as exc:
            if exc.status != 404:
                log.warning("pod %s: %s", st.format_pod(self.pod), exc)
        except Exception:
            log.exception("pod worker %s failed", st.format_pod(self.pod))

    async def _lifecycle(self) -> None:
        """Start (or adopt) the pod, then wait until its containers are done for good."""
        if not self._adopt():
            await self._start_pod()
        if not self.terminal and self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if all(r.state == st.TERMINATED for r in self.containers):
                self.terminal = True
                await self._finish()

    def _adopt(self) -> bool:
        """Take over containers a previous kubelet process reported as running."""
        status = self.pod.get("status") or {}
        reported = {c.get("name"): c for c in status.get("containerStatuses") or ()}
        if not self.containers or not all(
                "running" in (reported.get(r.name) or {}).get("state", {})
                for r in self.containers):
            return False
        for rec in self.containers:
            cs = reported[rec.name]
            rec.state, rec.started, rec.ready = st.RUNNING, True, bool(cs.get("ready"))
            rec.started_at = cs["state"]["running"].get("startedAt") or self.host.now()
            rec.container_id = (cs.get("containerID") or "").split("://", 1)[-1]
            rec.image_id, rec.restart_count = cs.get("imageID", ""), cs.get("restartCount", 0)
            rec.last_state = (cs.get("lastState") or {}).get("terminated") or {}
        for rec in self.init:
            rec.state, rec.exit_code = st.TERMINATED, 0
        self.start_time = status.get("startTime") or self.host.now()
        self.pod_ip = status.get("podIP")
        if self.pod_ip and not _spec(self.pod).get("hostNetwork"):
            self.host.ips.reserve(self.uid, self.pod_ip)
        self.sandbox_ready = True
        self._posted = None
        loop = asyncio.get_running_loop()
        for rec in self.containers:
            self._tasks.append(loop.create_task(self._keep_running(rec, adopted=True)))
        return True

    async def _start_pod(self) -> None:
        self.start_time = (self.pod.get("status") or {}).get("startTime") or self.host.now()
        if _spec(self.pod).get("hostNetwork"):
            self.pod_ip = self.host.node_ip
        else:
            self.pod_ip = self.host.ips.allocate(self.uid)
        self.sandbox_ready = True
        await self.post()
        for rec in self.init:
            if self.deleting.is_set():
                return
            await self._keep_running(rec)
            if rec.exit_code:                  # failed for good (restartPolicy Never)
                self.terminal = True
                await self._finish()
                return
        for rec in self.containers:
            if rec.state == st.WAITING and rec.reason == "PodInitializing":
                rec.reason = "ContainerCreating"
        await self.post()
        loop = asyncio.get_running_loop()
        for rec in self.containers:
            self._tasks.append(loop.create_task(self._keep_running(rec)))
        ephemeral.sync(self)

    async def _finish(self) -> None:
        self.sandbox_ready = False
        self.host.ips.release(self.uid)
        await self.post()

    # ---- one container --------------------------------------------------------------------
    async def _keep_running(self, rec: st.ContainerRecord, adopted: bool = False) -> None:
        """Start, watch and restart one container until it is done for good."""
        crashes = 0
        spec = self.specs[("init" if rec.init else "main", rec.name)]
        while not self.deleting.is_set():
            if not adopted:
                if not await self._launch(rec, spec):
                    return
            adopted = False
            code = await self.host.runtime.wait_container(rec.container_id)
            if self.deleting.is_set() or rec.state != st.RUNNING:
                return
            rec.state, rec.exit_code, rec.finished_at = st.TERMINATED, code, self.host.now()
            rec.ready = rec.started = False
            restart = (code != 0 and self.restart_policy != "Never") if rec.init else \
                st.should_restart(self.restart_policy, code)
            if rec.container_id in self._liveness_killed:
                self._liveness_killed.discard(rec.container_id)
                restart = self.restart_policy != "Never"     # shouldRestartOnFailure
            if not restart:
                await self.post()
                return
            crashes += 1
            delay = st.backoff_delay(crashes)
            rec.last_state = rec.terminated_state(self.host.runtime.name)
            if delay:
                rec.state, rec.reason = st.WAITING, "CrashLoopBackOff"
                rec.message = st.crash_loop_message(delay, rec.name, self.pod)
                self.host.events.record(
                    self.pod, "Warning", "BackOff",
                    f"Back-off restarting failed container {rec.name} in pod "
                    f"{st.format_pod(self.pod)}", container_path(rec.name, rec.init))
                await self.post()
                try:
                    await asyncio.wait_for(self.deleting.wait(), delay)
                    return
                except asyncio.TimeoutError:
                    pass
            rec.restart_count += 1

    async def _launch(self, rec: st.ContainerRecord, spec: dict) -> bool:
        """Pull, create and start one attempt; False when it cannot start (image policy)."""
        rt, ev = self.host.runtime, self.host.events
        path = container_path(rec.name, rec.init, rec.ephemeral)
        image, policy = spec.get("image") or "", _pull_policy(spec)
        if policy == "Always" or (policy == "IfNotPresent" and not rt.has_image(image)):
            ev.record(self.pod, "Normal", "Pulling", f'Pulling image "{image}"', path)
        try:
            pulled = await rt.pull_image(image, policy)
        except ImageNeverPull:
            rec.state, rec.reason = st.WAITING, "ErrImageNeverPull"
            rec.message = f'Container image "{image}" is not present with pull policy of Never'
            ev.record(self.pod, "Warning", "ErrImageNeverPull", rec.message, path)
            await self.post()
            return False
        if pulled.already_present:
            ev.record(self.pod, "Normal", "Pulled",
                      f'Container image "{image}" already present on machine', path)
        else:
            ev.record(self.pod, "Normal", "Pulled",
                      st.pulled_message(image, pulled.seconds, pulled.size), path)
        cid = await self._create(rec, spec, path)
        if cid is None:
            return False
        if self.deleting.is_set():
            await rt.stop_container(cid, 0)
            return False
        ev.record(self.pod, "Normal", "Created", f"Created container: {rec.name}", path)
        await rt.start_container(cid)
        ev.record(self.pod, "Normal", "Started", f"Started container {rec.name}", path)
        rec.container_id, rec.image_id = cid, pulled.image_ref
        hook_failed = getattr(rt, "runs_probes", False) and \
            isinstance((spec.get("lifecycle") or {}).get("postStart"), dict) and \
            await probes.post_start(self, rec, cid, path)
        rec.state, rec.reason, rec.message = st.RUNNING, "", ""
        rec.started_at, rec.finished_at, rec.exit_code = self.host.now(), "", None
        if hook_failed:
            await self.post()
            return True                        # the stopped attempt ends as a crash
        if rec.ephemeral:                      # no probes, never ready (kubelet/ephemeral.py)
            rec.started, rec.ready = True, False
            return True
        if not rec.init and getattr(rt, "runs_probes", False):
            # a runtime with processes runs every probe for real (``probes.probe_for_real``)
            rec.started = not isinstance(spec.get("startupProbe"), dict)
            rec.ready = rec.started and not isinstance(spec.get("readinessProbe"), dict)
            await self.post()
            self._add_prober(probes.probe_for_real(self, rec, cid, spec))
            return True
        ready_after = 0.0 if rec.init else _probe_delay(spec, "readinessProbe")
        started_after = 0.0 if rec.init else _probe_delay(spec, "startupProbe")
        rec.started = started_after == 0
        rec.ready = (not rec.init) and ready_after == 0 and rec.started
        await self.post()
        if not rec.init and not rec.ready:
            asyncio.get_running_loop().create_task(
                self._probe_later(rec, cid, max(ready_after, started_after), started_after))
        if not rec.init and isinstance(spec.get("livenessProbe"), dict):
            self._add_prober(self._liveness(rec, cid, spec, started_after))
        return True

    def _add_prober(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._probers.add(task)
        task.add_done_callback(self._probers.discard)

    def _attempt_alive(self, rec, cid: str) -> bool:
        return rec.container_id == cid and rec.state == st.RUNNING and \
            not self.deleting.is_set() and not self.gone

    async def _create(self, rec: st.ContainerRecord, spec: dict, path: str) -> str | None:
        """Create one attempt; a configuration that cannot be built (a missing ConfigMap,
        Secret or key: CreateContainerConfigError) leaves the container waiting with that
        reason and is retried with a back-off (1 s doubling to 10 s, as the pod sync loop
        retries); None when the pod is deleted meanwhile."""
        delay = 1.0
        while True:
            try:
                return await self.host.runtime.create_container(
                    self.pod, spec, rec.restart_count, init=rec.init)
            except CreateContainerConfigError as exc:
                rec.state, rec.reason, rec.message = st.WAITING, "CreateContainerConfigError", \
                    str(exc)
                self.host.events.record(self.pod, "Warning", "Failed", f"Error: {exc}", path)
                await self.post()
            try:
                await asyncio.wait_for(self.deleting.wait(), delay)
                return None
            except asyncio.TimeoutError:
                delay = min(delay * 2, 10.0)

    async def _liveness(self, rec, cid: str, spec: dict, started_after: float) -> None:
        """Probe one attempt's liveness; on failureThreshold failures kill it (the
        ``_keep_running`` loop then restarts it per restartPolicy, through the back-off)."""
        probe, path = spec["livenessProbe"], container_path(rec.name)

        def alive() -> bool:
            return rec.container_id == cid and rec.state == st.RUNNING and \
                not self.deleting.is_set() and not self.gone

        def unhealthy(output: str) -> None:
            self.host.events.record(self.pod, "Warning", "Unhealthy",
                                    f"Liveness probe failed: {output}", path)
        failed = await probes.watch_liveness(
            self.host.runtime, cid, probe, delay=started_after,
            host=lambda: self.pod_ip, alive=alive, on_failure=unhealthy)
        if failed is None or not alive():
            return
        restart = self.restart_policy != "Never"
        message = f"Container {rec.name} failed liveness probe"
        self.host.events.record(self.pod, "Normal", "Killing",
                                message + (", will be restarted" if restart else ""), path)
        self._liveness_killed.add(cid)
        await self.host.runtime.stop_container(cid, probes.kill_grace(probe, self.pod))

    async def _probe_later(self, rec, cid: str, ready_after: float, started_after: float):
        """Startup and readiness probes are configured delays (liveness ones run through
        the runtime: ``_liveness``): the container turns started/ready once their
        initialDelaySeconds passed (if that attempt still runs)."""
        if started_after:
            await asyncio.sleep(started_after)
            if rec.container_id != cid or rec.state != st.RUNNING:
                return
            rec.started = True
            await self.post()
        await asyncio.sleep(max(ready_after - started_after, 0))
        if rec.container_id == cid and rec.state == st.RUNNING and not self.deleting.is_set():
            rec.ready = True
            await self.post()

    # ---- deletion -------------------------------------------------------------------------
    def grace_seconds(self) -> float:
        m = _meta(self.pod)
        grace = m.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = _spec(self.pod).get("terminationGracePeriodSeconds", 30)
        try:
            return max(float(grace), 0.0)
        except (TypeError, ValueError):
            return 30.0

    async def _terminate(self) -> None:
        grace = self.grace_seconds()
        for t in self._tasks + list(self._probers):
            t.cancel()
        rt = self.host.runtime
        running = [r for r in self.init + self.containers + self.ephemeral
                   if r.state == st.RUNNING]
        for rec in running:
            self.host.events.record(self.pod, "Normal", "Killing",
                                    f"Stopping container {rec.name}",
                                    container_path(rec.name, rec.init, rec.ephemeral))
        codes = await asyncio.wait_for(
            asyncio.gather(*(rt.stop_container(r.container_id, grace) for r in running)),
            grace + 5)
        now = self.host.now()
        for rec, code in zip(running, codes):
            rec.state, rec.exit_code, rec.finished_at = st.TERMINATED, code, now
            rec.ready = rec.started = False
        for rec in self.init + self.containers:
            if rec.state == st.WAITING:
                rec.reason = "ContainerCreating" if not rec.last_state else rec.reason
        self.terminal = True
        self.sandbox_ready = False
        if running or self.start_time:
            try:
                await self.post(final=True)
            except ApiError as exc:
                if exc.status != 404:
                    log.info("pod %s: final status not posted: %s", st.format_pod(self.pod), exc)
        await rt.remove_pod(self.uid)
        self.host.ips.release(self.uid)
        m = _meta(self.pod)
        try:
            await self.host.client.delete(
                f"/api/v1/namespaces/{m.get('namespace')}/pods/{m.get('name')}",
                {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                 "preconditions": {"uid": self.uid}})
        except ApiError as exc:
            if exc.status not in (404, 409):     # gone already, or a new pod of that name
                raise

    # ---- status ---------------------------------------------------------------------------
    def compute_status(self, final: bool = False) -> dict:
        """The pod's v1 PodStatus as this worker knows it (``status.worker_status``)."""
        return st.worker_status(self, normalize_image, final)

    async def post(self, final: bool = False) -> None:
        """Send the status if it differs from the last one sent.  A failure other than 404
        (the pod is gone) is logged and retried a second later, as the status manager's
        periodic sync would; ``final`` posts raise instead."""
        if self.gone:
            return
        async with self._lock:
            status = self.compute_status(final)
            if status == self._posted:
                return
            m = _meta(self.pod)
            path = f"/api/v1/namespaces/{m.get('namespace')}/pods/{m.get('name')}/status"
            try:
                await self.host.client.patch(path, {"status": status}, SMP)
            except ApiError as exc:
                if exc.status == 404:
                    self.gone = True
                    return
                if final:
                    raise
                self._retry_later(exc)
                return
            except (OSError, asyncio.TimeoutError) as exc:
                if final:
                    raise
                self._retry_later(exc)
                return
            self._posted = status
            self._conditions = status["conditions"]

    def _retry_later(self, exc: BaseException) -> None:
        log.warning("pod %s: status update failed: %s; retrying", st.format_pod(self.pod), exc)

        async def again():
            await asyncio.sleep(1.0)
            await self.post()
        self._tasks.append(asyncio.get_running_loop().create_task(again()))
