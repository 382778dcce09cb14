"""Pod templates shared by the workload kinds: defaults, generic validation and printing.

Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs all embed a
``PodTemplateSpec``.  This module owns what they have in common:

* :func:`default_pod_spec` — upstream ``SetDefaults_PodSpec`` / ``SetDefaults_Container`` and
  the nested defaulters (ports, probes, volumes, env field refs) from
  ``pkg/apis/core/v1/defaults.go``.  Pod-only defaults (``enableServiceLinks``, requests from
  limits) are left to the Pod kind, as upstream keeps them in ``SetDefaults_Pod``.
* :func:`validate_pod_template` — the generic part of ``ValidatePodTemplateSpec``
  (``pkg/apis/core/validation``): template labels/annotations, containers, ports, volumes,
  restart/DNS/pull policies.  It is deliberately not the full Pod validation.
* the controller checks that several kinds repeat (``pkg/apis/apps/validation``): the selector
  must match the template labels, replicas and similar counters must be non-negative.
* Go ``%#v`` renderings of maps and label selectors, so messages read like kube-apiserver's.
* the ``Containers``/``Images``/``Selector`` cells of ``-o wide`` tables
  (``pkg/printers/internalversion/printers.go``).

May import: apiserver.runtime, apiserver.openapi and apiserver.registry (column types).
"""
from __future__ import annotations

import json

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.selectors import label_selector_from_dict, validate_label_selector
from apiserver.runtime.validation import (
    GoText, is_dns1123_label, is_valid_port_name, validate_annotations, validate_labels,
    validate_nonnegative,
)

# ---------------------------------------------------------------- defaults

_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_MODE_VOLUMES = ("configMap", "secret", "downwardAPI", "projected")


