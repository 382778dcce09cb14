"""What each object adds to a ResourceQuota's usage, and which quotas cover it: the client-side
evaluators of the resourcequota controller (workers/controllers/resourcequota.py).

Upstream: pkg/quota/v1/evaluator/core/pods.go (``PodUsageFunc``, ``QuotaV1Pod``,
``podMatchesScopeFunc``), services.go, persistent_volume_claims.go, registry.go (the object
counts of configmaps, secrets, replicationcontrollers, resourcequotas) and
staging/src/k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go (``count/<resource>.<group>``,
``CalculateUsageStats``) with pkg/quota/v1/resources.go (``CalculateUsage``).

The server's ResourceQuota admission plugin charges creates with its own evaluators
(resources/quota/evaluators.py); workers may not import server code (tests/test_layering.py),
so the counting rules are written here a second time, for whole namespaces, and
tests/workers/controllers/test_resourcequota.py checks the two agree on every object a create
can charge.  Where upstream's controller differs from a create (``count/pods`` keeps counting
terminal pods; a pod stuck past its deletion grace period is no longer charged), this module
follows upstream.

Amounts are exact ``Fraction``s; ``format_like`` prints them in the format of the quota's hard
value, as the admission plugin does, so the two writers never disagree on a string.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from fractions import Fraction

# ---- quantities (k8s.io/apimachinery pkg/api/resource) ------------------------------------
_QUANTITY = re.compile(r"^([+-]?[0-9]*\.?[0-9]*)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {e: s for s, e in _DEC.items()}
_BIN = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_EXP = {e: s for s, e in _BIN.items()}
_NANO = 10 ** 9


def _split(text) -> tuple[Fraction, str] | None:
    """(amount, format) of a quantity string, or None when it does not parse."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        text = repr(text)
    m = _QUANTITY.match(str(text).strip()) if text is not None else None
    if not m or m.group(1) in ("", "+", "-", "."):
        return None
    number, suffix = m.groups()
    try:
        amount = Fraction(number)
    except ValueError:
        return None
    if suffix in _DEC:
        amount, fmt = amount * Fraction(10) ** _DEC[suffix], "DecimalSI"
    elif suffix in _BIN:
        amount, fmt = amount * 2 ** _BIN[suffix], "BinarySI"
    elif len(suffix) > 1 and suffix[0] in "eE":
        try:
            amount, fmt = amount * Fraction(10) ** int(suffix[1:]), "DecimalExponent"
        except ValueError:
            return None
    else:
        return None
    scaled = amount * _NANO            # sub-nano precision rounds up, away from zero
    if scaled.denominator != 1:
        sign = -1 if scaled < 0 else 1
        amount = Fraction(sign * -(-abs(scaled.numerator) // scaled.denominator), _NANO)
    return amount, fmt


def parse(text) -> Fraction:
    """A quantity's exact amount; what does not parse counts as 0 (the server validated)."""
    found = _split(text)
    return found[0] if found else Fraction(0)


def _canonical(value: Fraction, fmt: str) -> str:
    """Upstream ``CanonicalizeBytes``: the shortest mantissa with a suffix of ``fmt``."""
    if value == 0:
        return "0"
    if fmt == "BinarySI" and (-1024 < value < 1024 or value.denominator != 1):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        amount, exp = int(value), 0
        while abs(amount) >= 1024 and amount % 1024 == 0 and exp < 60:
            amount //= 1024
            exp += 10
        return f"{amount}{_BIN_BY_EXP.get(exp, '')}"
    amount, exp = int(value * _NANO), -9
    while amount % 10 == 0:
        amount //= 10
        exp += 1
    while exp % 3:
        amount *= 10
        exp -= 1
    if fmt == "DecimalExponent":
        return f"{amount}" if exp == 0 else f"{amount}e{exp}"
    while exp > 18:
        amount *= 1000
        exp -= 3
    return f"{amount}{_DEC_BY_EXP[exp]}"


def format_like(value: Fraction, like=None) -> str:
    """``value`` printed canonically in the format of the quantity ``like`` (DecimalSI
    without one): ``format_like(Fraction(1, 5), "1") == "200m"``."""
    found = _split(like) if like is not None else None
    return _canonical(Fraction(value), found[1] if found else "DecimalSI")


def _add(into: dict, name: str, amount: Fraction) -> None:
    into[name] = into.get(name, Fraction(0)) + amount


# ---- pods (pkg/quota/v1/evaluator/core/pods.go) -------------------------------------------
POD_RESOURCES = frozenset((
    "pods", "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu",
    "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage"))


def _extended(name: str) -> bool:
    """``helper.IsExtendedResourceName``: a domain-qualified name outside kubernetes.io."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def _pod_matching(names) -> list[str]:
    return [n for n in names if n in POD_RESOURCES or n.startswith("hugepages-")
            or n.startswith("requests.hugepages-")
            or (n.startswith("requests.") and _extended(n[len("requests."):]))]


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def quota_v1_pod(pod: dict, now: float) -> bool:
    """``QuotaV1Pod``: a pod is charged unless terminal, or being deleted past its grace
    period (a pod stuck terminating on a lost node must not block new ones)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    deleted, grace = _parse_time(meta.get("deletionTimestamp")), \
        meta.get("deletionGracePeriodSeconds")
    if deleted is not None and grace is not None and now > deleted + grace:
        return False
    return True


def _pod_totals(spec: dict, kind: str) -> dict:
    """``resourcehelper.PodRequests`` / ``PodLimits``: the containers' sum (restartable
    init containers, i.e. sidecars, run alongside), at least each init container's need
    (plus the sidecars started before it), plus the pod overhead."""
    total: dict = {}
    for c in spec.get("containers") or []:
        for k, v in ((c.get("resources") or {}).get(kind) or {}).items():
            _add(total, k, parse(v))
    sidecars: dict = {}
    init_peak: dict = {}
    for c in spec.get("initContainers") or []:
        need = {k: parse(v) for k, v in ((c.get("resources") or {}).get(kind) or {}).items()}
        if c.get("restartPolicy") == "Always":
            for k, v in need.items():
                _add(total, k, v)
                _add(sidecars, k, v)
            need = dict(sidecars)
        else:
            for k, v in sidecars.items():
                _add(need, k, v)
        for k, v in need.items():
            init_peak[k] = max(init_peak.get(k, Fraction(0)), v)
    for k, v in init_peak.items():
        total[k] = max(total.get(k, Fraction(0)), v)
    for k, v in (spec.get("overhead") or {}).items():
        if kind == "requests" or k in total:      # limits: only where a limit is set
            _add(total, k, parse(v))
    return total


def pod_usage(pod: dict, now: float) -> dict:
    """``PodUsageFunc``: ``count/pods`` always; compute resources while ``QuotaV1Pod``."""
    used = {"count/pods": Fraction(1)}
    if not quota_v1_pod(pod, now):
        return used
    spec = pod.get("spec") or {}
    requests, limits = _pod_totals(spec, "requests"), _pod_totals(spec, "limits")
    used["pods"] = Fraction(1)
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            used[res] = used[f"requests.{res}"] = requests[res]
        if res in limits:
            used[f"limits.{res}"] = limits[res]
    for res, amount in requests.items():
        if res.startswith("hugepages-"):
            used[res] = used[f"requests.{res}"] = amount
        elif _extended(res):
            used[f"requests.{res}"] = amount
    return used


def _best_effort(pod: dict) -> bool:
    """``qos.GetPodQOS(pod) == BestEffort``: no container asks for or caps cpu or memory."""
    qos = (pod.get("status") or {}).get("qosClass")
    if qos:
        return qos == "BestEffort"
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for k, v in (res.get(kind) or {}).items():
                if k in ("cpu", "memory") and parse(v) > 0:
                    return False
    return True


def _cross_namespace_affinity(pod: dict) -> bool:
    aff = (pod.get("spec") or {}).get("affinity") or {}
    for key in ("podAffinity", "podAntiAffinity"):
        a = aff.get(key) or {}
        terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [t.get("podAffinityTerm") or {}
                  for t in a.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def pod_matches_scope(scope: str, operator: str, values, pod: dict) -> bool:
    """``podMatchesScopeFunc`` for one scope (a plain scope is the operator Exists)."""
    spec = pod.get("spec") or {}
    if scope == "PriorityClass":
        pc = spec.get("priorityClassName") or ""
        # the selector runs over {"PriorityClass": name}, the key absent without a name
        if operator == "Exists":
            return bool(pc)
        if operator == "DoesNotExist":
            return not pc
        if operator == "In":
            return bool(pc) and pc in (values or [])
        if operator == "NotIn":
            return not pc or pc not in (values or [])
        return False
    deadline = spec.get("activeDeadlineSeconds")
    flag = {"Terminating": deadline is not None and deadline >= 0,
            "NotTerminating": deadline is None,
            "BestEffort": _best_effort(pod), "NotBestEffort": not _best_effort(pod),
            "CrossNamespacePodAffinity": _cross_namespace_affinity(pod)}.get(scope)
    if flag is None:
        return False
    return flag if operator in ("Exists", "In", "") else not flag


# ---- services, claims and plain object counts ---------------------------------------------
SC_SUFFIX = ".storageclass.storage.k8s.io/"
SIMPLE_COUNTS = ("configmaps", "secrets", "replicationcontrollers", "resourcequotas")


def count_name(resource: str, group: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def service_type(svc: dict) -> str:
    """``GetQuotaServiceType``: NodePort, LoadBalancer, or '' for the rest."""
    kind = (svc.get("spec") or {}).get("type") or ""
    return kind if kind in ("NodePort", "LoadBalancer") else ""


def service_usage(svc: dict) -> dict:
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    used = {"services": Fraction(1), "count/services": Fraction(1)}
    kind = service_type(svc)
    if kind == "NodePort":
        used["services.nodeports"] = Fraction(len(ports))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:   # only explicit node ports
            used["services.nodeports"] = Fraction(sum(1 for p in ports if p.get("nodePort")))
        else:
            used["services.nodeports"] = Fraction(len(ports))
        used["services.loadbalancers"] = Fraction(1)
    return used


def claim_class(pvc: dict) -> str:
    """``GetPersistentVolumeClaimClass``: the beta annotation first, then the field."""
    ann = ((pvc.get("metadata") or {}).get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class")
    return ann if ann is not None else ((pvc.get("spec") or {}).get("storageClassName") or "")


def claim_storage(pvc: dict) -> Fraction | None:
    """The storage charged: the larger of the request and what a resize allocated."""
    requested = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
        "storage")
    allocated = ((pvc.get("status") or {}).get("allocatedResources") or {}).get("storage")
    if requested is None and allocated is None:
        return None
    return max(parse(requested), parse(allocated))


def claim_usage(pvc: dict) -> dict:
    used = {"persistentvolumeclaims": Fraction(1), "count/persistentvolumeclaims": Fraction(1)}
    cls = claim_class(pvc)
    if cls:
        used[f"{cls}{SC_SUFFIX}persistentvolumeclaims"] = Fraction(1)
    size = claim_storage(pvc)
    if size is not None:
        used["requests.storage"] = size
        if cls:
            used[f"{cls}{SC_SUFFIX}requests.storage"] = size
    return used


def _claim_matching(names) -> list[str]:
    return [n for n in names if n in ("persistentvolumeclaims", "count/persistentvolumeclaims",
                                      "requests.storage")
            or (SC_SUFFIX in n and n.endswith(("/persistentvolumeclaims", "/requests.storage")))]


# ---- the registry -------------------------------------------------------------------------
def matching_resources(resource: str, group: str, names) -> list[str]:
    """``Evaluator.MatchingResources``: which of ``names`` the kind's objects can use."""
    if group == "" and resource == "pods":
        return _pod_matching(names)
    if group == "" and resource == "services":
        return [n for n in names if n in ("services", "count/services", "services.nodeports",
                                          "services.loadbalancers")]
    if group == "" and resource == "persistentvolumeclaims":
        return _claim_matching(names)
    own = {count_name(resource, group)}
    if group == "" and resource in SIMPLE_COUNTS:
        own.add(resource)
    return [n for n in names if n in own]


def object_usage(resource: str, group: str, obj: dict, now: float) -> dict:
    """Everything one object of ``resource.group`` adds to its namespace's usage."""
    if group == "":
        if resource == "pods":
            return pod_usage(obj, now)
        if resource == "services":
            return service_usage(obj)
        if resource == "persistentvolumeclaims":
            return claim_usage(obj)
        if resource in SIMPLE_COUNTS:
            return {resource: Fraction(1), count_name(resource, group): Fraction(1)}
    return {count_name(resource, group): Fraction(1)}


def quota_scopes(quota: dict) -> list[tuple[str, str, list | None]]:
    """(scope, operator, values) of ``spec.scopes`` (operator Exists) and ``scopeSelector``."""
    spec = quota.get("spec") or {}
    out = [(s, "Exists", None) for s in spec.get("scopes") or []]
    out += [(e.get("scopeName") or "", e.get("operator") or "", e.get("values"))
            for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []]
    return out


def matches_scopes(resource: str, group: str, scopes, obj: dict) -> bool:
    """Every scope must hold; only pods have scopes (``MatchesNoScopeFunc`` elsewhere)."""
    if not scopes:
        return True
    if not (group == "" and resource == "pods"):
        return False
    return all(pod_matches_scope(s, op, v, obj) for s, op, v in scopes)


def resources_needed(hard) -> set[tuple[str, str]]:
    """Which (resource, group) kinds a quota with these hard names must list."""
    wanted = set()
    for kind in (("pods", ""), ("services", ""), ("persistentvolumeclaims", "")) + \
            tuple((r, "") for r in SIMPLE_COUNTS):
        if matching_resources(kind[0], kind[1], hard):
            wanted.add(kind)
    for name in hard:
        if name.startswith("count/"):
            res, _, group = name[len("count/"):].partition(".")
            if res:
                wanted.add((res, group))
    return wanted


def calculate_usage(quota: dict, objects_of, now: float) -> dict:
    """``quota.CalculateUsage``: {name: Fraction} for every hard name some evaluator tracks.
    ``objects_of(resource, group)`` returns the namespace's objects of that kind, or None
    when the kind cannot be listed (its names are then left out: the old usage stays)."""
    hard = list(((quota.get("spec") or {}).get("hard") or {}))
    scopes = quota_scopes(quota)
    used: dict = {}
    for resource, group in sorted(resources_needed(hard)):
        names = matching_resources(resource, group, hard)
        if not names:
            continue
        objects = objects_of(resource, group)
        if objects is None:
            continue
        for n in names:
            used.setdefault(n, Fraction(0))
        for obj in objects:
            if not matches_scopes(resource, group, scopes, obj):
                continue
            for k, v in object_usage(resource, group, obj, now).items():
                if k in used:
                    used[k] += v
    return used
