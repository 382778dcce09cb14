"""Pod API defaults and the QoS class, on plain JSON dicts.

Mirrors k8s.io/kubernetes ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Pod``,
``SetDefaults_PodSpec``, ``SetDefaults_Container``, ``SetDefaults_Probe``,
``SetDefaults_*VolumeSource``) and ``pkg/apis/core/v1/helper/qos/qos.go`` (``GetPodQOS``).
Every function is idempotent: the Store re-runs defaults on every update and compares.

Also used by pod templates (workloads), so nothing here assumes a whole Pod except
:func:`default_pod` and :func:`qos_class`.
"""
from __future__ import annotations

from apiserver.runtime.quantity import QuantityError, parse_quantity

DEFAULT_TERMINATION_GRACE = 30
DEFAULT_MODE = 0o644            # 420: Secret/ConfigMap/projected/downwardAPI volume files
QOS_RESOURCES = ("cpu", "memory")


def default_pod(pod: dict) -> None:
    """``SetDefaults_Pod`` + ``SetDefaults_PodSpec`` and everything nested."""
    spec = pod.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


def default_pod_spec(spec: dict) -> None:
    """Defaults of a PodSpec (also a template's spec)."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE
    spec.setdefault("schedulerName", "default-scheduler")
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            default_container(container, host_network=host_network,
                              requests_from_limits=key != "ephemeralContainers")
    for volume in _dicts(spec.get("volumes")):
        default_volume(volume)


def default_container(c: dict, *, host_network: bool = False,
                      requests_from_limits: bool = True) -> None:
    """``SetDefaults_Container`` (+ the per-container parts of ``SetDefaults_Pod``)."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(c.get("image"))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}           # Go prints the empty struct: `resources: {}`
    res = c["resources"]
    limits = res.get("limits")
    if requests_from_limits and isinstance(limits, dict) and limits:
        # upstream: "if limits are specified, but requests are not, default requests to limits"
        requests = res.setdefault("requests", {})
        if isinstance(requests, dict):
            for name, value in limits.items():
                requests.setdefault(name, value)
    for port in _dicts(c.get("ports")):
        port.setdefault("protocol", "TCP")
        if host_network and not port.get("hostPort") and port.get("containerPort"):
            # defaultHostNetworkPorts: with hostNetwork the host port is the container port
            port["hostPort"] = port["containerPort"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            default_probe(c[probe])
    for hook in ("postStart", "preStop"):
        handler = (c.get("lifecycle") or {}).get(hook) if isinstance(c.get("lifecycle"), dict) else None
        if isinstance(handler, dict):
            _default_http_get(handler.get("httpGet"))
    for env in _dicts(c.get("env")):
        ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env.get("valueFrom"), dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")      # SetDefaults_ObjectFieldSelector


def default_probe(probe: dict) -> None:
    """``SetDefaults_Probe`` and its HTTPGet handler."""
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    _default_http_get(probe.get("httpGet"))


def _default_http_get(action) -> None:
    if isinstance(action, dict):
        action.setdefault("path", "/")
        action.setdefault("scheme", "HTTP")


def default_volume(volume: dict) -> None:
    """``SetDefaults_Volume`` (no source → emptyDir) and the file-mode defaults."""
    sources = [k for k in volume if k != "name"]
    if not sources:
        volume["emptyDir"] = {}
    for key in ("secret", "configMap", "projected", "downwardAPI"):
        src = volume.get(key)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = DEFAULT_MODE
    for item in _dicts((volume.get("downwardAPI") or {}).get("items")
                       if isinstance(volume.get("downwardAPI"), dict) else None):
        if isinstance(item.get("fieldRef"), dict):
            item["fieldRef"].setdefault("apiVersion", "v1")
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")


def image_pull_policy(image) -> str:
    """``Always`` for ``:latest`` or an untagged image without digest, else ``IfNotPresent``
    (upstream parses the reference with ``parsers.ParseImageName``)."""
    if not isinstance(image, str) or not image:
        return "IfNotPresent"       # unparsable reference: upstream's tag is "" then
    name, digest = image, ""
    if "@" in image:
        name, digest = image.split("@", 1)
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def qos_class(pod: dict) -> str:
    """``GetPodQOS``: BestEffort (no cpu/memory requests or limits anywhere), Guaranteed
    (every container limits cpu and memory, and requests equal limits), else Burstable."""
    spec = pod.get("spec") or {}
    requests: dict = {}
    limits: dict = {}
    guaranteed = True
    containers = _dicts(spec.get("containers")) + _dicts(spec.get("initContainers"))
    for c in containers:
        res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        for name, q in _quantities(res.get("requests")).items():
            if name in QOS_RESOURCES and q.value != 0:
                requests[name] = requests.get(name, 0) + q.value
        seen = set()
        for name, q in _quantities(res.get("limits")).items():
            if name in QOS_RESOURCES and q.value != 0:
                seen.add(name)
                limits[name] = limits.get(name, 0) + q.value
        if not set(QOS_RESOURCES) <= seen:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _quantities(values) -> dict:
    out = {}
    for name, text in (values or {}).items() if isinstance(values, dict) else ():
        try:
            out[name] = parse_quantity(text)
        except (QuantityError, TypeError):
            continue        # validation reports it
    return out


def _dicts(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
