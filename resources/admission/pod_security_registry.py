"""Which Pod Security checks run for a level and version, and their aggregated result.

Upstream: kubernetes/kubernetes:staging/src/k8s.io/pod-security-admission/policy/
registry.go (``NewEvaluator``, ``populate``: per level and version the checks in force, a
restricted check replacing the baseline checks it names) and checks.go
(``AggregateCheckResults``, ``ForbiddenReason``, ``ForbiddenDetail``), release-1.32.

Each check has upstream's ID and level and its versioned implementations
``(first minor version of v1, function, IDs of baseline checks it replaces)``; a policy
version newer than the newest check version (and ``latest``) evaluates as that newest
version, as upstream's ``checkRegistry.maxVersion``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from resources.admission.pod_security_checks import (
    BASELINE, PRIVILEGED, RESTRICTED, allow_privilege_escalation_1_8,
    allow_privilege_escalation_1_25, app_armor_profile_1_0, capabilities_baseline_1_0,
    capabilities_restricted_1_22, capabilities_restricted_1_25, host_namespaces_1_0,
    host_path_volumes_1_0, host_ports_1_0, privileged_1_0, proc_mount_1_0,
    restricted_volumes_1_0, run_as_non_root_1_0, run_as_user_1_23, se_linux_options_1_0,
    se_linux_options_1_31, seccomp_profile_baseline_1_0, seccomp_profile_baseline_1_19,
    seccomp_profile_restricted_1_19, seccomp_profile_restricted_1_25, sysctls_1_0, sysctls_1_27,
    sysctls_1_29, sysctls_1_32, windows_host_process_1_0)


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    # (first minor version of v1, function, baseline check IDs it replaces), increasing
    versions: tuple


CHECKS = (
    Check("allowPrivilegeEscalation", RESTRICTED,
          ((8, allow_privilege_escalation_1_8, ()), (25, allow_privilege_escalation_1_25, ()))),
    Check("appArmorProfile", BASELINE, ((0, app_armor_profile_1_0, ()),)),
    Check("capabilities_baseline", BASELINE, ((0, capabilities_baseline_1_0, ()),)),
    Check("capabilities_restricted", RESTRICTED,
          ((22, capabilities_restricted_1_22, ("capabilities_baseline",)),
           (25, capabilities_restricted_1_25, ("capabilities_baseline",)))),
    Check("hostNamespaces", BASELINE, ((0, host_namespaces_1_0, ()),)),
    Check("hostPathVolumes", BASELINE, ((0, host_path_volumes_1_0, ()),)),
    Check("hostPorts", BASELINE, ((0, host_ports_1_0, ()),)),
    Check("privileged", BASELINE, ((0, privileged_1_0, ()),)),
    Check("procMount", BASELINE, ((0, proc_mount_1_0, ()),)),
    Check("restrictedVolumes", RESTRICTED, ((0, restricted_volumes_1_0, ("hostPathVolumes",)),)),
    Check("runAsNonRoot", RESTRICTED, ((0, run_as_non_root_1_0, ()),)),
    Check("runAsUser", RESTRICTED, ((23, run_as_user_1_23, ()),)),
    Check("seLinuxOptions", BASELINE, ((0, se_linux_options_1_0, ()), (31, se_linux_options_1_31, ()))),
    Check("seccompProfile_baseline", BASELINE,
          ((0, seccomp_profile_baseline_1_0, ()), (19, seccomp_profile_baseline_1_19, ()))),
    Check("seccompProfile_restricted", RESTRICTED,
          ((19, seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
           (25, seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)))),
    Check("sysctls", BASELINE, ((0, sysctls_1_0, ()), (27, sysctls_1_27, ()), (29, sysctls_1_29, ()),
                                (32, sysctls_1_32, ()))),
    Check("windowsHostProcess", BASELINE, ((0, windows_host_process_1_0, ()),)),
)

# the newest version any check names: newer policy versions and "latest" evaluate as it
MAX_MINOR = max(c.versions[-1][0] for c in CHECKS)


def _version_of(check: Check, minor: int):
    """The check's implementation in force at v1.<minor> (None before its first)."""
    found = None
    for first, fn, overrides in check.versions:
        if first <= minor:
            found = (fn, overrides)
    return found


@lru_cache(maxsize=None)
def checks_for(level: str, minor: int) -> tuple:
    """(check ID, function) that run for ``level`` at v1.<minor>, in upstream's order:
    baseline IDs sorted, then restricted IDs sorted; restricted also runs the baseline
    checks its own checks of that version do not replace."""
    if level == PRIVILEGED:
        return ()
    minor = min(minor, MAX_MINOR)
    chosen = {}
    overridden = set()
    for check in CHECKS:
        if check.level == RESTRICTED and level != RESTRICTED:
            continue
        found = _version_of(check, minor)
        if found is None:
            continue
        chosen[check.id] = (check.level, found[0])
        overridden.update(found[1])
    if level == RESTRICTED:
        chosen = {k: v for k, v in chosen.items() if k not in overridden}
    ordered = sorted(k for k, v in chosen.items() if v[0] == BASELINE) + \
        sorted(k for k, v in chosen.items() if v[0] == RESTRICTED)
    return tuple((k, chosen[k][1]) for k in ordered)


@dataclass(frozen=True)
class Result:
    """Upstream ``AggregateCheckResult``: the forbidden (reason, detail) pairs, in order."""

    forbidden: tuple = ()

    @property
    def allowed(self) -> bool:
        return not self.forbidden

    def reason(self) -> str:
        """The reasons alone, joined (``ForbiddenReason``)."""
        return ", ".join(r for r, _ in self.forbidden)

    def detail(self) -> str:
        """Each reason with its detail in parentheses, joined (``ForbiddenDetail``)."""
        return ", ".join(f"{r} ({d})" if d else r for r, d in self.forbidden)


def evaluate(level: str, minor: int | None, meta: dict | None, spec: dict | None) -> Result:
    """Evaluate a pod's ``metadata`` and ``spec`` against ``level`` at v1.<minor> (None:
    latest); upstream ``EvaluatePod`` + ``AggregateCheckResults``."""
    if level == PRIVILEGED:
        return Result()
    meta = meta if isinstance(meta, dict) else {}
    spec = spec if isinstance(spec, dict) else {}
    found = []
    for _id, fn in checks_for(level, MAX_MINOR if minor is None else minor):
        result = fn(meta, spec)
        if result is not None:
            found.append((result[0] or "unknown forbidden reason", result[1]))
    return Result(tuple(found))
