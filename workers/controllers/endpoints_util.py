"""What the endpoints and endpointslice controllers share (upstream
staging/src/k8s.io/endpointslice/util/controller_utils.go, pkg/api/v1/pod/util.go
``FindPort``, pkg/controller/util/endpoint/trigger_time_tracker.go): which pods a Service
publishes, the port a Service port resolves to on a pod, the pod's address for a Service's IP
family, and the ``endpoints.kubernetes.io/last-change-trigger-time`` bookkeeping.

Objects are the API's JSON dicts; nothing here talks to the server.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime, timezone

from . import podutil, selectors

TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS = "service.kubernetes.io/headless"
ZONE = "topology.kubernetes.io/zone"


# ---- services ---------------------------------------------------------------------------------
def key_of(obj: dict) -> str:
    return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"


def is_ip_set(service: dict) -> bool:
    """``IsServiceIPSet``: a cluster IP that is neither empty nor ``None`` (not headless)."""
    ip = (service.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def is_headless_without_ports(service: dict) -> bool:
    spec = service.get("spec") or {}
    return not spec.get("ports") and spec.get("clusterIP") == "None"


def manages(service: dict) -> bool:
    """Both controllers leave alone Services without a selector (their Endpoints belong to
    the user, e.g. ``default/kubernetes``) and ExternalName Services (issues.k8s.io/105986).
    An empty selector counts as none: upstream's API drops an empty map (omitempty), so its
    controllers see a nil one."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def selects(service: dict, pod: dict) -> bool:
    """A Service's map selector (``labels.Set(selector)``) over pods of its namespace."""
    if service["metadata"].get("namespace") != pod["metadata"].get("namespace"):
        return False
    return selectors.matches_map((service.get("spec") or {}).get("selector"),
                                 pod["metadata"].get("labels"))


def selected_pods(service: dict, pods) -> list[dict]:
    return [p for p in pods if selects(service, p)]


# ---- pods -------------------------------------------------------------------------------------
def pod_ips(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def is_ipv6(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def should_pod_be_in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``: not terminal, has an IP, and (unless
    ``include_terminating``) not being deleted."""
    if is_terminal(pod) or not pod_ips(pod):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def should_set_hostname(pod: dict, service: dict) -> bool:
    """``ShouldSetHostname``: the pod names a hostname and this Service as its subdomain."""
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] \
        and pod["metadata"].get("namespace") == service["metadata"].get("namespace")


def find_port(pod: dict, service_port: dict) -> int | None:
    """``FindPort``: a numeric targetPort as is; a named one looked up among the containers'
    ports of the same protocol, then sidecars' (init containers with restartPolicy Always).
    ``None`` when the pod has no such port (the pod is left out of that port)."""
    target = service_port.get("targetPort")
    if target is None:
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in list(spec.get("containers") or []) + sidecars:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return port.get("containerPort")
    return None


def target_ref(pod: dict) -> dict:
    m = pod["metadata"]
    return {"kind": "Pod", "namespace": m.get("namespace"), "name": m["name"], "uid": m.get("uid")}


def endpoint_relevant(pod: dict | None) -> tuple:
    """What of a pod either controller's output depends on (upstream ``podEndpointsChanged``
    plus what ``FindPort`` reads): another value means the Services selecting it resync."""
    if pod is None:
        return ()
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    return (pod["metadata"].get("labels"), pod["metadata"].get("deletionTimestamp"),
            podutil.is_ready(pod), pod_ips(pod), spec.get("nodeName"), spec.get("hostname"),
            spec.get("subdomain"), status.get("phase"),
            [c.get("ports") for c in spec.get("containers") or []],
            [c.get("ports") for c in spec.get("initContainers") or []])


# ---- trigger times ----------------------------------------------------------------------------
def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def format_time(t: datetime) -> str:
    """RFC 3339 in UTC (upstream formats with RFC3339Nano; API times have whole seconds)."""
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class TriggerTimeTracker:
    """``TriggerTimeTracker``: per Service, the trigger time last seen for each of its pods
    (their Ready condition's lastTransitionTime) and for the Service itself (its
    creationTimestamp).  ``compute`` returns the earliest trigger time that is new since the
    previous call for that Service (``None`` when nothing changed), which the controllers
    write as the last-change-trigger-time annotation."""

    def __init__(self):
        self._states: dict[str, tuple[datetime | None, dict[str, datetime | None]]] = {}

    def compute(self, service: dict, pods: list[dict]) -> datetime | None:
        key = key_of(service)
        known = key in self._states
        old_service, old_pods = self._states.get(key, (None, {}))
        current = {p["metadata"]["name"]: _parse((podutil.ready_condition(p) or {})
                                                 .get("lastTransitionTime")) for p in pods}
        earliest = None

        def consider(t):
            nonlocal earliest
            if t is not None and (earliest is None or t < earliest):
                earliest = t
        for name, t in current.items():
            before = old_pods.get(name)
            if name not in old_pods or (t is not None and (before is None or t > before)):
                consider(t)
        service_time = _parse(service["metadata"].get("creationTimestamp"))
        if not known or (service_time is not None and
                         (old_service is None or service_time > old_service)):
            consider(service_time)
        self._states[key] = (service_time, current)
        return earliest

    def forget(self, key: str) -> None:
        self._states.pop(key, None)


def set_trigger_time(meta: dict, trigger: datetime | None) -> None:
    """Set the annotation to ``trigger``, or clear it when nothing new triggered this write."""
    annotations = dict(meta.get("annotations") or {})
    if trigger is not None:
        annotations[TRIGGER_TIME] = format_time(trigger)
    else:
        annotations.pop(TRIGGER_TIME, None)
    meta["annotations"] = annotations
