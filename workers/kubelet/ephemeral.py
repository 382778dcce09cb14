"""Ephemeral containers (``kubectl debug``), as the kubelet runs them (upstream
kuberuntime_manager.go ``computePodActions``: "ephemeral containers are started once, after
the pod's sandbox, and never restarted").

A container added to ``spec.ephemeralContainers`` (the pods/ephemeralcontainers
subresource) gets a record when the worker sees the new pod; once the sandbox is ready it is
pulled, created and started like any container (events with field path
``spec.ephemeralContainers{name}``), has no probes and is never ready, and when it exits it
stays terminated.  Its status is the pod's ``ephemeralContainerStatuses``; phase and
conditions ignore it.  ``targetContainerName`` is recorded but shares nothing: this
project's runtimes give containers no process namespaces to join.  Containers already
reported by a previous kubelet are not started again.
"""
from __future__ import annotations

import logging

from . import status as st

log = logging.getLogger("workers.kubelet.ephemeral")


def _spec(pod: dict) -> dict:
    return pod.get("spec") or {}


def records(pod: dict) -> tuple[list[st.ContainerRecord], set[str]]:
    """Records of the pod's ephemeral containers, and the names a previous kubelet already
    reported (they are shown terminated as reported, or exited 137 if they were running:
    their processes did not survive it)."""
    reported = {c.get("name"): c for c in (pod.get("status") or {})
                .get("ephemeralContainerStatuses") or ()}
    out, done = [], set()
    for c in _spec(pod).get("ephemeralContainers") or ():
        rec = st.ContainerRecord(c.get("name", ""), c.get("image", ""), ephemeral=True)
        cs = reported.get(rec.name)
        if cs is not None:
            term = (cs.get("state") or {}).get("terminated") or {}
            rec.state, rec.exit_code = st.TERMINATED, int(term.get("exitCode", 137))
            rec.started_at = term.get("startedAt") or ""
            rec.finished_at = term.get("finishedAt") or ""
            rec.container_id = (cs.get("containerID") or "").split("://", 1)[-1]
            done.add(rec.name)
        out.append(rec)
    return out, done


def sync(worker) -> None:
    """Add records for containers new in the worker's pod spec and start those not started
    yet, when the sandbox is ready (called from ``update`` and after the pod starts)."""
    known = {r.name for r in worker.ephemeral}
    for c in _spec(worker.pod).get("ephemeralContainers") or ():
        name = c.get("name", "")
        worker.specs[("ephemeral", name)] = c
        if name not in known:
            worker.ephemeral.append(st.ContainerRecord(name, c.get("image", ""),
                                                       ephemeral=True))
            known.add(name)
    if not worker.sandbox_ready or worker.deleting.is_set() or worker.terminal:
        return
    for rec in worker.ephemeral:
        if rec.name in worker.ephemeral_started:
            continue
        worker.ephemeral_started.add(rec.name)
        # a background task of the worker (cancelled with its probers): the pod's lifecycle
        # does not wait for it
        worker._add_prober(run(worker, rec, worker.specs[("ephemeral", rec.name)]))


async def run(worker, rec: st.ContainerRecord, spec: dict) -> None:
    """Start the container once and note how it ended."""
    if not await worker._launch(rec, spec):
        return
    await worker.post()
    code = await worker.host.runtime.wait_container(rec.container_id)
    if worker.deleting.is_set() or rec.state != st.RUNNING:
        return
    rec.state, rec.exit_code, rec.finished_at = st.TERMINATED, code, worker.host.now()
    rec.ready = rec.started = False
    log.info("ephemeral container %s of %s exited with %s", rec.name,
             st.format_pod(worker.pod), code)
    await worker.post()
