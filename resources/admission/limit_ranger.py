"""LimitRanger (upstream kubernetes/kubernetes:plugin/pkg/admission/limitranger/admission.go,
kube-apiserver 1.32).

Every LimitRange of the request's namespace applies, in list order, to the CREATE of a Pod
and the CREATE or UPDATE of a PersistentVolumeClaim (subresources, pod updates and objects
already being deleted are left alone):

* mutating, Pods only: each container and init container gets the ``default`` limits and
  ``defaultRequest`` requests of the range's ``Container`` items for the resources it does
  not set, and the pod is annotated ``kubernetes.io/limit-ranger: LimitRanger plugin set:
  cpu, memory request for container c; cpu limit for init container i``;
* validating: ``Container`` items bound every container and init container, ``Pod`` items
  the pod's totals (containers summed; init containers by their maximum, restartable
  "sidecar" init containers counted with the containers), with ``min``, ``max`` and
  ``maxLimitRequestRatio``; ``PersistentVolumeClaim`` items bound ``spec.resources.requests``
  by ``min`` and ``max``.  The messages are upstream's (``maximum cpu usage per Container is
  500m, but limit is 1``); several failures of one range are joined as upstream's aggregate
  error (``[first, second]``).

Quantities are compared as upstream does: in thousandths rounded up (whole units rounded up
when a value is too large for that).  In-place resize and pod-level resources are alpha in
1.32 and not considered.
"""
from __future__ import annotations

import math
from fractions import Fraction

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors

from resources.admission.refusals import forbidden
from apiserver.runtime.quantity import Quantity, QuantityError, parse_quantity

ANNOTATION = "kubernetes.io/limit-ranger"
MAX_MILLI_VALUE = (2 ** 63 - 1) // 1000      # resource.MaxMilliValue


def _forbidden(attrs, message: str) -> errors.Forbidden:
    """Upstream ``admission.NewForbidden`` with the request's or the object's name (no
    generateName fallback: these plugins name what they were given)."""
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name") or ""
    return forbidden(attrs.resource, attrs.group, name, message)


