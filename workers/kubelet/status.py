"""Pod status computations, pure functions of the pod's spec and its containers' records.

Upstream: pkg/kubelet/kubelet_pods.go (``getPhase``, ``convertToAPIContainerStatuses``),
pkg/kubelet/status/generate.go (the Initialized / ContainersReady / Ready conditions and
their reasons and messages), pkg/kubelet/kuberuntime/kuberuntime_container.go and
pkg/kubelet/images (event texts), pkg/util/flowcontrol/backoff.go (crash-loop back-off).
"""
from __future__ import annotations

from dataclasses import dataclass, field

BACKOFF_INITIAL = 10.0          # upstream kubelet.go: backOffPeriod
BACKOFF_MAX = 300.0             # MaxContainerBackOff

WAITING, RUNNING, TERMINATED = "waiting", "running", "terminated"


@dataclass
class ContainerRecord:
    """What the kubelet knows of one container (the newest attempt and the one before)."""

    name: str
    image: str
    init: bool = False
    state: str = WAITING
    reason: str = "ContainerCreating"
    message: str = ""
    container_id: str = ""
    image_id: str = ""
    started_at: str = ""
    finished_at: str = ""
    exit_code: int | None = None
    restart_count: int = 0
    started: bool = False
    ready: bool = False
    last_state: dict = field(default_factory=dict)
    ephemeral: bool = False        # a spec.ephemeralContainers entry (kubelet/ephemeral.py)

    def terminated_state(self, runtime_name: str) -> dict:
        out = {"exitCode": self.exit_code or 0,
               "reason": "Completed" if not self.exit_code else "Error",
               "startedAt": self.started_at, "finishedAt": self.finished_at}
        if self.container_id:
            out["containerID"] = f"{runtime_name}://{self.container_id}"
        return out


def container_status(rec: ContainerRecord, runtime_name: str, image: str) -> dict:
    """The v1 ContainerStatus of a record (``image`` as the runtime reports it)."""
    if rec.state == RUNNING:
        state = {"running": {"startedAt": rec.started_at}}
    elif rec.state == TERMINATED:
        state = {"terminated": rec.terminated_state(runtime_name)}
    else:
        waiting = {"reason": rec.reason}
        if rec.message:
            waiting["message"] = rec.message
        state = {"waiting": waiting}
    out = {"name": rec.name, "image": image, "imageID": rec.image_id,
           "ready": rec.ready and rec.state == RUNNING, "restartCount": rec.restart_count,
           "started": rec.started and rec.state == RUNNING, "state": state,
           "lastState": {"terminated": rec.last_state} if rec.last_state else {}}
    if rec.container_id:
        out["containerID"] = f"{runtime_name}://{rec.container_id}"
    return out


def pod_phase(restart_policy: str, init: list[ContainerRecord],
              containers: list[ContainerRecord], terminal: bool = False) -> str:
    """Upstream ``getPhase`` (regular init containers; no sidecars)."""
    pending_init = failed_init = 0
    for rec in init:
        if rec.state == TERMINATED:
            failed_init += rec.exit_code not in (0, None)
        elif rec.state == WAITING and rec.last_state:
            failed_init += rec.last_state.get("exitCode", 0) != 0
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = 0
    for rec in containers:
        if rec.state == RUNNING:
            running += 1
        elif rec.state == TERMINATED:
            stopped += 1
            succeeded += not rec.exit_code
        elif rec.last_state:
            stopped += 1
        else:
            waiting += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict:
    """A condition; reason and message are None when absent (a strategic merge patch then
    removes a stale one from the stored condition)."""
    return {"type": kind, "status": "True" if ok else "False",
            "reason": (reason or None) if not ok else None,
            "message": (message or None) if not ok else None}


