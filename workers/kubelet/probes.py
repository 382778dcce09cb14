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

Standard library and this package only.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

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
