"""The parts of CustomResourceDefinition validation outside the versions and schemas:
``spec.conversion``, ``status.storedVersions``, the API-approval annotation of protected
groups and ``spec.preserveUnknownFields``.

Upstream: kubernetes/apiextensions-apiserver:pkg/apis/apiextensions/validation/
validation.go (``validateCustomResourceConversion``, ``validateConversionReviewVersions``,
``ValidateCustomResourceDefinitionStoredVersions``, ``validateAPIApproval``,
``validatePreserveUnknownFields``) and pkg/apihelpers/helpers.go (``GetAPIApprovalState``).
"""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import GoText, go_strings, is_dns1035_label

CONVERSION_STRATEGIES = ("None", "Webhook")
ACCEPTED_REVIEW_VERSIONS = ("v1", "v1beta1")
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
_PR = "https://github.com/kubernetes/enhancements/pull/1111"


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def enum(path: str, value, accepted) -> list[FieldError]:
    """``validateEnumStrings`` for a required field."""
    if not value:
        return [errors.required(path)]
    if value not in accepted:
        return [errors.not_supported(path, value, accepted)]
    return []


def _go_string_list(values) -> GoText:
    return GoText("[]string(nil)") if not values else go_strings(values)


# ---------------------------------------------------------------- conversion

def has_recognized_review_version(conversion) -> bool:
    versions = _list(_obj(conversion).get("conversionReviewVersions"))
    return not versions or any(v in ACCEPTED_REVIEW_VERSIONS for v in versions)


def validate_conversion(conversion, require_recognized: bool, path: str) -> list[FieldError]:
    """``validateCustomResourceConversion`` over the internal shape."""
    if not isinstance(conversion, dict):
        return []
    from resources.admissionregistration.webhooks import (validate_webhook_service,
                                                          validate_webhook_url)
    errs = enum(path + ".strategy", conversion.get("strategy"), CONVERSION_STRATEGIES)
    client = conversion.get("webhookClientConfig")
    versions = conversion.get("conversionReviewVersions")
    if conversion.get("strategy") == "Webhook":
        if not isinstance(client, dict):
            errs.append(errors.required(path + ".webhookClientConfig",
                                        "required when strategy is set to Webhook"))
        elif ("url" in client) == ("service" in client):
            errs.append(errors.required(path + ".webhookClientConfig",
                                        "exactly one of url or service is required"))
        elif "url" in client:
            errs += validate_webhook_url(_str(client["url"]), path + ".webhookClientConfig.url")
        else:
            svc = _obj(client["service"])
            errs += validate_webhook_service(svc.get("namespace"), svc.get("name"),
                                             svc.get("path"), svc.get("port"),
                                             path + ".webhookClientConfig.service")
        errs += _review_versions(_list(versions), require_recognized,
                                 path + ".conversionReviewVersions")
    else:
        if client is not None:
            errs.append(errors.forbidden(path + ".webhookClientConfig",
                                         "should not be set when strategy is not set to Webhook"))
        if _list(versions):
            errs.append(errors.forbidden(path + ".conversionReviewVersions",
                                         "should not be set when strategy is not set to Webhook"))
    return errs


def _review_versions(versions: list, require_recognized: bool, path: str) -> list[FieldError]:
    if not versions:
        return [errors.required(path)]
    errs: list[FieldError] = []
    seen: set = set()
    for i, v in enumerate(versions):
        if v in seen:
            errs.append(errors.invalid(f"{path}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        errs += [errors.invalid(f"{path}[{i}]", v, m) for m in is_dns1035_label(_str(v))]
    if require_recognized and not any(v in ACCEPTED_REVIEW_VERSIONS for v in versions):
        errs.append(errors.invalid(path, go_strings(versions),
                                   "must include at least one of v1, v1beta1"))
    return errs


# ---------------------------------------------------------------- status, approval, pruning

def validate_stored_versions(stored, versions: list, path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionStoredVersions``."""
    stored = [s for s in _list(stored)]
    if not stored:
        return [errors.invalid(path, _go_string_list(stored), "must have at least one stored version")]
    errs: list[FieldError] = []
    index = {v: i for i, v in enumerate(stored)}
    for v in versions:
        name = v.get("name")
        if v.get("storage") is True and name not in index:
            errs.append(errors.invalid(path, go_strings(stored),
                                       f"must have the storage version {_str(name)}"))
        index.pop(name, None)
    for value, i in sorted(index.items(), key=lambda kv: kv[1]):
        errs.append(errors.invalid(f"{path}[{i}]", value, "must appear in spec.versions"))
    return errs


def is_protected_group(group: str) -> bool:
    """``IsProtectedCommunityGroup``: k8s.io, kubernetes.io and their subdomains."""
    return any(group == g or group.endswith("." + g) for g in ("k8s.io", "kubernetes.io"))


def approval_state(annotations: dict) -> tuple[str, str]:
    """``GetAPIApprovalState``: (missing | bypassed | approved | invalid, reason)."""
    from urllib.parse import urlsplit

    value = _str(annotations.get(APPROVAL_ANNOTATION))
    if not value:
        return "missing", (f'protected groups must have approval annotation '
                           f'"{APPROVAL_ANNOTATION}", see {_PR}')
    if value.startswith("unapproved"):
        return "bypassed", f'not approved: "{value}"'
    try:
        parts = urlsplit(value)
        if parts.scheme and parts.netloc:
            return "approved", f"approved in {value}"
    except ValueError:
        pass
    return "invalid", (f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}" '
                       f'with either a URL or a reason starting with "unapproved", see {_PR}')


def validate_api_approval(obj: dict, old: dict | None) -> list[FieldError]:
    """``validateAPIApproval``: *.k8s.io and *.kubernetes.io groups need the annotation."""
    group = _str(_obj(obj.get("spec")).get("group"))
    if not is_protected_group(group):
        return []
    state, reason = approval_state(_obj(_obj(obj.get("metadata")).get("annotations")))
    if old is not None:
        old_state, _ = approval_state(_obj(_obj(old.get("metadata")).get("annotations")))
        if old_state == state:
            return []
    path = f"metadata.annotations[{APPROVAL_ANNOTATION}]"
    if state == "missing":
        return [errors.required(path, reason)]
    if state == "invalid":
        value = _obj(_obj(obj.get("metadata")).get("annotations")).get(APPROVAL_ANNOTATION)
        return [errors.invalid(path, value, reason)]
    return []


def validate_preserve_unknown_fields(spec: dict, old_spec: dict | None) -> list[FieldError]:
    """``validatePreserveUnknownFields``: v1 refuses ``spec.preserveUnknownFields: true``
    (unless the stored object already had it)."""
    if old_spec is not None and old_spec.get("preserveUnknownFields") is True:
        return []
    if spec.get("preserveUnknownFields") is True:
        return [errors.invalid("spec.preserveUnknownFields", True,
                               "cannot set to true, set x-kubernetes-preserve-unknown-fields to "
                               "true in spec.versions[*].schema instead")]
    return []
