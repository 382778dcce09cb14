"""Liveness probing of one container attempt (upstream pkg/kubelet/prober/worker.go and
prober.go), the decision itself delegated to the runtime (``Runtime.probe``).

``settings(probe)`` applies the v1.Probe defaults (pkg/apis/core/v1/defaults.go:
periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3).

``watch_liveness(...)`` waits ``delay`` seconds (the probe's initialDelaySeconds, or longer
while the startup probe has not succeeded: upstream skips liveness probes until the container
is started), then probes every ``periodSeconds`` while ``alive()``.  Each failure is
reported through ``on_failure(output)`` (the kubelet's ``Unhealthy`` event); a success
resets the count.  It returns the last failure's output once ``failureThreshold``
consecutive probes failed — the caller kills the container — or None when the attempt
ended first.  A probe that raises ("errored") is thrown away, as upstream's worker does.

``probe_for_real(worker, rec, cid, spec)`` runs every probe of one attempt through a
runtime that runs them for real (``runs_probes``): startup (a failure past its threshold kills
the attempt, as a failed liveness probe does), then readiness (ready after successThreshold
successes, unready after failureThreshold failures) and liveness.

Standard library and this package only.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from . import status as st
from .events import container_path

log = logging.getLogger("workers.kubelet.probes")

LIVENESS = "liveness"


@dataclass(frozen=True)
class ProbeSettings:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def _number(probe: dict, key: str, default: float, minimum: float) -> float:
    try:
        value = float(probe.get(key) or default)
    except (TypeError, ValueError):
        return default
    return max(value, minimum)


def settings(probe: dict) -> ProbeSettings:
    """The probe's timing with upstream's defaults (validation already refuses values
    below 1; a zero is treated as unset, as the defaulting does)."""
    return ProbeSettings(
        initial_delay=_number(probe, "initialDelaySeconds", 0.0, 0.0),
        period=_number(probe, "periodSeconds", 10.0, 1.0),
        timeout=_number(probe, "timeoutSeconds", 1.0, 1.0),
        success_threshold=int(_number(probe, "successThreshold", 1, 1)),
        failure_threshold=int(_number(probe, "failureThreshold", 3, 1)))


def kill_grace(probe: dict, pod: dict) -> float:
    """Grace period of a kill after a failed liveness probe: the probe's own
    ``terminationGracePeriodSeconds`` if set, else the pod's (default 30), as upstream
    kuberuntime_container.go ``killContainer``."""
    for value in (probe.get("terminationGracePeriodSeconds"),
                  (pod.get("spec") or {}).get("terminationGracePeriodSeconds"), 30):
        if value is not None:
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                continue
    return 30.0


async def watch_liveness(runtime, cid: str, probe: dict, *, delay: float, host,
                         alive, on_failure) -> str | None:
    """See the module docstring.  ``host()`` gives the pod IP at probe time (it may be
    known only after the container started); ``alive()`` is False once this attempt is
    over (exited, replaced, or the pod is being deleted)."""
    s = settings(probe)
    await asyncio.sleep(max(delay, s.initial_delay))
    failures = 0
    while alive():
        try:
            result = await runtime.probe(cid, LIVENESS, probe, host())
        except asyncio.CancelledError:
            raise
        except Exception as exc:           # errored: upstream throws the result away
            log.info("liveness probe of %s errored: %s", cid[:12], exc)
            result = None
        if result is not None and alive():
            if result.success:
                failures = 0
            else:
                failures += 1
                on_failure(result.output)
                if failures >= s.failure_threshold:
                    return result.output
        await asyncio.sleep(s.period)
    return None


async def probe_for_real(worker, rec, cid: str, spec: dict) -> None:
    """All of one attempt's probes run through the runtime (a runtime with processes,
    ``runs_probes``), for the pod worker ``worker``: the startup probe first (liveness and
    readiness wait for it, as upstream's prober manager), then readiness and liveness side
    by side."""
    if isinstance(spec.get("startupProbe"), dict):
        if not await startup(worker, rec, cid, spec["startupProbe"]):
            return
        rec.started = True
        rec.ready = not isinstance(spec.get("readinessProbe"), dict)
        await worker.post()
    jobs = []
    if isinstance(spec.get("readinessProbe"), dict):
        jobs.append(readiness(worker, rec, cid, spec["readinessProbe"]))
    if isinstance(spec.get("livenessProbe"), dict):
        jobs.append(worker._liveness(rec, cid, spec, 0.0))
    await asyncio.gather(*jobs)


async def startup(worker, rec, cid: str, probe: dict) -> bool:
    """Startup probes until one succeeds (True); after failureThreshold failures the
    container is killed and restarted per restartPolicy (False), upstream's
    ``Container X failed startup probe, will be restarted``."""
    s, path = settings(probe), container_path(rec.name)
    await asyncio.sleep(s.initial_delay)
    failures = 0
    while worker._attempt_alive(rec, cid):
        try:
            result = await worker.host.runtime.probe(cid, "startup", probe, worker.pod_ip)
        except asyncio.CancelledError:
            raise
        except Exception as exc:         # noqa: BLE001  (errored: thrown away)
            log.debug("startup probe of %s errored: %s", cid[:12], exc)
            result = None
        if result is not None and worker._attempt_alive(rec, cid):
            if result.success:
                return True
            failures += 1
            worker.host.events.record(worker.pod, "Warning", "Unhealthy",
                                    f"Startup probe failed: {result.output}", path)
            if failures >= s.failure_threshold:
                restart = worker.restart_policy != "Never"
                worker.host.events.record(
                    worker.pod, "Normal", "Killing",
                    f"Container {rec.name} failed startup probe"
                    + (", will be restarted" if restart else ""), path)
                worker._liveness_killed.add(cid)
                await worker.host.runtime.stop_container(
                    cid, kill_grace(probe, worker.pod))
                return False
        await asyncio.sleep(s.period)
    return False

async def readiness(worker, rec, cid: str, probe: dict) -> None:
    """Readiness probes through the runtime (upstream prober/worker.go): ready after
    successThreshold successes in a row, unready after failureThreshold failures (each
    an ``Unhealthy`` event); an errored probe is thrown away."""
    s = settings(probe)
    await asyncio.sleep(s.initial_delay)
    successes = failures = 0

    def alive() -> bool:
        return worker._attempt_alive(rec, cid)
    while alive():
        try:
            result = await worker.host.runtime.probe(cid, "readiness", probe, worker.pod_ip)
        except asyncio.CancelledError:
            raise
        except Exception as exc:         # noqa: BLE001  (errored: thrown away)
            log.debug("readiness probe of %s errored: %s", cid[:12], exc)
            result = None
        if result is not None and alive():
            if result.success:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                worker.host.events.record(worker.pod, "Warning", "Unhealthy",
                                        f"Readiness probe failed: {result.output}",
                                        container_path(rec.name))
            ready = rec.ready
            if successes >= s.success_threshold:
                ready = True
            elif failures >= s.failure_threshold:
                ready = False
            if ready != rec.ready:
                rec.ready = ready
                await worker.post()
        await asyncio.sleep(s.period)


async def post_start(worker, rec, cid: str, path: str) -> bool:
    """The postStart hook (kuberuntime_container.go ``startContainer`` step 4), run through
    the runtime: the container is not Running until it returns; True when it failed and the
    container was killed, with upstream's events (FailedPostStartHook "PostStartHook
    failed", without the handler's message, then Killing "FailedPostStartHook")."""
    error = await worker.host.runtime.post_start(cid)
    if error is None:
        return False
    log.info("postStart hook of %s in %s failed: %s", rec.name, st.format_pod(worker.pod), error)
    ev = worker.host.events
    ev.record(worker.pod, "Warning", "FailedPostStartHook", "PostStartHook failed", path)
    ev.record(worker.pod, "Normal", "Killing", "FailedPostStartHook", path)
    await worker.host.runtime.stop_container(cid, worker.grace_seconds())
    return True
