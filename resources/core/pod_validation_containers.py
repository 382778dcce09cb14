"""Pod validation, the container half: the rules every container list of a PodSpec meets.

Part of the one pod-spec validator (:mod:`resources.core.pod_validation` calls these for a
Pod's spec and for every workload template's spec alike).  Follows k8s.io/kubernetes
``pkg/apis/core/validation/validation.go``: ``validateContainers``, ``validateInitContainers``,
``validateEphemeralContainers``, ``validateContainerCommon`` (name, image, termination message
policy, ports, env, volume mounts, pull policy, resources), ``validateContainerPorts``,
``ValidateVolumeMounts``, ``ValidateResourceRequirements``, the probe and lifecycle handler
checks and ``checkHostPortConflicts``, with upstream's paths, messages and order.
``validate_containers_only_for_pod`` is upstream's ``validateContainersOnlyForPod``: what a
Pod gets and a template does not.

May import: apiserver.runtime.
"""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.quantity import QuantityError, parse_quantity
from apiserver.runtime.validation import (is_dns1123_label, is_valid_port_name,
                                          validate_nonnegative, validate_port_number)

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROTOCOLS = ("SCTP", "TCP", "UDP")            # sets.List order (sorted)
HTTP_SCHEMES = ("HTTP", "HTTPS")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_INIT_FORBIDDEN = "may not be set for init containers without restartPolicy=Always"


