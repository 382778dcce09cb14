"""PodSecurity's policies: levels and versions, a namespace's labels, the plugin's
configuration.

Upstream: kubernetes/kubernetes:staging/src/k8s.io/pod-security-admission/api/ (helpers.go,
constants.go: ``ParseLevel``, ``ParseVersion``, ``PolicyToEvaluate``, ``CompareLevels``) and
admission/api/ (types, defaults, validation, ``ToPolicy``, load/load.go), release-1.32.

A version is the minor number of v1 (an ``int``) or ``None`` for ``latest``.  A
``LevelVersion`` prints as upstream's (``restricted:latest``, ``baseline:v1.29``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from apiserver.runtime import errors
from apiserver.runtime.validation import is_dns1123_label, is_dns1123_subdomain
from resources.admission.pod_security_checks import BASELINE, PRIVILEGED, RESTRICTED

LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
PREFIX = "pod-security.kubernetes.io/"
ENFORCE, ENFORCE_VERSION = PREFIX + "enforce", PREFIX + "enforce-version"
AUDIT, AUDIT_VERSION = PREFIX + "audit", PREFIX + "audit-version"
WARN, WARN_VERSION = PREFIX + "warn", PREFIX + "warn-version"

LEVEL_ERROR = "must be one of privileged, baseline, restricted"
VERSION_ERROR = 'must be "latest" or "v1.x"'
_VERSION = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")
_GO_INT_MAX = 2 ** 63 - 1


def parse_level(value) -> tuple[str, str]:
    """(level, error): an unknown level reads as restricted (fail closed), as upstream."""
    if value in LEVELS:
        return value, ""
    return RESTRICTED, LEVEL_ERROR


def parse_version(value) -> tuple[int | None, str]:
    """(minor or None for latest, error): an unparsable version reads as latest."""
    if value == "latest":
        return None, ""
    match = _VERSION.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > _GO_INT_MAX:
        return None, VERSION_ERROR
    return int(match.group(1)), ""


def compare_levels(a: str, b: str) -> int:
    """Upstream ``CompareLevels``: -1, 0 or 1 as ``a`` is laxer than, as strict as or
    stricter than ``b``."""
    rank = {PRIVILEGED: 0, BASELINE: 1, RESTRICTED: 2}
    return (rank[a] > rank[b]) - (rank[a] < rank[b])


@dataclass(frozen=True)
class LevelVersion:
    level: str = PRIVILEGED
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.level}:{'latest' if self.version is None else f'v1.{self.version}'}"

    def equivalent(self, other: "LevelVersion") -> bool:
        return (self.level == PRIVILEGED and other.level == PRIVILEGED) or self == other


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = LevelVersion()
    audit: LevelVersion = LevelVersion()
    warn: LevelVersion = LevelVersion()

    def fully_privileged(self) -> bool:
        return PRIVILEGED == self.enforce.level == self.audit.level == self.warn.level

    def equivalent(self, other: "Policy") -> bool:
        return (self.enforce.equivalent(other.enforce) and self.audit.equivalent(other.audit)
                and self.warn.equivalent(other.warn))


def _label_error(label: str, value, detail: str) -> errors.FieldError:
    return errors.invalid(f"metadata.labels[{label}]", value, detail)


def policy_to_evaluate(labels, defaults: Policy) -> tuple[Policy, list]:
    """Upstream ``PolicyToEvaluate``: the namespace's labels over the defaults, and the
    field errors of the labels that do not parse.  A bad enforce level reads as restricted
    (fail closed), bad audit and warn levels as privileged (fail open), bad versions as
    latest.  An enforce label without a warn label raises warn to at least the enforce
    level (and its version, when no warn version is given)."""
    if not labels or not isinstance(labels, dict):
        return defaults, []
    errs: list = []
    enforce, audit, warn = defaults.enforce, defaults.audit, defaults.warn
    has_enforce_level = False
    if ENFORCE in labels:
        level, err = parse_level(labels[ENFORCE])
        enforce, has_enforce_level = replace(enforce, level=level), not err
        if err:
            errs.append(_label_error(ENFORCE, labels[ENFORCE], err))
    if ENFORCE_VERSION in labels:
        version, err = parse_version(labels[ENFORCE_VERSION])
        enforce = replace(enforce, version=version)
        if err:
            errs.append(_label_error(ENFORCE_VERSION, labels[ENFORCE_VERSION], err))
    if AUDIT in labels:
        level, err = parse_level(labels[AUDIT])
        audit = replace(audit, level=PRIVILEGED if err else level)
        if err:
            errs.append(_label_error(AUDIT, labels[AUDIT], err))
    if AUDIT_VERSION in labels:
        version, err = parse_version(labels[AUDIT_VERSION])
        audit = replace(audit, version=version)
        if err:
            errs.append(_label_error(AUDIT_VERSION, labels[AUDIT_VERSION], err))
    if WARN in labels:
        level, err = parse_level(labels[WARN])
        warn = replace(warn, level=PRIVILEGED if err else level)
        if err:
            errs.append(_label_error(WARN, labels[WARN], err))
    if WARN_VERSION in labels:
        version, err = parse_version(labels[WARN_VERSION])
        warn = replace(warn, version=version)
        if err:
            errs.append(_label_error(WARN_VERSION, labels[WARN_VERSION], err))
    if WARN not in labels and has_enforce_level and compare_levels(enforce.level, warn.level) > 0:
        warn = LevelVersion(enforce.level,
                            warn.version if WARN_VERSION in labels else enforce.version)
    return Policy(enforce, audit, warn), errs


def aggregate(texts: list[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message alone, several in brackets."""
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


# ---- the plugin's configuration ----------------------------------------------------------
CONFIG_GROUP = "pod-security.admission.config.k8s.io"
CONFIG_VERSIONS = ("v1", "v1beta1", "v1alpha1")
CONFIG_KIND = "PodSecurityConfiguration"
DEFAULT_KEYS = ("enforce", "enforce-version", "audit", "audit-version", "warn", "warn-version")
EXEMPTION_KEYS = ("usernames", "namespaces", "runtimeClasses")


@dataclass(frozen=True)
class Configuration:
    defaults: Policy = Policy()
    usernames: tuple = ()
    namespaces: tuple = ()
    runtime_classes: tuple = ()
    # the defaults as configured (for the namespace exemption warning's comparison)
    raw_defaults: dict = field(default_factory=dict)


def _strings(value, where: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"PodSecurity: strict decoding error: {where}: expected a list of strings")
    return tuple(value)


def _unknown(doc: dict, known, where: str) -> None:
    extra = [k for k in doc if k not in known]
    if extra:
        raise ValueError("PodSecurity: strict decoding error: " + ", ".join(
            f'unknown field "{where}{k}"' for k in extra))


def load_configuration(doc: dict | None) -> Configuration:
    """The plugin's document from the AdmissionConfiguration (None: all defaults, which are
    privileged:latest for all three modes and no exemptions), decoded strictly, defaulted
    and validated as upstream's ``LoadFromData``, ``ToPolicy`` and
    ``ValidatePodSecurityConfiguration``.  ``ValueError`` names what is wrong."""
    doc = doc or {}
    if doc:
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        if kind != CONFIG_KIND or api_version not in {f"{CONFIG_GROUP}/{v}" for v in CONFIG_VERSIONS}:
            raise ValueError(f'PodSecurity: no kind "{kind}" is registered for version '
                             f'"{api_version}"; want {CONFIG_KIND} in {CONFIG_GROUP}/v1')
        _unknown(doc, ("apiVersion", "kind", "defaults", "exemptions"), "")
    defaults = doc.get("defaults") or {}
    exemptions = doc.get("exemptions") or {}
    if not isinstance(defaults, dict) or not isinstance(exemptions, dict):
        raise ValueError("PodSecurity: strict decoding error: defaults and exemptions must be objects")
    _unknown(defaults, DEFAULT_KEYS, "defaults.")
    _unknown(exemptions, EXEMPTION_KEYS, "exemptions.")
    values = {}
    for key in DEFAULT_KEYS:
        value = defaults.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"PodSecurity: strict decoding error: defaults.{key}: expected a string")
        # upstream's SetDefaults_PodSecurityDefaults: empty levels privileged, versions latest
        values[key] = value or ("latest" if key.endswith("-version") else PRIVILEGED)
    problems, parsed = [], {}
    for key in DEFAULT_KEYS:
        if key.endswith("-version"):
            parsed[key], err = parse_version(values[key])
        else:
            parsed[key], err = parse_level(values[key])
        if err:
            problems.append(f"{key}: {err}")
    if problems:     # ToPolicy, run by CompleteConfiguration
        raise ValueError("PodSecurity configuration error: " + aggregate(problems))
    policy = Policy(LevelVersion(parsed["enforce"], parsed["enforce-version"]),
                    LevelVersion(parsed["audit"], parsed["audit-version"]),
                    LevelVersion(parsed["warn"], parsed["warn-version"]))
    usernames = _strings(exemptions.get("usernames"), "exemptions.usernames")
    namespaces = _strings(exemptions.get("namespaces"), "exemptions.namespaces")
    runtime_classes = _strings(exemptions.get("runtimeClasses"), "exemptions.runtimeClasses")
    errs = []
    for key, items, check in (("namespaces", namespaces, is_dns1123_label),
                              ("runtimeClasses", runtime_classes, is_dns1123_subdomain),
                              ("usernames", usernames, None)):
        seen = set()
        for i, item in enumerate(items):
            path = f"exemptions.{key}[{i}]"
            problem = ("username must not be empty" if not item else "") if check is None \
                else ", ".join(check(item))
            if problem:
                errs.append(errors.invalid(path, item, problem))
            elif item in seen:
                errs.append(errors.duplicate(path, item))
            else:
                seen.add(item)
    if errs:
        raise ValueError("PodSecurity invalid: " + aggregate([e.error_text() for e in errs]))
    return Configuration(policy, usernames, namespaces, runtime_classes, values)
