"""CertificateSigningRequest validation, as upstream renders it.

Upstream: kubernetes/kubernetes:pkg/apis/certificates/validation/validation.go
(``validateCertificateSigningRequest``, ``validateConditions``,
``validateCertificateSigningRequestUpdate`` and the compatibility options of
``getValidationOptions``) and pkg/apis/core/validation/validation.go ``ValidateSignerName``.
Which path a write came through (main resource, ``/status``, ``/approval``) decides what it
may change; the strategy picks the options.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from apiserver.runtime import errors
from apiserver.runtime.validation import GoText, is_dns1123_label, is_dns1123_subdomain

from resources.certificates import pem
from resources.certificates.signers import LEGACY_UNKNOWN

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"
TRUE_ONLY_TYPES = (APPROVED, DENIED, FAILED)
ALL_STATUS_VALUES = ("False", "True", "Unknown")
MIN_EXPIRATION_SECONDS = 600

# upstream allValidUsages, in sets.String.List() (sorted) order
VALID_USAGES = tuple(sorted((
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime",
    "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc")))

DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63
SIGNER_NAME_MAX = DNS1123_SUBDOMAIN_MAX + (DNS1123_SUBDOMAIN_MAX + DNS1123_LABEL_MAX + 1) + 1


@dataclass(frozen=True)
class Options:
    """Upstream ``certificateValidationOptions``: what one write path may do, plus the bad
    data tolerated when the stored object already has it."""

    allow_setting_approval_conditions: bool = False
    allow_setting_certificate: bool = False
    allow_both_approved_and_denied: bool = False
    allow_resetting_certificate: bool = False
    allow_legacy_signer_name: bool = False
    allow_duplicate_condition_types: bool = False
    allow_empty_condition_type: bool = False
    allow_arbitrary_certificate: bool = False
    allow_unknown_usages: bool = False
    allow_duplicate_usages: bool = False


def spec_of(obj: dict) -> dict:
    return obj.get("spec") or {}


def conditions_of(obj: dict) -> list:
    return (obj.get("status") or {}).get("conditions") or []


def certificate_of(obj: dict) -> bytes:
    return pem.decode_bytes((obj.get("status") or {}).get("certificate"))


def has_condition(obj: dict, ctype: str) -> bool:
    return any(c.get("type") == ctype for c in conditions_of(obj))


def has_true_condition(obj: dict, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conditions_of(obj))


def _go_bytes(data: bytes | None) -> GoText:
    """Go's ``%#v`` of a ``[]byte``, as a field error prints it."""
    if not data:
        return GoText("[]byte(nil)" if data is None else "[]byte{}")
    return GoText("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def options_for(new: dict, old: dict | None) -> Options:
    """Upstream ``getValidationOptions``: tolerate on update what the stored object has."""
    if old is None:
        return Options()
    old_types = [c.get("type") for c in conditions_of(old)]
    old_usages = spec_of(old).get("usages") or []
    old_cert = certificate_of(old)
    return Options(
        allow_both_approved_and_denied=APPROVED in old_types and DENIED in old_types,
        allow_legacy_signer_name=spec_of(old).get("signerName") == LEGACY_UNKNOWN,
        allow_duplicate_condition_types=len(set(old_types)) != len(old_types),
        allow_empty_condition_type=any(not t for t in old_types),
        allow_arbitrary_certificate=(certificate_of(new) == old_cert
                                     or pem.certificate_error(old_cert) is not None),
        allow_unknown_usages=any(u not in VALID_USAGES for u in old_usages),
        allow_duplicate_usages=len(set(old_usages)) != len(old_usages))


def validate_signer_name(path: str, name) -> list:
    """Upstream ``ValidateSignerName``: ``<domain with a dot>/<path of subdomains>``."""
    if not name:
        return [errors.required(path)]
    name = str(name)
    segments = name.split("/")
    if len(segments) != 2:
        return [errors.invalid(path, name, "must be a fully qualified domain and path of the "
                                           "form 'example.com/signer-name'")]
    domain, rest = segments
    errs = []
    if len(domain) > DNS1123_SUBDOMAIN_MAX:
        errs.append(errors.too_long(path, "", DNS1123_SUBDOMAIN_MAX))
    labels = domain.split(".")
    for label in labels:
        found = is_dns1123_label(label)
        if found:
            errs += [errors.invalid(path, domain, f'validating label "{label}": {m}') for m in found]
            break
    if len(labels) < 2:
        errs.append(errors.invalid(path, domain,
                                   "should be a domain with at least two segments separated by dots"))
    for label in rest.split("."):
        found = is_dns1123_subdomain(label)
        if found:
            errs += [errors.invalid(path, rest, f'validating label "{label}": {m}') for m in found]
            break
    if len(name) > SIGNER_NAME_MAX:
        errs.append(errors.too_long(path, "", SIGNER_NAME_MAX))
    return errs


def validate_conditions(obj: dict, opts: Options, path: str = "status.conditions") -> list:
    errs, seen = [], set()
    approved = denied = False
    for i, c in enumerate(conditions_of(obj)):
        ctype, status = c.get("type") or "", c.get("status") or ""
        if not opts.allow_empty_condition_type and not ctype:
            errs.append(errors.required(f"{path}[{i}].type"))
        allowed = ("True",) if ctype in TRUE_ONLY_TYPES else ALL_STATUS_VALUES
        if not status:
            errs.append(errors.required(f"{path}[{i}].status"))
        elif status not in allowed:
            errs.append(errors.not_supported(f"{path}[{i}].status", status, allowed))
        if not opts.allow_both_approved_and_denied:
            if ctype == APPROVED:
                approved = True
                if denied:
                    errs.append(errors.invalid(f"{path}[{i}].type", ctype,
                                               "Approved and Denied conditions are mutually exclusive"))
            elif ctype == DENIED:
                denied = True
                if approved:
                    errs.append(errors.invalid(f"{path}[{i}].type", ctype,
                                               "Approved and Denied conditions are mutually exclusive"))
        if not opts.allow_duplicate_condition_types:
            if ctype in seen:
                errs.append(errors.duplicate(f"{path}[{i}].type", ctype))
            seen.add(ctype)
    return errs


def validate_csr(obj: dict, opts: Options) -> list:
    """Upstream ``validateCertificateSigningRequest`` (ObjectMeta is validated generically;
    any name is accepted, ``ValidateCertificateRequestName``)."""
    spec = spec_of(obj)
    errs = []
    raw = spec.get("request")
    request = pem.decode_bytes(raw)
    problem = pem.csr_error(request)
    if problem:
        errs.append(errors.invalid("spec.request", _go_bytes(None if raw is None else request), problem))
    usages = spec.get("usages") or []
    if not usages:
        errs.append(errors.required("spec.usages"))
    if not opts.allow_unknown_usages:
        for i, usage in enumerate(usages):
            if usage not in VALID_USAGES:
                errs.append(errors.not_supported(f"spec.usages[{i}]", usage, VALID_USAGES))
    if not opts.allow_duplicate_usages:
        seen = set()
        for i, usage in enumerate(usages):
            if usage in seen:
                errs.append(errors.duplicate(f"spec.usages[{i}]", usage))
            seen.add(usage)
    signer = spec.get("signerName")
    if not opts.allow_legacy_signer_name and signer == LEGACY_UNKNOWN:
        errs.append(errors.invalid("spec.signerName", signer,
                                   "the legacy signerName is not allowed via this API version"))
    else:
        errs += validate_signer_name("spec.signerName", signer)
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds < MIN_EXPIRATION_SECONDS:
        errs.append(errors.invalid("spec.expirationSeconds", seconds,
                                   "may not specify a duration less than 600 seconds (10 minutes)"))
    errs += validate_conditions(obj, opts)
    if not opts.allow_arbitrary_certificate:
        problem = pem.certificate_error(certificate_of(obj))
        if problem:
            errs.append(errors.invalid("status.certificate", "<certificate data>", problem))
    return errs


def _of_type(obj: dict, ctype: str) -> list:
    return [c for c in conditions_of(obj) if c.get("type") == ctype]


def validate_csr_update(new: dict, old: dict, opts: Options) -> list:
    """Upstream ``validateCertificateSigningRequestUpdate`` (the ObjectMeta update rules run
    generically in the Store)."""
    errs = validate_csr(new, opts)
    for ctype in TRUE_ONLY_TYPES:
        if len(_of_type(new, ctype)) < len(_of_type(old, ctype)):
            errs.append(errors.forbidden("status.conditions",
                                         f'updates may not remove a condition of type "{ctype}"'))
    if not opts.allow_setting_approval_conditions:
        for ctype in (APPROVED, DENIED):
            before, after = _of_type(old, ctype), _of_type(new, ctype)
            if len(after) > len(before):
                errs.append(errors.forbidden("status.conditions",
                                             f'updates may not add a condition of type "{ctype}"'))
            elif len(after) == len(before) and after != before:
                errs.append(errors.forbidden("status.conditions",
                                             f'updates may not modify a condition of type "{ctype}"'))
    new_cert, old_cert = certificate_of(new), certificate_of(old)
    if new_cert != old_cert:
        if not opts.allow_setting_certificate:
            errs.append(errors.forbidden("status.certificate",
                                         "updates may not set certificate content"))
        elif not opts.allow_resetting_certificate and old_cert:
            errs.append(errors.forbidden("status.certificate",
                                         "updates may not modify existing certificate content"))
        elif new_cert and not has_true_condition(new, APPROVED):
            # not an upstream rule (upstream leaves it to the signers and the CertificateSigning
            # admission plugin): a certificate is only ever issued for an approved request
            errs.append(errors.forbidden("status.certificate",
                                         "a certificate may only be issued for an approved request"))
    return errs


def validate_create(obj: dict) -> list:
    return validate_csr(obj, options_for(obj, None))


def validate_update(new: dict, old: dict) -> list:
    return validate_csr_update(new, old, options_for(new, old))


def validate_status_update(new: dict, old: dict) -> list:
    return validate_csr_update(new, old, replace(options_for(new, old),
                                                 allow_setting_certificate=True))


def validate_approval_update(new: dict, old: dict) -> list:
    return validate_csr_update(new, old, replace(options_for(new, old),
                                                 allow_setting_approval_conditions=True))


def preserve_condition_instances(new: dict, old: dict, ctype: str) -> bool:
    """Upstream ``preserveConditionInstances``: when ``new`` has as many ``ctype``
    conditions as ``old``, put the stored ones back in their places."""
    new_conds = conditions_of(new)
    old_idx = [i for i, c in enumerate(conditions_of(old)) if c.get("type") == ctype]
    new_idx = [i for i, c in enumerate(new_conds) if c.get("type") == ctype]
    if len(old_idx) != len(new_idx):
        return False
    for o, n in zip(old_idx, new_idx):
        new_conds[n] = copy.deepcopy(conditions_of(old)[o])
    return True


def populate_condition_timestamps(new: dict, old: dict, now: str) -> None:
    """Upstream ``populateConditionTimestamps``: missing lastUpdateTime is now; a missing
    lastTransitionTime is kept from a stored condition of the same type and status."""
    for c in conditions_of(new):
        if not c.get("lastUpdateTime"):
            c["lastUpdateTime"] = now
        if not c.get("lastTransitionTime"):
            transition = now
            for o in conditions_of(old):
                if (o.get("type") == c.get("type") and o.get("status") == c.get("status")
                        and o.get("lastTransitionTime")):
                    transition = o["lastTransitionTime"]
                    break
            c["lastTransitionTime"] = transition