def _aggregate(messages: list[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message alone, else the distinct ones
    in brackets."""
    distinct = list(dict.fromkeys(messages))
    return distinct[0] if len(distinct) == 1 else "[" + ", ".join(distinct) + "]"


def _dicts(value) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _quantities(mapping) -> dict:
    """A ResourceList as {name: Quantity}; values that do not parse are skipped (validation
    refuses them later)."""
    out = {}
    for key, value in (mapping or {}).items() if isinstance(mapping, dict) else ():
        try:
            out[key] = parse_quantity(value)
        except QuantityError:
            continue
    return out


def _ceil(value: Fraction) -> int:
    return math.ceil(value)


def _comparable(*quantities) -> list[int]:
    """Upstream ``requestLimitEnforcedValues``: milli-values when every one fits, else values;
    a missing quantity counts as zero."""
    values = [_ceil(q.value) if q is not None else 0 for q in quantities]
    if all(v <= MAX_MILLI_VALUE for v in values):
        values = [_ceil(q.value * 1000) if q is not None else 0 for q in quantities]
    return values


def min_constraint(kind, name, enforced, requests, limits) -> str:
    req, lim = requests.get(name), limits.get(name)
    r, li, e = _comparable(req, lim, enforced)
    if req is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if r < e:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {req}"
    if lim is not None and li < e:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {lim}"
    return ""


def max_request_constraint(kind, name, enforced, requests) -> str:
    req = requests.get(name)
    r, _, e = _comparable(req, None, enforced)
    if req is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No request is specified"
    if r > e:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req}"
    return ""


def max_constraint(kind, name, enforced, requests, limits) -> str:
    req, lim = requests.get(name), limits.get(name)
    r, li, e = _comparable(req, lim, enforced)
    if lim is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if li > e:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {lim}"
    if req is not None and r > e:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req}"
    return ""


def ratio_constraint(kind, name, enforced, requests, limits) -> str:
    req, lim = requests.get(name), limits.get(name)
    r, li, _ = _comparable(req, lim, enforced)
    if req is None or r == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no request "
                f"is specified or request is 0")
    if lim is None or li == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no limit "
                f"is specified or limit is 0")
    observed = shown = float(li) / float(r)
    allowed = float(_ceil(enforced.value))
    if _ceil(enforced.value) <= MAX_MILLI_VALUE:
        observed, allowed = observed * 1000, float(_ceil(enforced.value * 1000))
    if observed > allowed:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but provided "
                f"ratio is {shown:f}")
    return ""


def _bounds(item: dict, kind: str, requests: dict, limits: dict) -> list[str]:
    found = []
    for key, check in (("min", min_constraint), ("max", max_constraint),
                       ("maxLimitRequestRatio", ratio_constraint)):
        for name, enforced in _quantities(item.get(key)).items():
            found.append(check(kind, name, enforced, requests, limits))
    return [m for m in found if m]


def _resources(container: dict) -> tuple[dict, dict]:
    res = container.get("resources") if isinstance(container.get("resources"), dict) else {}
    return _quantities(res.get("requests")), _quantities(res.get("limits"))


def _add(total: dict, more: dict) -> None:
    for name, q in more.items():
        total[name] = Quantity(total[name].value + q.value, total[name].format) \
            if name in total else q


def _maximum(total: dict, more: dict) -> None:
    for name, q in more.items():
        if name not in total or q > total[name]:
            total[name] = q


def pod_totals(spec: dict, which: int) -> dict:
    """Upstream ``podRequests`` (``which`` 0) / ``podLimits`` (1): containers summed, then
    the larger of that and each init container (a restartable init container adds to the
    sum and to what later init containers run beside)."""
    total: dict = {}
    for c in _dicts(spec.get("containers")):
        _add(total, _resources(c)[which])
    sidecars: dict = {}
    init_max: dict = {}
    for c in _dicts(spec.get("initContainers")):
        own = _resources(c)[which]
        if c.get("restartPolicy") == "Always":
            _add(total, own)
            _add(sidecars, own)
            running = dict(sidecars)
        else:
            running = dict(own)
            _add(running, sidecars)
        _maximum(init_max, running)
    _maximum(total, init_max)
    return total


def validate_pod(limit_range: dict, pod: dict) -> list[str]:
    """Upstream ``PodValidateLimitFunc``."""
    spec = pod.get("spec") or {}
    found = []
    for item in _dicts((limit_range.get("spec") or {}).get("limits")):
        kind = item.get("type")
        if kind == "Container":
            for c in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
                found += _bounds(item, kind, *_resources(c))
        elif kind == "Pod":
            found += _bounds(item, kind, pod_totals(spec, 0), pod_totals(spec, 1))
    return found


def validate_claim(limit_range: dict, pvc: dict) -> list[str]:
    """Upstream ``PersistentVolumeClaimValidateLimitFunc``: requests only."""
    resources = (pvc.get("spec") or {}).get("resources") or {}
    requests = _quantities(resources.get("requests") if isinstance(resources, dict) else None)
    found = []
    for item in _dicts((limit_range.get("spec") or {}).get("limits")):
        if item.get("type") != "PersistentVolumeClaim":
            continue
        kind = item["type"]
        for name, enforced in _quantities(item.get("min")).items():
            found.append(min_constraint(kind, name, enforced, requests, {}))
        for name, enforced in _quantities(item.get("max")).items():
            found.append(max_request_constraint(kind, name, enforced, requests))
    return [m for m in found if m]


def default_pod(limit_range: dict, pod: dict) -> None:
    """Upstream ``PodMutateLimitFunc``: the range's container defaults, and the annotation
    saying what was set."""
    requests, limits = {}, {}
    for item in _dicts((limit_range.get("spec") or {}).get("limits")):
        if item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    spec = pod.get("spec") or {}
    notes = []
    for key, what in (("containers", "container"), ("initContainers", "init container")):
        for c in _dicts(spec.get(key)):
            res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
            set_requests = _fill(res, "requests", requests)
            set_limits = _fill(res, "limits", limits)
            if res:
                c["resources"] = res
            if set_requests:
                notes.append(", ".join(sorted(set_requests)) + f" request for {what} {c.get('name', '')}")
            if set_limits:
                notes.append(", ".join(sorted(set_limits)) + f" limit for {what} {c.get('name', '')}")
    if notes:
        meta = pod.setdefault("metadata", {})
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
        meta["annotations"] = annotations


def _fill(resources: dict, key: str, defaults: dict) -> list[str]:
    current = resources.get(key) if isinstance(resources.get(key), dict) else {}
    added = [name for name in defaults if name not in current]
    for name in added:
        current[name] = defaults[name]
    if current:
        resources[key] = current
    return added


class LimitRanger(Plugin, WantsStores):
    name = "LimitRanger"
    mutating = True
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    @staticmethod
    def _supports(attrs) -> bool:
        """Upstream ``SupportsAttributes``: Pods on create, claims on create and update."""
        if attrs.subresource or attrs.group != "" or not isinstance(attrs.obj, dict):
            return False
        if attrs.kind == "Pod":
            return attrs.operation == "CREATE"
        return attrs.kind == "PersistentVolumeClaim"

    def _ranges(self, attrs) -> list[dict]:
        if not self._supports(attrs):
            return []
        if ((attrs.old or {}).get("metadata") or {}).get("deletionTimestamp"):
            return []
        store = self.stores.store("", "v1", "limitranges")
        return [orjson.loads(doc) for doc in store.list(attrs.namespace)["items"]]

    def admit(self, attrs):
        if attrs.kind != "Pod":
            return
        for limit_range in self._ranges(attrs):
            default_pod(limit_range, attrs.obj)

    def validate(self, attrs):
        check = validate_pod if attrs.kind == "Pod" else validate_claim
        for limit_range in self._ranges(attrs):
            found = check(limit_range, attrs.obj)
            if found:
                raise _forbidden(attrs, _aggregate(found))
