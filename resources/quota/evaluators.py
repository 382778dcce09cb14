"""Usage of one object and whether a quota covers it.

Upstream: pkg/quota/v1/evaluator/core/pods.go (requests = max(sum of containers and
sidecars, each init container with the sidecars before it) + overhead; terminal pods use
nothing), services.go, persistent_volume_claims.go and generic/evaluator.go (``count/<resource>.<group>`` object counts; scoped quotas match
pods only, ``MatchesNoScopeFunc``)."""
from __future__ import annotations

from fractions import Fraction

from apiserver.runtime.quantity import parse_quantity

POD_COMPUTE = ("cpu", "memory", "ephemeral-storage")
CORE_COUNTS = {"services": "services", "configmaps": "configmaps", "secrets": "secrets",
               "replicationcontrollers": "replicationcontrollers",
               "resourcequotas": "resourcequotas", "persistentvolumeclaims":
               "persistentvolumeclaims", "pods": "pods"}
SC_SUFFIX = ".storageclass.storage.k8s.io/"


def _q(text) -> Fraction:
    try:
        return parse_quantity(text).value
    except (ValueError, TypeError):
        return Fraction(0)


def _add(into: dict, name: str, amount: Fraction) -> None:
    into[name] = into.get(name, Fraction(0)) + amount


def count_name(resource: str, group: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def pod_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _pod_resources(spec: dict, kind: str) -> dict:
    """Upstream component-helpers ``resource.PodRequests``/``PodLimits``: the regular
    containers and every sidecar (an init container with ``restartPolicy: Always``) run
    together; a plain init container runs beside the sidecars started before it, so the pod
    needs the larger of the two, plus the overhead."""
    def resources(c: dict) -> dict:
        return {k: _q(v) for k, v in ((c.get("resources") or {}).get(kind) or {}).items()}

    total: dict = {}
    for c in spec.get("containers") or []:
        for k, v in resources(c).items():
            _add(total, k, v)
    sidecars: dict = {}
    init_peak: dict = {}
    for c in spec.get("initContainers") or []:
        own = resources(c)
        if c.get("restartPolicy") == "Always":
            for k, v in own.items():
                _add(total, k, v)
                _add(sidecars, k, v)
            during = dict(sidecars)
        else:
            during = dict(sidecars)
            for k, v in own.items():
                _add(during, k, v)
        for k, v in during.items():
            init_peak[k] = max(init_peak.get(k, Fraction(0)), v)
    for k, v in init_peak.items():
        total[k] = max(total.get(k, Fraction(0)), v)
    for k, v in (spec.get("overhead") or {}).items():
        _add(total, k, _q(v))
    return total


def pod_usage(pod: dict) -> dict:
    if pod_terminal(pod):
        return {}
    spec = pod.get("spec") or {}
    used = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for k, v in _pod_resources(spec, "requests").items():
        if k in POD_COMPUTE:
            used[k] = v
        used[f"requests.{k}"] = v
    for k, v in _pod_resources(spec, "limits").items():
        if k in POD_COMPUTE or k.startswith("hugepages-"):
            used[f"limits.{k}"] = v
        if k.startswith("hugepages-"):
            used.setdefault(f"requests.{k}", v)
            used.setdefault(k, v)
    return used


def missing_constraints(pod: dict, hard: dict) -> list[str]:
    """Upstream podEvaluator.Constraints: every container must state a request/limit the
    quota caps (``must specify limits.cpu for: c1``)."""
    out = []
    for name in sorted(hard):
        kind, _, res = name.partition(".")
        if kind not in ("requests", "limits") or res not in ("cpu", "memory"):
            continue
        lacking = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []
                   if res not in ((c.get("resources") or {}).get(kind) or {})]
        if lacking:
            out.append(f"{name} for: {','.join(lacking)}")
    return out


def usage(resource: str, group: str, obj: dict) -> dict:
    """Everything ``obj`` (of ``resource.group``) adds to its namespace's usage."""
    if group == "" and resource == "pods":
        return pod_usage(obj)
    used = {count_name(resource, group): Fraction(1)}
    if group == "" and resource in CORE_COUNTS:
        used[resource] = Fraction(1)
    if group == "" and resource == "services":
        spec = obj.get("spec") or {}
        kind = spec.get("type")
        ports = len(spec.get("ports") or [])
        if kind in ("NodePort", "LoadBalancer"):
            used["services.nodeports"] = Fraction(ports)
        if kind == "LoadBalancer":
            used["services.loadbalancers"] = Fraction(1)
    if group == "" and resource == "persistentvolumeclaims":
        spec = obj.get("spec") or {}
        size = _q(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
        used["requests.storage"] = size
        cls = spec.get("storageClassName")
        if cls:
            used[f"{cls}{SC_SUFFIX}requests.storage"] = size
            used[f"{cls}{SC_SUFFIX}persistentvolumeclaims"] = Fraction(1)
    return used


def _best_effort(pod: dict) -> bool:
    for c in ((pod.get("spec") or {}).get("containers") or []) + \
            ((pod.get("spec") or {}).get("initContainers") or []):
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in (res.get(kind) or {})):
                return False
    return True


def _cross_ns(pod: dict) -> bool:
    aff = (pod.get("spec") or {}).get("affinity") or {}
    for key in ("podAffinity", "podAntiAffinity"):
        a = aff.get(key) or {}
        terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [t.get("podAffinityTerm") or {} for t in
                  a.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def _scope_matches(scope: str, operator: str, values, pod: dict) -> bool:
    spec = pod.get("spec") or {}
    if scope == "PriorityClass":
        pc = spec.get("priorityClassName") or ""
        if operator == "In":
            return pc in (values or [])
        if operator == "NotIn":
            return pc not in (values or [])
        return bool(pc) == (operator == "Exists")
    flag = {"Terminating": spec.get("activeDeadlineSeconds") is not None,
            "NotTerminating": spec.get("activeDeadlineSeconds") is None,
            "BestEffort": _best_effort(pod), "NotBestEffort": not _best_effort(pod),
            "CrossNamespacePodAffinity": _cross_ns(pod)}.get(scope, False)
    return flag if operator in ("Exists", "In", "") else not flag


def quota_matches(quota: dict, resource: str, group: str, obj: dict) -> bool:
    """Upstream quota.Matches: the quota caps something the object uses and every scope
    (and scopeSelector expression) holds; scoped quotas cover pods only."""
    spec = quota.get("spec") or {}
    scopes = [(s, "Exists", None) for s in spec.get("scopes") or []]
    scopes += [(e.get("scopeName"), e.get("operator"), e.get("values"))
               for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []]
    if scopes and not (group == "" and resource == "pods"):
        return False
    return all(_scope_matches(s, op, v, obj) for s, op, v in scopes)
