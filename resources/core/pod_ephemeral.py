"""``pods/<name>/ephemeralcontainers``: a write that may only add ephemeral containers.

Upstream ``podEphemeralContainersStrategy`` (kubernetes/kubernetes:pkg/registry/core/pod/strategy.go):
``dropNonEphemeralContainerUpdates`` keeps everything of the stored pod but
``spec.ephemeralContainers`` (and ``ResetObjectMetaForStatus`` keeps its labels, annotations,
finalizers, owner references, deletion timestamp and generation), then
``ValidatePodEphemeralContainersUpdate`` (pkg/apis/core/validation/validation.go) validates
the whole pod, refuses static pods, and lets existing ephemeral containers be neither
changed nor removed.  New ones meet ``validateEphemeralContainers``; its allow-list of fields
(no ports, probes, lifecycle, resources, resize or restart policy, no sub-paths) lives here.

The generic Store runs this through ``PodStrategy.prepare_for_update`` /
``validate_update`` with ``ctx.subresource == "ephemeralcontainers"``.
"""
from __future__ import annotations

import copy

from apiserver.runtime import errors

from .pod_validation import spec_diff, validate_pod_update

SUBRESOURCE = "ephemeralcontainers"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
FORBIDDEN_TEXT = "cannot be set for an Ephemeral Container"
# EphemeralContainerCommon fields outside upstream's allowedEphemeralContainerFields
DISALLOWED_FIELDS = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe",
                     "readinessProbe", "startupProbe", "lifecycle")
_RESET_META = ("labels", "annotations", "finalizers", "ownerReferences", "deletionTimestamp",
               "generation")


def keep_only_ephemeral_containers(new: dict, old: dict) -> None:
    """``dropNonEphemeralContainerUpdates`` in place: ``new`` becomes ``old`` with ``new``'s
    ``spec.ephemeralContainers``."""
    wanted = (new.get("spec") or {}).get("ephemeralContainers") if isinstance(new.get("spec"), dict) else None
    meta = new.setdefault("metadata", {})
    for key in [k for k in new if k != "metadata"]:
        del new[key]
    for key, value in old.items():
        if key != "metadata":
            new[key] = copy.deepcopy(value)
    spec = new.setdefault("spec", {})
    if wanted is None:
        spec.pop("ephemeralContainers", None)
    else:
        spec["ephemeralContainers"] = wanted
    old_meta = old.get("metadata") or {}
    for key in _RESET_META:
        if key in old_meta:
            meta[key] = copy.deepcopy(old_meta[key])
        else:
            meta.pop(key, None)


def validate_ephemeral_containers_update(new: dict, old: dict) -> list:
    """``ValidatePodEphemeralContainersUpdate``."""
    new_list = _containers(new)
    # the pod's own rules, against an old pod that already has the new list (so the
    # "pod updates may not change fields" rule does not fire for the list itself)
    baseline = {**old, "spec": {**(old.get("spec") or {}), "ephemeralContainers": new_list}}
    errs = validate_pod_update(new, baseline)
    for i, c in enumerate(new_list):
        errs += _allow_list(c, f"spec.ephemeralContainers[{i}]")
    if MIRROR_ANNOTATION in ((old.get("metadata") or {}).get("annotations") or {}):
        return [errors.forbidden("", "static pods do not support ephemeral containers")]
    by_name = {c.get("name"): c for c in new_list}
    for existing in _containers(old):
        name = existing.get("name")
        if name not in by_name:
            errs.append(errors.forbidden("spec.ephemeralContainers",
                                         f'existing ephemeral containers "{name}" may not be removed\n'))
        elif by_name[name] != existing:
            errs.append(errors.forbidden(
                f"spec.ephemeralContainers.{name}",
                f'existing ephemeral containers "{name}" may not be changed\n'
                + spec_diff(existing, by_name[name], path=name)))
    return errs


def _allow_list(container: dict, path: str) -> list:
    """``validateFieldAllowList``: a disallowed field that is set (not Go's zero value)."""
    errs = [errors.forbidden(f"{path}.{key}", FORBIDDEN_TEXT)
            for key in DISALLOWED_FIELDS if container.get(key) not in (None, "", {}, [])]
    for i, mount in enumerate(container.get("volumeMounts") or []):
        if isinstance(mount, dict):
            for key in ("subPath", "subPathExpr"):
                if mount.get(key):
                    errs.append(errors.forbidden(f"{path}.volumeMounts[{i}].{key}", FORBIDDEN_TEXT))
    return errs


def _containers(pod: dict) -> list:
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    items = spec.get("ephemeralContainers")
    return [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []
