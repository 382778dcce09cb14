"""The Pod Security Standards' checks for levels ``baseline`` and ``restricted``, by version.

Upstream: kubernetes/kubernetes:staging/src/k8s.io/pod-security-admission/policy/
check_<id>.go (release-1.32), one function per versioned implementation, named
``<id>_<major>_<minor>``; :mod:`.pod_security_registry` gives each its upstream ID, level
and first version, and evaluates a pod against a level and version.

A check takes the pod's (or pod template's) ``metadata`` and ``spec`` as decoded JSON and
returns ``None`` when it allows them, else ``(forbidden reason, forbidden detail)``.  The
tests of presence follow Go's pointers: a field sent as JSON ``null`` or left out is unset,
``{}`` is a set (empty) struct.  Each check has upstream's ID, level and versioned
implementations (see the registry).

The ``UserNamespacesPodSecurityStandards`` relaxation (alpha, off by default in 1.32) is not
implemented: pods with ``hostUsers: false`` are checked like any other.
"""
from __future__ import annotations

import json

BASELINE, RESTRICTED, PRIVILEGED = "baseline", "restricted", "privileged"


# ---- helpers (upstream helpers.go, visitor.go) --------------------------------------------
def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _set(parent: dict, key: str) -> bool:
    """Go's ``parent.Key != nil`` for a pointer field."""
    return parent.get(key) is not None


def join_quote(items) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def go_quote(value: str) -> str:
    """Go's ``%q`` for the strings these checks print (close enough: JSON string escaping
    keeps printable text as it is and escapes quotes, backslashes and controls)."""
    return json.dumps(value, ensure_ascii=False)


def containers(spec: dict):
    """Upstream ``visitContainers``: init containers, containers, then ephemeral ones."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec.get(key)):
            if isinstance(c, dict):
                yield c


def _name(container: dict) -> str:
    name = container.get("name")
    return name if isinstance(name, str) else ""


def _sc(obj: dict) -> dict | None:
    """The securityContext struct, or None when unset."""
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else None


def _windows(spec: dict) -> bool:
    return _dict(spec.get("os")).get("name") == "windows"


def _containers_phrase(names: list) -> str:
    return f'{pluralize("container", "containers", len(names))} {join_quote(names)}'


# ---- baseline checks ---------------------------------------------------------------------
def privileged_1_0(meta, spec):
    bad = [_name(c) for c in containers(spec) if (_sc(c) or {}).get("privileged") is True]
    if bad:
        return "privileged", f"{_containers_phrase(bad)} must not set securityContext.privileged=true"
    return None


def host_namespaces_1_0(meta, spec):
    found = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    if found:
        return "host namespaces", ", ".join(found)
    return None


def host_path_volumes_1_0(meta, spec):
    bad = [_dict(v).get("name") or "" for v in _list(spec.get("volumes"))
           if _set(_dict(v), "hostPath")]
    if bad:
        return "hostPath volumes", f'{pluralize("volume", "volumes", len(bad))} {join_quote(bad)}'
    return None


def host_ports_1_0(meta, spec):
    bad, ports = [], set()
    for c in containers(spec):
        mine = [p.get("hostPort") for p in _list(c.get("ports"))
                if isinstance(p, dict) and p.get("hostPort") not in (None, 0)]
        if mine:
            bad.append(_name(c))
            ports.update(str(p) for p in mine)
    if bad:
        return "hostPort", (f"{_containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} "
                            f"{pluralize('hostPort', 'hostPorts', len(ports))} "
                            f"{', '.join(sorted(ports))}")
    return None


CAPABILITIES_ALLOWED_1_0 = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))


def capabilities_baseline_1_0(meta, spec):
    bad, caps = [], set()
    for c in containers(spec):
        capabilities = (_sc(c) or {}).get("capabilities")
        if not isinstance(capabilities, dict):
            continue
        added = [a for a in _list(capabilities.get("add")) if a not in CAPABILITIES_ALLOWED_1_0]
        if added:
            bad.append(_name(c))
            caps.update(str(a) for a in added)
    if bad:
        return "non-default capabilities", (
            f"{_containers_phrase(bad)} must not include {join_quote(sorted(caps))} in "
            "securityContext.capabilities.add")
    return None


def _profile_setters(spec, field, allowed):
    """Shared by the seccomp and AppArmor profile checks: (who set a bad ``type``, the bad
    values).  The pod's own securityContext comes first, then the containers."""
    setters, values = [], set()
    pod_profile = (_sc(spec) or {}).get(field)
    if isinstance(pod_profile, dict) and pod_profile.get("type") not in allowed:
        setters.append("pod")
        values.add(str(pod_profile.get("type") or ""))
    bad = []
    for c in containers(spec):
        profile = (_sc(c) or {}).get(field)
        if isinstance(profile, dict) and profile.get("type") not in allowed:
            bad.append(_name(c))
            values.add(str(profile.get("type") or ""))
    if bad:
        setters.append(_containers_phrase(bad))
    return setters, values


APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def app_armor_profile_1_0(meta, spec):
    setters, values = _profile_setters(spec, "appArmorProfile", ("RuntimeDefault", "Localhost"))
    bad_values = sorted(values)
    annotations = sorted(
        f"{k}={go_quote(v)}" for k, v in _dict(meta.get("annotations")).items()
        if k.startswith(APPARMOR_ANNOTATION_PREFIX) and isinstance(v, str)
        and not (v == "" or v == "runtime/default" or v.startswith("localhost/")))
    if annotations:
        bad_values += annotations
        setters.append(pluralize("annotation", "annotations", len(annotations)))
    if setters:
        return (pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles",
                          len(bad_values)),
                f"{' and '.join(setters)} must not set AppArmor profile type to "
                f"{join_quote(bad_values)}")
    return None


SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}


def _selinux(spec, allowed_types):
    setters, bad_types, state = [], set(), {"user": False, "role": False}

    def valid(opts: dict) -> bool:
        ok = True
        kind = opts.get("type") or ""
        if kind not in allowed_types:
            ok = False
            bad_types.add(kind)
        for key in ("user", "role"):
            if opts.get(key):
                ok, state[key] = False, True
        return ok

    pod_opts = (_sc(spec) or {}).get("seLinuxOptions")
    if isinstance(pod_opts, dict) and not valid(pod_opts):
        setters.append("pod")
    bad = []
    for c in containers(spec):
        opts = (_sc(c) or {}).get("seLinuxOptions")
        if isinstance(opts, dict) and not valid(opts):
            bad.append(_name(c))
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    data = []
    if bad_types:
        data.append(f'{pluralize("type", "types", len(bad_types))} {join_quote(sorted(bad_types))}')
    if state["user"]:
        data.append("user may not be set")
    if state["role"]:
        data.append("role may not be set")
    return "seLinuxOptions", (f"{' and '.join(setters)} set forbidden "
                              f"securityContext.seLinuxOptions: {'; '.join(data)}")


def se_linux_options_1_0(meta, spec):
    return _selinux(spec, SELINUX_TYPES_1_0)


def se_linux_options_1_31(meta, spec):
    return _selinux(spec, SELINUX_TYPES_1_31)


def proc_mount_1_0(meta, spec):
    bad, kinds = [], set()
    for c in containers(spec):
        mount = (_sc(c) or {}).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(_name(c))
            kinds.add(str(mount))
    if bad:
        return "procMount", (f"{_containers_phrase(bad)} must not set securityContext.procMount "
                             f"to {join_quote(sorted(kinds))}")
    return None


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


def _seccomp_annotation_ok(value) -> bool:
    return isinstance(value, str) and (value in ("runtime/default", "docker/default")
                                       or value.startswith("localhost/"))


def seccomp_profile_baseline_1_0(meta, spec):
    """Before 1.19 seccomp was configured by the alpha annotations only."""
    annotations = _dict(meta.get("annotations"))
    forbidden = set()
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_PREFIX + _name(c) for c in containers(spec)]
    for key in keys:
        if key in annotations and not _seccomp_annotation_ok(annotations[key]):
            forbidden.add(f"{key}={go_quote(str(annotations[key]))}")
    if forbidden:
        return "seccompProfile", (f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} "
                                  f"{', '.join(sorted(forbidden))}")
    return None


def seccomp_profile_baseline_1_19(meta, spec):
    setters, values = _profile_setters(spec, "seccompProfile", SECCOMP_TYPES)
    if setters:
        return "seccompProfile", (f"{' and '.join(setters)} must not set "
                                  f"securityContext.seccompProfile.type to {join_quote(sorted(values))}")
    return None


SYSCTLS_1_0 = frozenset(("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                         "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                         "net.ipv4.ip_unprivileged_port_start"))
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                               "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(spec, allowed):
    names = [str(_dict(s).get("name") or "") for s in _list((_sc(spec) or {}).get("sysctls"))]
    bad = [n for n in names if n not in allowed]
    if bad:
        return "forbidden sysctls", ", ".join(bad)
    return None


def sysctls_1_0(meta, spec):
    return _sysctls(spec, SYSCTLS_1_0)


def sysctls_1_27(meta, spec):
    return _sysctls(spec, SYSCTLS_1_27)


def sysctls_1_29(meta, spec):
    return _sysctls(spec, SYSCTLS_1_29)


def sysctls_1_32(meta, spec):
    return _sysctls(spec, SYSCTLS_1_32)


def _host_process(obj: dict) -> bool:
    return _dict((_sc(obj) or {}).get("windowsOptions")).get("hostProcess") is True


def windows_host_process_1_0(meta, spec):
    setters = ["pod"] if _host_process(spec) else []
    bad = [_name(c) for c in containers(spec) if _host_process(c)]
    if bad:
        setters.append(_containers_phrase(bad))
    if setters:
        return "hostProcess", (f"{' and '.join(setters)} must not set "
                               "securityContext.windowsOptions.hostProcess=true")
    return None


# ---- restricted checks -------------------------------------------------------------------
def allow_privilege_escalation_1_8(meta, spec):
    bad = [_name(c) for c in containers(spec)
           if (_sc(c) or {}).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", (
            f"{_containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false")
    return None


def allow_privilege_escalation_1_25(meta, spec):
    # validation refuses the field on Windows pods, so they cannot satisfy it (1.25+)
    return None if _windows(spec) else allow_privilege_escalation_1_8(meta, spec)


def capabilities_restricted_1_22(meta, spec):
    missing_drop, adding, caps = [], [], set()
    for c in containers(spec):
        capabilities = (_sc(c) or {}).get("capabilities")
        if not isinstance(capabilities, dict):
            missing_drop.append(_name(c))
            continue
        if "ALL" not in _list(capabilities.get("drop")):
            missing_drop.append(_name(c))
        added = [a for a in _list(capabilities.get("add")) if a != "NET_BIND_SERVICE"]
        if added:
            adding.append(_name(c))
            caps.update(str(a) for a in added)
    details = []
    if missing_drop:
        details.append(f'{_containers_phrase(missing_drop)} must set '
                       'securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_containers_phrase(adding)} must not include "
                       f"{join_quote(sorted(caps))} in securityContext.capabilities.add")
    if details:
        return "unrestricted capabilities", "; ".join(details)
    return None


def capabilities_restricted_1_25(meta, spec):
    return None if _windows(spec) else capabilities_restricted_1_22(meta, spec)


ALLOWED_VOLUME_SOURCES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                          "persistentVolumeClaim", "projected", "secret")
# the order upstream names the type of a refused volume in
RESTRICTED_VOLUME_SOURCES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "scaleIO", "storageos")


def restricted_volumes_1_0(meta, spec):
    bad, kinds = [], set()
    for volume in _list(spec.get("volumes")):
        volume = _dict(volume)
        if any(_set(volume, k) for k in ALLOWED_VOLUME_SOURCES):
            continue
        bad.append(str(volume.get("name") or ""))
        kinds.add(next((k for k in RESTRICTED_VOLUME_SOURCES if _set(volume, k)), "unknown"))
    if bad:
        return "restricted volume types", (
            f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
            f"{pluralize('uses', 'use', len(bad))} "
            f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
            f"{join_quote(sorted(kinds))}")
    return None


def run_as_non_root_1_0(meta, spec):
    setters, pod_ok = [], False
    pod_value = (_sc(spec) or {}).get("runAsNonRoot")
    if pod_value is not None:
        if pod_value is True:
            pod_ok = True
        else:
            setters.append("pod")
    explicit, implicit = [], []
    for c in containers(spec):
        value = (_sc(c) or {}).get("runAsNonRoot")
        if value is not None:
            if value is not True:
                explicit.append(_name(c))
        elif not pod_ok:
            implicit.append(_name(c))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return "runAsNonRoot != true", (f"{' and '.join(setters)} must not set "
                                        "securityContext.runAsNonRoot=false")
    if implicit:
        return "runAsNonRoot != true", (f"pod or {_containers_phrase(implicit)} must set "
                                        "securityContext.runAsNonRoot=true")
    return None


def _root(obj: dict) -> bool:
    value = (_sc(obj) or {}).get("runAsUser")
    return type(value) is int and value == 0


def run_as_user_1_23(meta, spec):
    setters = ["pod"] if _root(spec) else []
    bad = [_name(c) for c in containers(spec) if _root(c)]
    if bad:
        setters.append(_containers_phrase(bad))
    if setters:
        return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"
    return None


def seccomp_profile_restricted_1_19(meta, spec):
    setters, values = [], set()
    pod_ok = False
    pod_profile = (_sc(spec) or {}).get("seccompProfile")
    if isinstance(pod_profile, dict):
        if pod_profile.get("type") in SECCOMP_TYPES:
            pod_ok = True
        else:
            setters.append("pod")
            values.add(str(pod_profile.get("type") or ""))
    explicit, implicit = [], []
    for c in containers(spec):
        profile = (_sc(c) or {}).get("seccompProfile")
        if isinstance(profile, dict):
            if profile.get("type") not in SECCOMP_TYPES:
                explicit.append(_name(c))
                values.add(str(profile.get("type") or ""))
        elif not pod_ok:
            implicit.append(_name(c))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return "seccompProfile", (f"{' and '.join(setters)} must not set "
                                  f"securityContext.seccompProfile.type to {join_quote(sorted(values))}")
    if implicit:
        return "seccompProfile", (f"pod or {_containers_phrase(implicit)} must set "
                                  'securityContext.seccompProfile.type to "RuntimeDefault" or '
                                  '"Localhost"')
    return None


def seccomp_profile_restricted_1_25(meta, spec):
    return None if _windows(spec) else seccomp_profile_restricted_1_19(meta, spec)