def validate_containers(containers, volumes: set, path: str) -> list:
    """``validateContainers``: at least one; common checks; names unique among themselves;
    probes and hooks; no container-level ``restartPolicy``; host ports do not collide."""
    items = _indexed(containers)
    if not items:
        return [errors.required(path)]
    errs: list = []
    names: set = set()
    for i, c in items:
        p = f"{path}[{i}]"
        errs += validate_container_common(c, volumes, p)
        name = c.get("name") or ""
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        else:
            names.add(name)
        errs += _validate_lifecycle_and_probes(c, p)
        if c.get("restartPolicy") is not None:
            errs.append(errors.forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    errs += _host_port_conflicts(items, path)
    return errs


def validate_init_containers(inits, regular, volumes: set, path: str) -> list:
    """``validateInitContainers``: names unique across regular and init containers; only
    restartable (sidecar, ``restartPolicy: Always``) init containers may have probes/hooks."""
    errs: list = []
    names = {c.get("name") or "" for _, c in _indexed(regular)}
    for i, c in _indexed(inits):
        p = f"{path}[{i}]"
        errs += validate_container_common(c, volumes, p)
        policy = c.get("restartPolicy")
        if policy is not None and policy != "Always":
            errs.append(errors.not_supported(f"{p}.restartPolicy", policy, ["Always"]))
        name = c.get("name") or ""
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        elif name:
            names.add(name)
        errs += _host_port_conflicts([(i, c)], path)
        if policy == "Always":
            errs += _validate_lifecycle_and_probes(c, p)
        else:
            for key in ("lifecycle",) + PROBES:
                if c.get(key) is not None:
                    errs.append(errors.forbidden(f"{p}.{key}", _INIT_FORBIDDEN))
    return errs


def validate_ephemeral_containers(ephemeral, regular, inits, volumes: set, path: str) -> list:
    """``validateEphemeralContainers`` (common checks, the image rule of a Pod, unique names,
    an existing target).  Templates and new Pods reject the list as a whole elsewhere."""
    errs: list = []
    others = {c.get("name") or "" for _, c in _indexed(regular) + _indexed(inits)}
    names = set(others)
    for i, c in _indexed(ephemeral):
        p = f"{path}[{i}]"
        errs += validate_container_common(c, volumes, p)
        errs += validate_container_only_for_pod(c, p)
        name = c.get("name") or ""
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        else:
            names.add(name)
        target = c.get("targetContainerName")
        if target and target not in others:
            errs.append(errors.FieldError("FieldValueNotFound", f"{p}.targetContainerName", target))
    return errs


def validate_container_common(c: dict, volumes: set, path: str) -> list:
    """``validateContainerCommon``: what every container type meets."""
    errs: list = []
    name = c.get("name") or ""
    if not name:
        errs.append(errors.required(f"{path}.name"))
    else:
        errs += [errors.invalid(f"{path}.name", name, m) for m in is_dns1123_label(str(name))]
    # upstream leaves whitespace to the Pod (validateContainerOnlyForPod): " " is a special
    # image token in some pod templates
    if not c.get("image"):
        errs.append(errors.required(f"{path}.image"))
    errs += _enum(c.get("terminationMessagePolicy"), TERMINATION_MESSAGE_POLICIES,
                  f"{path}.terminationMessagePolicy")
    errs += _validate_ports(c.get("ports"), f"{path}.ports")
    for i, env in _indexed(c.get("env")):
        if not env.get("name"):
            errs.append(errors.required(f"{path}.env[{i}].name"))
    errs += _validate_mounts(c.get("volumeMounts"), volumes, f"{path}.volumeMounts")
    errs += _enum(c.get("imagePullPolicy"), PULL_POLICIES, f"{path}.imagePullPolicy")
    errs += _validate_resources(c.get("resources"), f"{path}.resources")
    return errs


def validate_containers_only_for_pod(containers, path: str) -> list:
    """``validateContainersOnlyForPod``: checks a Pod's containers get and a template's not."""
    errs: list = []
    for i, c in _indexed(containers):
        errs += validate_container_only_for_pod(c, f"{path}[{i}]")
    return errs


def validate_container_only_for_pod(c: dict, path: str) -> list:
    image = c.get("image")
    if isinstance(image, str) and image != image.strip():
        return [errors.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")]
    return []


def _validate_ports(ports, path: str) -> list:
    """``validateContainerPorts``: name (IANA_SVC_NAME, unique), containerPort, hostPort,
    protocol, in that order."""
    errs: list = []
    seen: set = set()
    for i, port in _indexed(ports):
        p = f"{path}[{i}]"
        name = port.get("name")
        if name:
            messages = is_valid_port_name(str(name))
            if messages:
                errs += [errors.invalid(f"{p}.name", name, m) for m in messages]
            elif name in seen:
                errs.append(errors.duplicate(f"{p}.name", name))
            else:
                seen.add(name)
        number = port.get("containerPort")
        if not number:
            errs.append(errors.required(f"{p}.containerPort"))
        elif isinstance(number, int):
            errs += validate_port_number(number, f"{p}.containerPort")
        if isinstance(port.get("hostPort"), int) and port["hostPort"]:
            errs += validate_port_number(port["hostPort"], f"{p}.hostPort")
        errs += _enum(port.get("protocol"), PROTOCOLS, f"{p}.protocol")
    return errs


def _host_port_conflicts(items: list, path: str) -> list:
    """``checkHostPortConflicts``: one ``protocol/hostIP/hostPort`` per pod."""
    errs: list = []
    seen: set = set()
    for i, c in items:
        for j, port in _indexed(c.get("ports")):
            host = port.get("hostPort")
            if not host:
                continue
            key = f"{port.get('protocol') or ''}/{port.get('hostIP') or ''}/{host}"
            if key in seen:
                errs.append(errors.duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
            seen.add(key)
    return errs


def _validate_mounts(mounts, volumes: set, path: str) -> list:
    """``ValidateVolumeMounts``: a mount names an existing volume and a unique path."""
    errs: list = []
    points: set = set()
    for i, m in _indexed(mounts):
        p = f"{path}[{i}]"
        name = m.get("name") or ""
        if not name:
            errs.append(errors.required(f"{p}.name"))
        if name not in volumes:
            errs.append(errors.FieldError("FieldValueNotFound", f"{p}.name", name))
        mount_path = m.get("mountPath") or ""
        if not mount_path:
            errs.append(errors.required(f"{p}.mountPath"))
        if mount_path in points:
            errs.append(errors.invalid(f"{p}.mountPath", mount_path, "must be unique"))
        points.add(mount_path)
    return errs


def _validate_resources(resources, path: str) -> list:
    """``ValidateResourceRequirements``: quantities parse and are not negative; requests ≤ limits."""
    if not isinstance(resources, dict):
        return []
    errs: list = []
    parsed: dict = {}
    for kind in ("limits", "requests"):
        values = resources.get(kind)
        parsed[kind] = {}
        for name in sorted(values or {}) if isinstance(values, dict) else ():
            try:
                q = parse_quantity(values[name])
            except (QuantityError, TypeError) as exc:
                errs.append(errors.invalid(f"{path}.{kind}[{name}]", values[name], str(exc)))
                continue
            if q.value < 0:
                errs.append(errors.invalid(f"{path}.{kind}[{name}]", str(q),
                                           "must be greater than or equal to 0"))
            parsed[kind][name] = q
    for name, q in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and q.value > limit.value:
            errs.append(errors.invalid(f"{path}.requests", str(q),
                                       f"must be less than or equal to {name} limit of {limit}"))
    return errs


# ---------------------------------------------------------------- probes and lifecycle hooks

def _validate_lifecycle_and_probes(c: dict, path: str) -> list:
    """``validateLifecycle`` and ``validateLivenessProbe``/``Readiness``/``Startup``."""
    errs: list = []
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                errs += _validate_handler(lifecycle[hook], f"{path}.lifecycle.{hook}",
                                          ("exec", "httpGet", "tcpSocket", "sleep"))
    for key in PROBES:
        probe = c.get(key)
        if not isinstance(probe, dict):
            continue
        p = f"{path}.{key}"
        errs += _validate_handler(probe, p, ("exec", "httpGet", "tcpSocket", "grpc"))
        for name in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                     "successThreshold", "failureThreshold"):
            if isinstance(probe.get(name), int):
                errs += validate_nonnegative(probe[name], f"{p}.{name}")
        grace = probe.get("terminationGracePeriodSeconds")
        if isinstance(grace, int) and grace <= 0:
            errs.append(errors.invalid(f"{p}.terminationGracePeriodSeconds", grace,
                                       "must be greater than 0"))
        if key == "readinessProbe":
            if grace is not None:
                errs.append(errors.invalid(f"{p}.terminationGracePeriodSeconds", grace,
                                           "must not be set for readinessProbes"))
        elif probe.get("successThreshold") not in (None, 1):
            errs.append(errors.invalid(f"{p}.successThreshold", probe["successThreshold"], "must be 1"))
    return errs


def _validate_handler(handler: dict, path: str, kinds: tuple) -> list:
    """``validateHandler``: exactly one handler type, each well formed."""
    errs: list = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        if count:
            errs.append(errors.forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = action if isinstance(action, dict) else {}
        p = f"{path}.{kind}"
        if kind == "exec" and not action.get("command"):
            errs.append(errors.required(f"{p}.command"))
        elif kind == "httpGet":
            if not action.get("path"):
                errs.append(errors.required(f"{p}.path"))
            errs += _port_num_or_name(action.get("port"), f"{p}.port")
            scheme = action.get("scheme")
            if scheme not in HTTP_SCHEMES:
                errs.append(errors.not_supported(f"{p}.scheme", scheme or "", HTTP_SCHEMES))
        elif kind in ("tcpSocket", "grpc"):
            errs += _port_num_or_name(action.get("port"), f"{p}.port")
    if not count:
        errs.append(errors.required(path, "must specify a handler type"))
    return errs


def _port_num_or_name(port, path: str) -> list:
    """``ValidatePortNumOrName`` of an IntOrString port."""
    if isinstance(port, str):
        return [errors.invalid(path, port, m) for m in is_valid_port_name(port)]
    if isinstance(port, int) and not isinstance(port, bool):
        return validate_port_number(port, path)
    return validate_port_number(0, path)


# ---------------------------------------------------------------- helpers

def _enum(value, allowed: tuple, path: str) -> list:
    """Required when empty, NotSupported when not one of ``allowed`` (upstream's switch)."""
    if value in allowed:
        return []
    if not value:
        return [errors.required(path)]
    return [errors.not_supported(path, value, allowed)]


def _indexed(values) -> list:
    """``(index, item)`` for the object items of a list, keeping the original indexes."""
    return [(i, v) for i, v in enumerate(values) if isinstance(v, dict)] if isinstance(values, list) else []