def pod_conditions(phase: str, sandbox_ready: bool, init: list[ContainerRecord],
                   containers: list[ContainerRecord]) -> list[dict]:
    """PodReadyToStartContainers, Initialized, ContainersReady, Ready (without times; see
    ``with_transition_times``).  PodScheduled is the scheduler's and is left alone."""
    out = [_condition("PodReadyToStartContainers", sandbox_ready)]
    incomplete = [r.name for r in init if not (r.state == TERMINATED and not r.exit_code)]
    out.append(_condition("Initialized", not incomplete, "ContainersNotInitialized",
                          f"containers with incomplete status: [{' '.join(incomplete)}]"))
    if phase in ("Succeeded", "Failed"):
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        out += [_condition("ContainersReady", False, reason),
                _condition("Ready", False, reason)]
        return out
    unready = [r.name for r in containers if not (r.ready and r.state == RUNNING)]
    if unready:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        out += [_condition("ContainersReady", False, "ContainersNotReady", msg),
                _condition("Ready", False, "ContainersNotReady", msg)]
    else:
        out += [_condition("ContainersReady", True), _condition("Ready", True)]
    return out


def with_transition_times(conditions: list[dict], previous: list | None, now: str) -> list[dict]:
    """Stamp ``lastTransitionTime`` (kept from ``previous`` while the status is unchanged) and
    ``lastProbeTime: null``, as upstream's status manager does."""
    old = {c.get("type"): c for c in previous or ()}
    out = []
    for c in conditions:
        prev = old.get(c["type"]) or {}
        same = prev.get("status") == c["status"]
        out.append({**c, "lastProbeTime": None,
                    "lastTransitionTime": (prev.get("lastTransitionTime") if same else None)
                    or now})
    return out


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """Upstream ``ShouldContainerBeRestarted`` for a container that exited."""
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return exit_code != 0
    return False


def backoff_delay(crashes: int) -> float:
    """Seconds to wait before the restart following the ``crashes``-th exit: the first
    restart is immediate (no back-off entry yet), then 10 s doubling up to 5 minutes
    (upstream ``doBackOff`` over flowcontrol.Backoff)."""
    if crashes <= 1:
        return 0.0
    return min(BACKOFF_INITIAL * 2 ** (crashes - 2), BACKOFF_MAX)


def format_pod(pod: dict) -> str:
    """upstream format.Pod: ``name_namespace(uid)``."""
    m = pod.get("metadata") or {}
    return f"{m.get('name')}_{m.get('namespace')}({m.get('uid')})"


def crash_loop_message(delay: float, container: str, pod: dict) -> str:
    m = pod.get("metadata") or {}
    return (f"back-off {int(delay)}s restarting failed container={container} "
            f"pod={m.get('name')}_{m.get('namespace')}({m.get('uid')})")


def pulled_message(image: str, seconds: float, size: int) -> str:
    """upstream images/image_manager.go (1.32)."""
    took = _duration(seconds)
    return (f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
            f"Image size: {size} bytes.")


def _duration(seconds: float) -> str:
    """Go's time.Duration String() for sub-minute values, rounded as the kubelet's (ms)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m" + (f"{rest:.3f}".rstrip("0").rstrip(".") or "0") + "s"


def worker_status(w, normalize_image, final: bool = False) -> dict:
    """The v1 PodStatus of pod worker ``w`` (workers/kubelet/pods.py): phase, conditions,
    addresses, start time and the init, regular and ephemeral container statuses;
    ``final`` when the worker is done with the pod."""
    phase = pod_phase(w.restart_policy, w.init, w.containers, terminal=final or w.terminal)
    if final and phase not in ("Succeeded", "Failed"):
        phase = "Failed" if any(r.exit_code for r in w.containers) else "Succeeded"
    now = w.host.now()
    conditions = with_transition_times(
        pod_conditions(phase, w.sandbox_ready, w.init, w.containers),
        w._conditions, now)
    status: dict = {"phase": phase, "conditions": conditions,
                    "hostIP": w.host.node_ip, "hostIPs": [{"ip": w.host.node_ip}]}
    if w.pod_ip:
        status["podIP"] = w.pod_ip
        status["podIPs"] = [{"ip": w.pod_ip}]
    if w.start_time:
        status["startTime"] = w.start_time
    rt = w.host.runtime.name
    if w.init:
        status["initContainerStatuses"] = [
            container_status(r, rt, normalize_image(r.image)) for r in w.init]
    status["containerStatuses"] = [
        container_status(r, rt, normalize_image(r.image)) for r in w.containers]
    if w.ephemeral:
        status["ephemeralContainerStatuses"] = [
            container_status(r, rt, normalize_image(r.image)) for r in w.ephemeral]
    return status