def _container_defaults(container: dict) -> None:
    """``SetDefaults_Container`` plus its nested ports, probes and env defaults."""
    if not isinstance(container, dict):
        return
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = "Always" if _image_tag(container.get("image") or "") == "latest" \
            else "IfNotPresent"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})      # a non-pointer struct: always serialised upstream
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for name in _PROBES:
        probe = container.get(name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            http = probe.get("httpGet")
            if isinstance(http, dict):
                http.setdefault("path", "/")
                http.setdefault("scheme", "HTTP")
    for env in container.get("env") or []:
        ref = (env or {}).get("valueFrom", {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")


def _image_tag(image: str) -> str:
    """The tag ``parsers.ParseImageName`` finds: "latest" when neither tag nor digest is given."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def default_pod_spec(spec: dict) -> dict:
    """Apply upstream ``SetDefaults_PodSpec`` and the nested defaulters to ``spec`` in place."""
    if not isinstance(spec, dict):
        return spec
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            _container_defaults(container)
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        if len(volume) == 1 and "name" in volume:     # SetDefaults_Volume: no source → emptyDir
            volume["emptyDir"] = {}
        for source in _MODE_VOLUMES:
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("hostPath"), dict):
            volume["hostPath"].setdefault("type", "")
    return spec


def default_pod_template(template: dict | None) -> None:
    """Defaults for a ``PodTemplateSpec``.  Go always serialises the template's (zero)
    ``metadata.creationTimestamp`` as ``null``, whichever encoding the client sent, so a
    stored template carries it too."""
    if isinstance(template, dict):
        meta = template.setdefault("metadata", {})
        if isinstance(meta, dict):
            meta.setdefault("creationTimestamp", None)
        default_pod_spec(template.setdefault("spec", {}))


# ---------------------------------------------------------------- Go renderings

def go_map(value) -> GoText:
    """Go ``%#v`` of a ``map[string]string``: ``map[string]string{"a":"1", "b":"2"}``."""
    if value is None:
        return GoText("map[string]string(nil)")
    items = ", ".join(f"{json.dumps(k)}:{json.dumps(str(v))}" for k, v in sorted(value.items()))
    return GoText("map[string]string{" + items + "}")


def _go_strings(values) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(json.dumps(str(v)) for v in values) + "}"


def go_label_selector(selector: dict | None) -> GoText:
    """Go ``%#v`` of a ``metav1.LabelSelector`` (upstream prints the dereferenced struct)."""
    if selector is None:
        return GoText("null")
    exprs = selector.get("matchExpressions")
    if exprs is None:
        shown = "[]v1.LabelSelectorRequirement(nil)"
    else:
        shown = "[]v1.LabelSelectorRequirement{" + ", ".join(
            f'v1.LabelSelectorRequirement{{Key:{json.dumps(e.get("key") or "")}, '
            f'Operator:{json.dumps(e.get("operator") or "")}, Values:{_go_strings(e.get("values"))}}}'
            for e in exprs) + "}"
    return GoText(f"v1.LabelSelector{{MatchLabels:{go_map(selector.get('matchLabels'))}, "
                  f"MatchExpressions:{shown}}}")


def go_int_or_string(value) -> GoText:
    """Go ``%#v`` of an ``intstr.IntOrString`` (Type 0 = int, 1 = string)."""
    if isinstance(value, str):
        return GoText(f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{json.dumps(value)}}}')
    return GoText(f'intstr.IntOrString{{Type:0, IntVal:{value}, StrVal:""}}')


# ---------------------------------------------------------------- controller checks

def validate_replicas(spec: dict, path: str = "spec.replicas", key: str = "replicas") -> list[FieldError]:
    value = spec.get(key)
    return validate_nonnegative(value, path) if isinstance(value, int) else []


def validate_selector(spec: dict, kind: str, path: str = "spec.selector", *,
                      required: bool = True) -> list[FieldError]:
    """Required (unless ``required`` is false, as for DaemonSets), valid and non-empty."""
    selector = spec.get("selector")
    if selector is None:
        return [errors.required(path)] if required else []
    errs = validate_label_selector(selector, path)
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errs.append(errors.invalid(path, go_label_selector(selector),
                                   f"empty selector is invalid for {kind}"))
    return errs


def selector_matches_template(selector: dict | None, template: dict,
                              path: str = "spec.template.metadata.labels") -> list[FieldError]:
    """```selector` does not match template `labels``` when the template would not be selected.

    An empty selector matches everything; a missing one matches nothing (upstream
    ``LabelSelectorAsSelector``).  A selector that does not parse is reported elsewhere."""
    try:
        parsed = label_selector_from_dict(selector)
    except errors.APIError:
        return []
    labels = (template.get("metadata") or {}).get("labels")
    if parsed.matches(labels or {}):
        return []
    return [errors.invalid(path, go_map(labels),
                           "`selector` does not match template `labels`")]


def validate_always_restart(template: dict, kind: str, path: str = "spec.template.spec") -> list[FieldError]:
    """Controllers that keep pods running need ``restartPolicy: Always`` and no deadline."""
    spec = template.get("spec") or {}
    errs = []
    if spec.get("restartPolicy") != "Always":
        errs.append(errors.not_supported(path + ".restartPolicy", spec.get("restartPolicy") or "",
                                         ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden(path + ".activeDeadlineSeconds",
                                     f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def validate_int_or_percent(value, path: str) -> list[FieldError]:
    """Upstream ``ValidatePositiveIntOrPercent`` + ``IsNotMoreThan100Percent``-free part."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return validate_nonnegative(value, path)
    if isinstance(value, str):
        if value[:-1].isdigit() and value.endswith("%") and value[:-1].isascii():
            return []
        return [errors.invalid(path, go_int_or_string(value),
                               "a valid percent string must be a numeric string followed by an "
                               "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                               "'[0-9]+%')")]
    return [errors.invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def int_or_percent_value(value) -> int:
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def validate_rolling_update(ru: dict, path: str, *, surge_key: str = "maxSurge") -> list[FieldError]:
    """maxUnavailable/maxSurge as int or percent, not both 0, maxUnavailable ≤ 100%."""
    unavailable, surge = ru.get("maxUnavailable"), ru.get(surge_key)
    errs = validate_int_or_percent(unavailable, path + ".maxUnavailable")
    errs += validate_int_or_percent(surge, path + "." + surge_key)
    if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
        errs.append(errors.invalid(path + ".maxUnavailable", go_int_or_string(unavailable or 0),
                                   "may not be 0 when `maxSurge` is 0"))
    if isinstance(unavailable, str) and int_or_percent_value(unavailable) > 100:
        errs.append(errors.invalid(path + ".maxUnavailable", go_int_or_string(unavailable),
                                   "must not be greater than 100%"))
    return errs


# ---------------------------------------------------------------- generic pod template checks

_PULL = ("Always", "IfNotPresent", "Never")
_RESTART = ("Always", "OnFailure", "Never")
_DNS = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_MESSAGE_POLICY = "must be 'File' or 'FallbackToLogsOnError'"


def validate_pod_template(template, path: str = "spec.template") -> list[FieldError]:
    """Generic ``ValidatePodTemplateSpec``: metadata, containers, volumes and policies."""
    if not isinstance(template, dict):
        return [errors.required(path)]
    meta = template.get("metadata") or {}
    errs = validate_labels(meta.get("labels"), path + ".metadata.labels")
    errs += validate_annotations(meta.get("annotations"), path + ".metadata.annotations")
    return errs + validate_pod_spec(template.get("spec") or {}, path + ".spec")


def validate_pod_spec(spec: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    volumes = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        name = (volume or {}).get("name") or ""
        p = f"{path}.volumes[{i}].name"
        if not name:
            errs.append(errors.required(p))
        else:
            errs += [errors.invalid(p, name, m) for m in is_dns1123_label(name)]
            if name in volumes:
                errs.append(errors.duplicate(p, name))
        volumes.add(name)
    names: set = set()
    errs += _validate_containers(spec.get("initContainers") or [], f"{path}.initContainers",
                                 volumes, names)
    containers = spec.get("containers") or []
    if not containers:
        errs.append(errors.required(path + ".containers"))
    errs += _validate_containers(containers, f"{path}.containers", volumes, names)
    errs += _one_of(spec.get("restartPolicy"), _RESTART, path + ".restartPolicy")
    errs += _one_of(spec.get("dnsPolicy"), _DNS, path + ".dnsPolicy")
    for key in ("terminationGracePeriodSeconds", "activeDeadlineSeconds"):
        value = spec.get(key)
        if isinstance(value, int) and value < (1 if key == "activeDeadlineSeconds" else 0):
            errs.append(errors.invalid(f"{path}.{key}", value, "must be greater than 0"
                                       if key == "activeDeadlineSeconds"
                                       else "must be greater than or equal to 0"))
    return errs


def _one_of(value, allowed, path: str) -> list[FieldError]:
    if not value:
        return [errors.required(path)]
    return [] if value in allowed else [errors.not_supported(path, value, allowed)]


def _validate_containers(containers: list, path: str, volumes: set, names: set) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ctr in enumerate(containers):
        p = f"{path}[{i}]"
        if not isinstance(ctr, dict):
            errs.append(errors.invalid(p, ctr, "must be an object"))
            continue
        name = ctr.get("name") or ""
        if not name:
            errs.append(errors.required(p + ".name"))
        else:
            errs += [errors.invalid(p + ".name", name, m) for m in is_dns1123_label(name)]
            if name in names:
                errs.append(errors.duplicate(p + ".name", name))
        names.add(name)
        if not ctr.get("image"):
            errs.append(errors.required(p + ".image"))
        errs += _one_of(ctr.get("imagePullPolicy"), _PULL, p + ".imagePullPolicy")
        policy = ctr.get("terminationMessagePolicy")
        if not policy:
            errs.append(errors.required(p + ".terminationMessagePolicy", _MESSAGE_POLICY))
        elif policy not in ("File", "FallbackToLogsOnError"):
            errs.append(errors.invalid(p + ".terminationMessagePolicy", policy, _MESSAGE_POLICY))
        errs += _validate_ports(ctr.get("ports") or [], p + ".ports")
        for j, mount in enumerate(ctr.get("volumeMounts") or []):
            mp = f"{p}.volumeMounts[{j}]"
            mname = (mount or {}).get("name") or ""
            if not mname:
                errs.append(errors.required(mp + ".name"))
            elif mname not in volumes:
                errs.append(FieldError("FieldValueNotFound", mp + ".name", mname))
            if not (mount or {}).get("mountPath"):
                errs.append(errors.required(mp + ".mountPath"))
    return errs


def _validate_ports(ports: list, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen = set()
    for i, port in enumerate(ports):
        p = f"{path}[{i}]"
        port = port if isinstance(port, dict) else {}
        name = port.get("name")
        if name:
            errs += [errors.invalid(p + ".name", name, m) for m in is_valid_port_name(name)]
            if name in seen:
                errs.append(errors.duplicate(p + ".name", name))
            seen.add(name)
        number = port.get("containerPort")
        if not number:
            errs.append(errors.required(p + ".containerPort"))
        elif not isinstance(number, int) or not 1 <= number <= 65535:
            errs.append(errors.invalid(p + ".containerPort", number,
                                       "must be between 1 and 65535, inclusive"))
        host = port.get("hostPort")
        if isinstance(host, int) and host != 0 and not 1 <= host <= 65535:
            errs.append(errors.invalid(p + ".hostPort", host, "must be between 1 and 65535, inclusive"))
        errs += _one_of(port.get("protocol"), _PROTOCOLS, p + ".protocol")
    return errs


# ---------------------------------------------------------------- printing

def container_cells(template: dict | None) -> tuple[str, str]:
    """Upstream ``layoutContainerCells``: names and images joined with commas."""
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return (",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers))


def format_selector(selector: dict | None) -> str:
    """Upstream ``metav1.FormatLabelSelector``: ``<none>`` when empty, ``<error>`` if bad."""
    try:
        text = label_selector_from_dict(selector).to_string()
    except errors.APIError:
        return "<error>"
    return text or "<none>"


def format_labels(labels: dict | None) -> str:
    """Upstream ``labels.FormatLabels``: ``k=v`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


# ---------------------------------------------------------------- table columns

def doc(definition: str, field: str) -> str:
    """A field's OpenAPI description, as upstream fills column descriptions (``SwaggerDoc``)."""
    from apiserver.openapi import definitions
    schema = definitions.get(definition) or {}
    return ((schema.get("properties") or {}).get(field) or {}).get("description", "")


def wide_columns(selector_doc: str | None = None) -> tuple:
    """The ``-o wide`` Containers, Images (and Selector) columns of the workload kinds."""
    from apiserver.registry.strategy import Column
    cols = (Column("Containers", priority=1, description="Names of each container in the template."),
            Column("Images", priority=1,
                   description="Images referenced by each container in the template."))
    if selector_doc is not None:
        cols += (Column("Selector", priority=1, description=selector_doc),)
    return cols
