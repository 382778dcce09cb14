"""What Mutating- and ValidatingWebhookConfiguration share: a base Strategy with the
webhook defaults, validation (create and update ratchets) and the Table.

Upstream: kubernetes/kubernetes:pkg/apis/admissionregistration/v1/defaults.go
(``SetDefaults_ValidatingWebhook``, ``SetDefaults_MutatingWebhook``,
``SetDefaults_ServiceReference``), kubernetes/kubernetes:pkg/apis/admissionregistration/
validation/validation.go (``validateValidatingWebhook``, ``validateMutatingWebhook``,
``validateAdmissionReviewVersions`` and the ``*Update`` ratchets), kubernetes/apiserver:
pkg/util/webhook/validation.go (``ValidateWebhookURL``, ``ValidateWebhookService``),
kubernetes/kubernetes:pkg/registry/admissionregistration/*webhookconfiguration/strategy.go
(generation bumped when ``webhooks`` change) and ``printMutatingWebhook`` /
``printValidatingWebhook``.  Calling the webhooks is the admission chain's business.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from apiserver.registry.printers import age
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import (go_strings, is_dns1035_label, is_dns1123_subdomain,
                                          validate_port_number)
from resources.core.columns import column

from .rules import (FAILURE_POLICIES, MATCH_POLICIES, default_rule, obj_of, strings_of,
                    validate_match_conditions, validate_rule_with_operations, validate_selector)

ACCEPTED_REVIEW_VERSIONS = ("v1", "v1beta1")
NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
ALL_SIDE_EFFECTS = ("None", "NoneOnDryRun", "Some", "Unknown")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
DEFAULT_TIMEOUT = 10
_URL_FORM = "; desired format: https://host[/path]"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class WebhookConfigurationStrategy(Strategy):
    """Base of the two webhook configuration kinds; ``mutating`` adds reinvocationPolicy."""

    group = "admissionregistration.k8s.io"
    namespaced = False
    categories = ("api-extensions",)
    tracks_generation = True
    allow_unconditional_update = False     # upstream AllowUnconditionalUpdate: false
    mutating = False
    columns = (
        column("Name", _META, "name", format="name"),
        column("Webhooks", type="integer", description="Webhooks indicates the number of "
               "webhooks registered in this configuration"),
        column("Age", _META, "creationTimestamp"),
    )

    def default(self, obj):
        for hook in strings_of(obj.get("webhooks")):
            if isinstance(hook, dict):
                default_webhook(hook, self.mutating)

    def validate(self, ctx, obj):
        return validate_webhooks(strings_of(obj.get("webhooks")), self.mutating, Ratchets())

    def validate_update(self, ctx, new, old):
        old_hooks = [obj_of(h) for h in strings_of(old.get("webhooks"))]
        new_hooks = [obj_of(h) for h in strings_of(new.get("webhooks"))]
        return validate_webhooks(new_hooks, self.mutating, Ratchets.from_old(new_hooks, old_hooks))

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), len(strings_of(obj.get("webhooks"))), age(obj)]


# ---------------------------------------------------------------- defaults

def default_webhook(hook: dict, mutating: bool) -> None:
    """``SetDefaults_{Validating,Mutating}Webhook`` and those of the structs inside."""
    if hook.get("failurePolicy") is None:
        hook["failurePolicy"] = "Fail"
    if hook.get("matchPolicy") is None:
        hook["matchPolicy"] = "Equivalent"
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is None:
            hook[key] = {}
    if hook.get("timeoutSeconds") is None:
        hook["timeoutSeconds"] = DEFAULT_TIMEOUT
    if mutating and hook.get("reinvocationPolicy") is None:
        hook["reinvocationPolicy"] = "Never"
    for rule in strings_of(hook.get("rules")):
        default_rule(rule)
    service = obj_of(hook.get("clientConfig")).get("service")
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


# ---------------------------------------------------------------- validation

class Ratchets:
    """Upstream's ``validationOptions`` for webhooks: strict on create; on update a rule
    that the stored object already broke is relaxed so it can still be edited."""

    def __init__(self, *, ignore_match_conditions=False, require_no_side_effects=True,
                 require_recognized_versions=True, require_unique_names=True,
                 allow_invalid_selector_values=False):
        self.ignore_match_conditions = ignore_match_conditions
        self.require_no_side_effects = require_no_side_effects
        self.require_recognized_versions = require_recognized_versions
        self.require_unique_names = require_unique_names
        self.allow_invalid_selector_values = allow_invalid_selector_values

    @classmethod
    def from_old(cls, new_hooks: list, old_hooks: list) -> "Ratchets":
        names = [h.get("name") for h in old_hooks]
        return cls(
            ignore_match_conditions=len(new_hooks) == len(old_hooks) and all(
                n.get("matchConditions") == o.get("matchConditions")
                for n, o in zip(new_hooks, old_hooks)),
            require_no_side_effects=all(h.get("sideEffects") in NO_SIDE_EFFECTS for h in old_hooks),
            require_recognized_versions=all(
                not strings_of(h.get("admissionReviewVersions"))
                or any(v in ACCEPTED_REVIEW_VERSIONS for v in strings_of(h.get("admissionReviewVersions")))
                for h in old_hooks),
            require_unique_names=len(names) == len(set(names)),
            allow_invalid_selector_values=any(
                validate_selector(h.get(key), key) for h in old_hooks
                for key in ("namespaceSelector", "objectSelector") if h.get(key) is not None))


def validate_webhooks(hooks: list, mutating: bool, opts: Ratchets) -> list[FieldError]:
    """``validate{Validating,Mutating}WebhookConfiguration`` after ObjectMeta."""
    errs: list[FieldError] = []
    names: set = set()
    for i, hook in enumerate(hooks):
        hook, path = obj_of(hook), f"webhooks[{i}]"
        errs += validate_webhook(hook, mutating, opts, path)
        errs += validate_review_versions(strings_of(hook.get("admissionReviewVersions")),
                                         opts.require_recognized_versions,
                                         path + ".admissionReviewVersions")
        name = hook.get("name") or ""
        if opts.require_unique_names and name:
            if name in names:
                errs.append(errors.duplicate(path + ".name", name))
            names.add(name)
    return errs


def validate_webhook(hook: dict, mutating: bool, opts: Ratchets, path: str) -> list[FieldError]:
    errs = fully_qualified_name(hook.get("name") or "", path + ".name")
    for i, rule in enumerate(strings_of(hook.get("rules"))):
        errs += validate_rule_with_operations(obj_of(rule), f"{path}.rules[{i}]")
    policy = hook.get("failurePolicy")
    if policy is not None and policy not in FAILURE_POLICIES:
        errs.append(errors.not_supported(path + ".failurePolicy", policy, FAILURE_POLICIES))
    match = hook.get("matchPolicy")
    if match is not None and match not in MATCH_POLICIES:
        errs.append(errors.not_supported(path + ".matchPolicy", match, MATCH_POLICIES))
    allowed = NO_SIDE_EFFECTS if opts.require_no_side_effects else ALL_SIDE_EFFECTS
    effects = hook.get("sideEffects")
    if effects is None:
        errs.append(errors.required(path + ".sideEffects", "must specify one of " + ", ".join(allowed)))
    elif effects not in allowed:
        errs.append(errors.not_supported(path + ".sideEffects", effects, allowed))
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= 30:
        errs.append(errors.invalid(path + ".timeoutSeconds", timeout,
                                   "the timeout value must be between 1 and 30 seconds"))
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            errs += validate_selector(hook[key], f"{path}.{key}",
                                      allow_invalid_values=opts.allow_invalid_selector_values)
    if mutating:
        reinvocation = hook.get("reinvocationPolicy")
        if reinvocation is not None and reinvocation not in REINVOCATION_POLICIES:
            errs.append(errors.not_supported(path + ".reinvocationPolicy", reinvocation,
                                             REINVOCATION_POLICIES))
    errs += validate_client_config(obj_of(hook.get("clientConfig")), path + ".clientConfig")
    if not opts.ignore_match_conditions:
        errs += validate_match_conditions(hook.get("matchConditions"), path + ".matchConditions")
    return errs


def fully_qualified_name(name: str, path: str) -> list[FieldError]:
    """``utilvalidation.IsFullyQualifiedName``: a DNS subdomain of at least three labels."""
    if not name:
        return [errors.required(path)]
    msgs = is_dns1123_subdomain(name)
    if msgs:
        return [errors.invalid(path, name, ",".join(msgs))]
    if len(name.split(".")) < 3:
        return [errors.invalid(path, name, "should be a domain with at least three segments "
                                           "separated by dots")]
    return []


def validate_review_versions(versions: list, require_recognized: bool, path: str) -> list[FieldError]:
    """``validateAdmissionReviewVersions``."""
    accepted = ", ".join(ACCEPTED_REVIEW_VERSIONS)
    if not versions:
        return [errors.required(path, f"must specify one of {accepted}")]
    errs: list[FieldError] = []
    seen: set = set()
    for i, v in enumerate(versions):
        if v in seen:
            errs.append(errors.invalid(f"{path}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        errs += [errors.invalid(f"{path}[{i}]", v, m) for m in is_dns1035_label(str(v))]
    if require_recognized and not seen & set(ACCEPTED_REVIEW_VERSIONS):
        errs.append(errors.invalid(path, go_strings(versions), f"must include at least one of {accepted}"))
    return errs


def validate_client_config(cc: dict, path: str) -> list[FieldError]:
    """Exactly one of url and service, each checked as upstream's webhook utilities do."""
    url, service = cc.get("url"), cc.get("service")
    if (url is None) == (service is None):
        return [errors.required(path, "exactly one of url or service is required")]
    if url is not None:
        return validate_webhook_url(str(url), path + ".url")
    service = obj_of(service)
    # upstream passes (Name, Namespace) into ValidateWebhookService(namespace, name, …), so
    # a missing name is reported as the namespace and the other way round; kept as served
    return validate_webhook_service(service.get("name") or "", service.get("namespace") or "",
                                    service.get("path"), service.get("port", 443),
                                    path + ".service")


