"""Pod validation: the rules kubectl users meet most, with upstream paths and messages.

Not a full port of k8s.io/kubernetes ``pkg/apis/core/validation/validation.go``: it covers
``ValidatePodSpec``'s volumes, containers (names, image, ports, env, volume mounts, pull
policy, resources), restart/DNS policy, node and service-account names, deadlines and
tolerations, and ``ValidatePodUpdate``'s "only these fields may change" rule.
Errors come in upstream's order so the 422 message reads the same.

``validate_pod_spec`` is shared with pod templates (workload kinds pass their own path).
"""
from __future__ import annotations

import json

from apiserver.runtime import errors
from apiserver.runtime.quantity import QuantityError, parse_quantity
from apiserver.runtime.validation import (inclusive_range_error, is_dns1123_label,
                                          is_dns1123_subdomain, is_qualified_name,
                                          is_valid_port_name, validate_port_number)

MAX_INT32 = 2 ** 31 - 1
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROTOCOLS = ("SCTP", "TCP", "UDP")            # sets.List order (sorted)
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# ValidatePodUpdate's list, joined with "," exactly as 1.32 prints it
UPDATABLE_FIELDS = ",".join((
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
))


def validate_pod(pod: dict) -> list:
    """``ValidatePodCreate`` minus ObjectMeta (validated generically by the Store)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return [errors.required("spec.containers")]
    return validate_pod_spec(spec, "spec")


def validate_pod_spec(spec: dict, path: str) -> list:
    errs: list = []
    volumes = _validate_volumes(spec.get("volumes"), f"{path}.volumes", errs)
    names: set = set()
    containers = _list(spec.get("containers"))
    if not containers:
        errs.append(errors.required(f"{path}.containers"))
    for i, c in enumerate(containers):
        errs += _validate_container(c, volumes, f"{path}.containers[{i}]", names)
    for i, c in enumerate(_list(spec.get("initContainers"))):
        errs += _validate_container(c, volumes, f"{path}.initContainers[{i}]", names)
    errs += _enum(spec.get("restartPolicy"), RESTART_POLICIES, f"{path}.restartPolicy")
    errs += _enum(spec.get("dnsPolicy"), DNS_POLICIES, f"{path}.dnsPolicy")
    for key in ("serviceAccountName", "nodeName"):
        value = spec.get(key)
        if value:
            errs += [errors.invalid(f"{path}.{key}", value, m) for m in is_dns1123_subdomain(str(value))]
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and not 1 <= deadline <= MAX_INT32:
        errs.append(errors.invalid(f"{path}.activeDeadlineSeconds", deadline,
                                   inclusive_range_error(1, MAX_INT32)))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs += [errors.invalid(f"{path}.{key}", spec[key], m)
                     for m in is_dns1123_label(str(spec[key]))]
    errs += validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    return errs


def _validate_volumes(volumes, path: str, errs: list) -> set:
    """``ValidateVolumes``: names are required, DNS labels and unique.  Returns the names of
    the valid volumes (mounts may only refer to those)."""
    valid: set = set()
    for i, vol in enumerate(_list(volumes)):
        name_path = f"{path}[{i}].name"
        name = vol.get("name") or ""
        el = []
        if not name:
            el.append(errors.required(name_path))
        else:
            el += [errors.invalid(name_path, name, m) for m in is_dns1123_label(name)]
        if name in valid:
            el.append(errors.duplicate(name_path, name))
        if el:
            errs += el
        else:
            valid.add(name)
    return valid


def _validate_container(c: dict, volumes: set, path: str, names: set) -> list:
    """``validateContainerCommon`` + the uniqueness check of ``validateContainers``."""
    errs: list = []
    name = c.get("name") or ""
    if not name:
        errs.append(errors.required(f"{path}.name"))
    else:
        errs += [errors.invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    image = c.get("image")
    if not image:
        errs.append(errors.required(f"{path}.image"))
    elif isinstance(image, str) and image != image.strip():
        errs.append(errors.invalid(f"{path}.image", image,
                                   "must not have leading or trailing whitespace"))
    errs += _enum(c.get("terminationMessagePolicy"), TERMINATION_MESSAGE_POLICIES,
                  f"{path}.terminationMessagePolicy")
    errs += _validate_ports(c.get("ports"), f"{path}.ports")
    for i, env in enumerate(_list(c.get("env"))):
        if not env.get("name"):
            errs.append(errors.required(f"{path}.env[{i}].name"))
    errs += _validate_mounts(c.get("volumeMounts"), volumes, f"{path}.volumeMounts")
    errs += _enum(c.get("imagePullPolicy"), PULL_POLICIES, f"{path}.imagePullPolicy")
    errs += _validate_resources(c.get("resources"), f"{path}.resources")
    if name:
        if name in names:
            errs.append(errors.duplicate(f"{path}.name", name))
        names.add(name)
    return errs


def _validate_ports(ports, path: str) -> list:
    """``validateContainerPorts``."""
    errs: list = []
    seen: set = set()
    for i, port in enumerate(_list(ports)):
        p = f"{path}[{i}]"
        number = port.get("containerPort")
        if not number:
            errs.append(errors.required(f"{p}.containerPort"))
        elif isinstance(number, int):
            errs += validate_port_number(number, f"{p}.containerPort")
        if port.get("hostPort"):
            errs += validate_port_number(port["hostPort"], f"{p}.hostPort")
        name = port.get("name")
        if name:
            errs += [errors.invalid(f"{p}.name", name, m) for m in is_valid_port_name(name)]
            if name in seen:
                errs.append(errors.duplicate(f"{p}.name", name))
            seen.add(name)
        errs += _enum(port.get("protocol"), PROTOCOLS, f"{p}.protocol")
    return errs


def _validate_mounts(mounts, volumes: set, path: str) -> list:
    """``ValidateVolumeMounts``: a mount names an existing volume and a unique path."""
    errs: list = []
    points: set = set()
    for i, m in enumerate(_list(mounts)):
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
    """``ValidateResourceRequirements``: quantities parse; requests ≤ limits."""
    if not isinstance(resources, dict):
        return []
    errs: list = []
    parsed = {}
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


def validate_tolerations(tolerations, path: str) -> list:
    """``ValidateTolerations``: key, operator and effect."""
    errs: list = []
    for i, t in enumerate(_list(tolerations)):
        p = f"{path}[{i}]"
        key, op = t.get("key") or "", t.get("operator") or ""
        if key:
            errs += [errors.invalid(f"{p}.key", key, m) for m in is_qualified_name(key)]
        elif op != "Exists":
            errs.append(errors.invalid(f"{p}.operator", op,
                                       "operator must be Exists when `key` is empty, which "
                                       "means \"match all values and all keys\""))
        if op == "Exists" and t.get("value"):
            errs.append(errors.invalid(f"{p}.operator", t["value"],
                                       "value must be empty when `operator` is 'Exists'"))
        elif op not in ("", "Equal", "Exists"):
            errs.append(errors.not_supported(f"{p}.operator", op, TOLERATION_OPERATORS))
        effect = t.get("effect")
        if effect and effect not in TAINT_EFFECTS:
            errs.append(errors.not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return errs


# ---------------------------------------------------------------------------- update

def validate_pod_update(new: dict, old: dict) -> list:
    """``ValidatePodUpdate``: the spec of a pod may change only in the fields listed in
    ``UPDATABLE_FIELDS``; anything else is one Forbidden error on ``spec`` with a diff."""
    errs = validate_pod(new)
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    deadline_errs = _deadline_update(new_spec.get("activeDeadlineSeconds"),
                                     old_spec.get("activeDeadlineSeconds"))
    if deadline_errs:
        return errs + deadline_errs
    errs += _tolerations_update(new_spec.get("tolerations"), old_spec.get("tolerations"))
    munged = json.loads(json.dumps(old_spec))
    _copy_images(munged, new_spec, "containers")
    _copy_images(munged, new_spec, "initContainers")
    _set_or_drop(munged, "activeDeadlineSeconds", new_spec.get("activeDeadlineSeconds"))
    _set_or_drop(munged, "tolerations", new_spec.get("tolerations"))
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and new_spec.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = 1
    if munged != new_spec:
        errs.append(errors.forbidden(
            "spec", f"pod updates may not change fields other than {UPDATABLE_FIELDS}\n"
                    + spec_diff(munged, new_spec)))
    return errs


def _deadline_update(new, old) -> list:
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if isinstance(new, int) and not 0 <= new <= MAX_INT32:
            return [errors.invalid(path, new, inclusive_range_error(0, MAX_INT32))]
        if old is not None and isinstance(new, int) and old < new:
            return [errors.invalid(path, new, "must be less than or equal to previous value")]
    elif old is not None:
        return [errors.invalid(path, None, "must not update from a positive integer to nil value")]
    return []


def _tolerations_update(new, old) -> list:
    """``validateOnlyAddedTolerations``: every old toleration is still there (its
    ``tolerationSeconds`` may only shrink, for NoExecute)."""
    new = _list(new)
    errs = []
    for old_t in _list(old):
        def same(t, o=old_t):
            a = {k: v for k, v in t.items() if k != "tolerationSeconds"}
            b = {k: v for k, v in o.items() if k != "tolerationSeconds"}
            if a != b:
                return False
            if "tolerationSeconds" not in o:
                return "tolerationSeconds" not in t
            return t.get("tolerationSeconds") is not None and t["tolerationSeconds"] <= o["tolerationSeconds"]
        if not any(same(t) for t in new):
            errs.append(errors.forbidden("spec.tolerations", "existing toleration can not be "
                                         "modified except its tolerationSeconds"))
            break
    return errs


def _copy_images(munged: dict, new_spec: dict, key: str) -> None:
    old_list, new_list = _list(munged.get(key)), _list(new_spec.get(key))
    if len(old_list) != len(new_list):
        return
    for old_c, new_c in zip(old_list, new_list):
        if "image" in new_c:
            old_c["image"] = new_c["image"]


def _set_or_drop(spec: dict, key: str, value) -> None:
    if value is None:
        spec.pop(key, None)
    else:
        spec[key] = value


def spec_diff(old, new, path: str = "spec", limit: int = 20) -> str:
    """A short ``-``/``+`` listing of what differs (upstream prints a Go ``cmp.Diff``)."""
    lines: list[str] = []
    _diff(old, new, path, lines)
    if len(lines) > limit:
        lines = lines[:limit] + ["  ..."]
    return "\n".join(lines)


def _diff(a, b, path: str, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            _diff(a.get(key), b.get(key), f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        if a is not None:
            out.append(f"- {path}: {json.dumps(a, sort_keys=True)}")
        if b is not None:
            out.append(f"+ {path}: {json.dumps(b, sort_keys=True)}")


# ---------------------------------------------------------------------------- helpers

def _enum(value, allowed: tuple, path: str) -> list:
    """Required when empty, NotSupported when not one of ``allowed`` (upstream's switch)."""
    if value in allowed:
        return []
    if not value:
        return [errors.required(path)]
    return [errors.not_supported(path, value, allowed)]


def _list(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
