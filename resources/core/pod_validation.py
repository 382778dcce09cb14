"""Pod validation: the one pod-spec validator, for Pods and for every workload template.

Follows k8s.io/kubernetes ``pkg/apis/core/validation/validation.go``, with upstream's paths,
messages and order so a 422 reads the same:

* :func:`validate_pod_spec` — ``ValidatePodSpec``: volumes, the three container lists
  (:mod:`.pod_validation_containers`), host-network ports, restart/DNS policy, node
  selector, DNS config, service-account/node/priority-class names, deadline, hostname,
  subdomain and tolerations.  ``resource_is_pod`` is upstream's
  ``PodValidationOptions.ResourceIsPod``.
* :func:`validate_pod` — ``ValidatePodCreate`` minus ObjectMeta (the Store validates that):
  the spec with the Pod-only rules (``validatePodMetadataAndSpec``: image whitespace) and
  no ephemeral containers on create.
* :func:`validate_pod_template_spec` — ``ValidatePodTemplateSpec``: template labels and
  annotations, the spec under ``<path>.spec`` with the same rules as a Pod's, and no
  ephemeral containers.  ``resources.podtemplate.validate_pod_template`` calls it for every
  workload kind that validates its template (all but StatefulSet, as upstream).
* :func:`validate_pod_update` — ``ValidatePodUpdate``'s "only these fields may change".

Not a full port: security contexts, affinity, topology spread, volume sources and env
sources are not checked.

May import: apiserver.runtime.
"""
from __future__ import annotations

import json

from apiserver.runtime import errors
from apiserver.runtime.validation import (inclusive_range_error, is_dns1123_label,
                                          is_dns1123_subdomain, is_qualified_name,
                                          is_valid_label_value, validate_annotations,
                                          validate_labels)

from .pod_validation_containers import (_enum, validate_containers, validate_containers_only_for_pod,
                                        validate_ephemeral_containers, validate_init_containers)

