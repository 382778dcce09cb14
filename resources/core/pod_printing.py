"""The ``kubectl get pods`` row: READY, STATUS, RESTARTS and the wide columns.

Behaviour of k8s.io/kubernetes ``pkg/printers/internalversion/printers.go`` ``printPod``
(1.32): the STATUS cell is the pod's reason/phase refined by init-container and container
states, ``Terminating`` once a deletion is requested (unless the phase is terminal), and
``RESTARTS`` reads ``3 (5m ago)`` when a container has restarted.
"""
from __future__ import annotations

from apiserver.registry.printers import age, parse_time, since

from .columns import column

COLUMNS = (
    column("Name", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "name", format="name"),
    column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    column("Status", description="The aggregate status of the containers in this pod."),
    column("Restarts", description="The number of times the containers in this pod have been "
                                   "restarted and when the last container in this pod has restarted."),
    column("Age", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp"),
    column("IP", "PodStatus", "podIP", priority=1),
    column("Node", "PodSpec", "nodeName", priority=1),
    column("Nominated Node", "PodStatus", "nominatedNodeName", priority=1),
    column("Readiness Gates", "PodSpec", "readinessGates", priority=1),
)

TERMINAL_PHASES = ("Succeeded", "Failed")
NODE_UNREACHABLE_REASON = "NodeLost"


def pod_row(pod: dict) -> list:
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod.get("metadata") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in _dicts(status.get("conditions")):
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in _dicts(spec.get("initContainers"))}
    total = len(_dicts(spec.get("containers"))) + sum(1 for c in init_specs.values() if _sidecar(c))
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last_restart = None
    initializing = False
    init_statuses = _dicts(status.get("initContainerStatuses"))
    for i, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount") or 0
        last_restart = _later(last_restart, _last_termination(cs))
        sidecar = _sidecar(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount") or 0
            sidecar_last_restart = _later(sidecar_last_restart, _last_termination(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, sidecar_last_restart
        has_running = False
        for cs in reversed(_dicts(status.get("containerStatuses"))):
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, _last_termination(cs))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp"):
        if status.get("reason") == NODE_UNREACHABLE_REASON:
            reason = "Unknown"
        elif phase not in TERMINAL_PHASES:
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({since(last_restart)} ago)"

    ips = _dicts(status.get("podIPs"))
    gates = _dicts(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        conds = {}
        for c in _dicts(status.get("conditions")):
            conds.setdefault(c.get("type"), c.get("status"))
        true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_text = f"{true}/{len(gates)}"
    return [meta.get("name", ""), f"{ready}/{total}", reason, restarts_text, age(pod),
            (ips[0].get("ip") if ips else "") or "<none>",
            spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>",
            gates_text]


def _sidecar(container) -> bool:
    """A restartable init container (``restartPolicy: Always``) counts as a container."""
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _last_termination(cs: dict) -> str | None:
    last = (cs.get("lastState") or {}).get("terminated") or {}
    return last.get("finishedAt")


def _later(a: str | None, b: str | None) -> str | None:
    if b is None or parse_time(b) is None:
        return a
    if a is None or parse_time(a) < parse_time(b):
        return b
    return a


def _condition_true(status: dict, kind: str) -> bool:
    for cond in _dicts(status.get("conditions")):
        if cond.get("type") == kind:
            return cond.get("status") == "True"
    return False


def _dicts(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