def validate_webhook_url(url: str, path: str) -> list[FieldError]:
    """``ValidateWebhookURL`` with https forced.  Go's ``url.Parse`` is approximated by
    ``urlsplit``: its parse errors for control characters, bad brackets and a colon in a
    scheme-less first segment are reproduced; other Go-only errors are not."""
    problem = _go_url_error(url)
    if problem:
        return [errors.required(path, f'url must be a valid URL: parse "{url}": {problem}{_URL_FORM}')]
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    errs: list[FieldError] = []
    if parts.scheme.lower() != "https":
        errs.append(errors.invalid(path, parts.scheme.lower(),
                                   "'https' is the only allowed URL scheme" + _URL_FORM))
    if not host:
        errs.append(errors.invalid(path, host, "host must be specified" + _URL_FORM))
    if at:
        errs.append(errors.invalid(path, userinfo, "user information is not permitted in the URL"))
    if parts.fragment:
        errs.append(errors.invalid(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        errs.append(errors.invalid(path, parts.query, "query parameters are not permitted in the URL"))
    return errs


def _go_url_error(url: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "net/url: invalid control character in URL"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "missing ']' in host"
    if not parts.scheme and ":" in url.split("/", 1)[0]:
        return "first path segment in URL cannot contain colon" if not url.startswith(":") \
            else "missing protocol scheme"
    return ""


def validate_webhook_service(namespace: str, name: str, url_path, port, path: str) -> list[FieldError]:
    """``ValidateWebhookService(fldPath, namespace, name, path, port)``."""
    errs: list[FieldError] = []
    if not name:
        errs.append(errors.required(path + ".name", "service name is required"))
    if not namespace:
        errs.append(errors.required(path + ".namespace", "service namespace is required"))
    if isinstance(port, int):
        errs += [errors.invalid(path + ".port", port, "port is not valid: " + e.detail)
                 for e in validate_port_number(port, path + ".port")]
    if url_path is None or url_path in ("", "/"):
        return errs
    url_path = str(url_path)
    if url_path == "//":
        return errs + [errors.invalid(path + ".path", url_path, "segment[0] may not be empty")]
    if not url_path.startswith("/"):
        errs.append(errors.invalid(path + ".path", url_path, "must start with a '/'"))
    check = url_path[1:]
    if check.endswith("/"):
        check = check[:-1]
    for i, step in enumerate(check.split("/")):
        if not step:
            errs.append(errors.invalid(path + ".path", url_path, f"segment[{i}] may not be empty"))
            continue
        errs += [errors.invalid(path + ".path", url_path, f"segment[{i}]: {m}")
                 for m in is_dns1123_subdomain(step)]
    return errs