MAX_INT32 = 2 ** 31 - 1
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
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
    errs = _validate_pod_metadata_and_spec(pod)
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    if spec.get("ephemeralContainers"):
        # only the ephemeralcontainers subresource may add them
        errs.append(errors.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(errors.forbidden("spec.nodeName",
                                     "cannot be set until all schedulingGates have been cleared"))
    return errs


def _validate_pod_metadata_and_spec(pod: dict) -> list:
    """``validatePodMetadataAndSpec`` minus ObjectMeta: the PodSpec rules, then the checks
    upstream applies to Pods only, "to preserve backwards compatibility" of templates."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return [errors.required("spec.containers")]
    errs = validate_pod_spec(spec, "spec", resource_is_pod=True)
    errs += validate_containers_only_for_pod(spec.get("containers"), "spec.containers")
    errs += validate_containers_only_for_pod(spec.get("initContainers"), "spec.initContainers")
    return errs


def validate_pod_template_spec(template: dict, path: str) -> list:
    """``ValidatePodTemplateSpec``: the template's labels and annotations (reported at
    ``<path>.labels`` / ``<path>.annotations``, as upstream), then its spec under
    ``<path>.spec`` with the PodSpec rules a Pod meets, and no ephemeral containers."""
    meta = template.get("metadata") if isinstance(template.get("metadata"), dict) else {}
    spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    errs = validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    errs += validate_pod_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        errs.append(errors.forbidden(f"{path}.spec.ephemeralContainers",
                                     "ephemeral containers not allowed in pod template"))
    return errs


def validate_pod_spec(spec: dict, path: str, *, resource_is_pod: bool = False) -> list:
    """``ValidatePodSpec``: the rules every PodSpec meets, a Pod's or a template's."""
    if not isinstance(spec, dict):
        spec = {}
    errs: list = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(errors.required(f"{path}.terminationGracePeriodSeconds"))
    volumes = _validate_volumes(spec.get("volumes"), f"{path}.volumes", errs)
    containers, inits = spec.get("containers"), spec.get("initContainers")
    errs += validate_containers(containers, volumes, f"{path}.containers")
    errs += validate_init_containers(inits, containers, volumes, f"{path}.initContainers")
    errs += validate_ephemeral_containers(spec.get("ephemeralContainers"), containers, inits,
                                          volumes, f"{path}.ephemeralContainers")
    errs += _validate_host_network_ports(spec, path, resource_is_pod)
    errs += _enum(spec.get("restartPolicy"), RESTART_POLICIES, f"{path}.restartPolicy")
    errs += _enum(spec.get("dnsPolicy"), DNS_POLICIES, f"{path}.dnsPolicy")
    if isinstance(spec.get("nodeSelector"), dict):
        errs += validate_labels(spec["nodeSelector"], f"{path}.nodeSelector")
    if spec.get("dnsPolicy") == "None" and not (spec.get("dnsConfig") or {}).get("nameservers"):
        errs.append(_dns_none_error(spec.get("dnsConfig"), f"{path}.dnsConfig"))
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
    if spec.get("priorityClassName"):
        name = spec["priorityClassName"]
        errs += [errors.invalid(f"{path}.priorityClassName", name, m)
                 for m in is_dns1123_subdomain(str(name))]
    return errs


def _validate_host_network_ports(spec: dict, path: str, resource_is_pod: bool) -> list:
    """``validatePodHostNetworkDeps``: with ``hostNetwork`` a container's host port is its
    container port.  A template may leave it 0 (the Pod's defaults fill it in)."""
    if spec.get("hostNetwork") is not True:
        return []
    errs: list = []
    for i, c in enumerate(spec.get("containers") if isinstance(spec.get("containers"), list) else []):
        ports = c.get("ports") if isinstance(c, dict) else None
        for j, port in enumerate(ports if isinstance(ports, list) else []):
            if not isinstance(port, dict):
                continue
            host, container = port.get("hostPort") or 0, port.get("containerPort") or 0
            if (resource_is_pod or host != 0) and host != container:
                errs.append(errors.invalid(f"{path}.containers[{i}].ports[{j}].hostPort", host,
                                           "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _dns_none_error(config, path: str):
    """``validatePodDNSConfig`` with ``dnsPolicy: None``: a config with a nameserver."""
    if not isinstance(config, dict):
        return errors.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")
    return errors.required(f"{path}.nameservers",
                           "must provide at least one DNS nameserver when `dnsPolicy` is None")


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


def validate_tolerations(tolerations, path: str) -> list:
    """``ValidateTolerations``: key, operator/value, ``tolerationSeconds`` and effect."""
    errs: list = []
    for i, t in enumerate(_list(tolerations)):
        p = f"{path}[{i}]"
        key, op = t.get("key") or "", t.get("operator") or ""
        value, effect = t.get("value") or "", t.get("effect") or ""
        if key:
            errs += [errors.invalid(f"{p}.key", key, m) for m in is_qualified_name(str(key))]
        elif op != "Exists":
            errs.append(errors.invalid(f"{p}.operator", op,
                                       "operator must be Exists when `key` is empty, which "
                                       "means \"match all values and all keys\""))
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(errors.invalid(f"{p}.effect", effect,
                                       "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("", "Equal"):
            messages = is_valid_label_value(str(value))
            if messages:
                errs.append(errors.invalid(f"{p}.operator", value, ";".join(messages)))
        elif op == "Exists":
            if value:
                errs.append(errors.invalid(f"{p}.operator", value,
                                           "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(errors.not_supported(f"{p}.operator", op, TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(errors.not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return errs


# ---------------------------------------------------------------------------- update

def validate_pod_update(new: dict, old: dict) -> list:
    """``ValidatePodUpdate``: the spec of a pod may change only in the fields listed in
    ``UPDATABLE_FIELDS``; anything else is one Forbidden error on ``spec`` with a diff."""
    errs = _validate_pod_metadata_and_spec(new)
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

def _list(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
