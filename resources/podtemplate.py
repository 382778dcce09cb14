"""Pod templates in the workload kinds: the template/controller-specific parts only.

Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs all embed a
``PodTemplateSpec``.  Its pod spec is defaulted and validated by the one pod-spec library the
Pod kind uses, so a template is refused exactly when the Pods it stamps out would be:

* :func:`default_pod_template` / :func:`default_pod_spec` — ``SetDefaults_PodSpec`` and the
  nested defaulters from :mod:`resources.core.pod_defaults` (upstream runs the same
  defaulters on a template, ``pkg/apis/apps/v1/zz_generated.defaults.go``).  The Pod-only
  ``SetDefaults_Pod`` part (``enableServiceLinks``, requests from limits, host ports under
  ``hostNetwork``) stays with the Pod kind, as upstream.
* :func:`validate_pod_template` / :func:`validate_pod_spec` — upstream
  ``ValidatePodTemplateSpec`` from :mod:`resources.core.pod_validation`: template labels and
  annotations, then ``ValidatePodSpec`` under ``spec.template.spec``.

What stays here is what only controllers need:

* the controller checks that several kinds repeat (``pkg/apis/apps/validation``): the selector
  must match the template labels, replicas and similar counters must be non-negative,
  ``restartPolicy: Always`` for long-running pods, rolling-update parameters.
* Go ``%#v`` renderings of maps and label selectors, so messages read like kube-apiserver's.
* the ``Containers``/``Images``/``Selector`` cells and columns of ``-o wide`` tables
  (``pkg/printers/internalversion/printers.go``).  Column descriptions come from
  :func:`resources.core.columns.doc` (re-exported as :func:`doc`).

May import: apiserver.runtime, apiserver.registry (column types), resources.core.
"""
from __future__ import annotations

import json

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.selectors import label_selector_from_dict, validate_label_selector
from apiserver.runtime.validation import GoText, validate_nonnegative
from resources.core import pod_validation
from resources.core.columns import doc  # noqa: F401  (the one doc helper; workloads call pt.doc)
from resources.core.pod_defaults import default_pod_spec  # noqa: F401  (re-exported)

# ---------------------------------------------------------------- defaults

def default_pod_template(template: dict | None) -> None:
    """Defaults for a ``PodTemplateSpec``: the PodSpec defaults every Pod gets too.  Go always
    serialises the template's (zero) ``metadata.creationTimestamp`` as ``null``, whichever
    encoding the client sent, so a stored template carries it too."""
    if isinstance(template, dict):
        meta = template.setdefault("metadata", {})
        if isinstance(meta, dict):
            meta.setdefault("creationTimestamp", None)
        spec = template.get("spec")
        if spec is None:
            spec = template["spec"] = {}
        default_pod_spec(spec)


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


# ---------------------------------------------------------------- the template's pod spec

def validate_pod_template(template, path: str = "spec.template") -> list[FieldError]:
    """Upstream ``ValidatePodTemplateSpec`` (kubernetes/kubernetes:
    pkg/apis/core/validation/validation.go), as ``ValidateDeploymentSpec``,
    ``ValidateReplicaSetSpec``, ``ValidateDaemonSetSpec`` and ``validateJobSpec`` call it: the
    template's labels and annotations, then the Pod rules for its spec under ``<path>.spec``.
    The kind-specific rules (restart policy, deadlines, selector) are the caller's."""
    if not isinstance(template, dict):
        return [errors.required(path)]
    return pod_validation.validate_pod_template_spec(template, path)


def validate_pod_spec(spec: dict, path: str) -> list[FieldError]:
    """``ValidatePodSpec`` for a PodSpec embedded in another object (not a Pod)."""
    return pod_validation.validate_pod_spec(spec, path, resource_is_pod=False)


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

def wide_columns(selector_doc: str | None = None) -> tuple:
    """The ``-o wide`` Containers, Images (and Selector) columns of the workload kinds."""
    from apiserver.registry.strategy import Column
    cols = (Column("Containers", priority=1, description="Names of each container in the template."),
            Column("Images", priority=1,
                   description="Images referenced by each container in the template."))
    if selector_doc is not None:
        cols += (Column("Selector", priority=1, description=selector_doc),)
    return cols
