"""admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding (cluster-scoped).

Upstream: kubernetes/kubernetes:pkg/apis/admissionregistration/validation/validation.go
(``validateValidatingAdmissionPolicyBindingSpec``, ``validateParamRef``,
``validateValidationActions``), kubernetes/kubernetes:pkg/apis/admissionregistration/v1/
defaults.go (``SetDefaults_MatchResources`` for ``spec.matchResources``),
kubernetes/kubernetes:pkg/registry/admissionregistration/validatingadmissionpolicybinding/
strategy.go (generation 1 on create, bumped on spec changes) and
``printValidatingAdmissionPolicyBinding``.  Upstream's check that the creator may read the
referenced policy's params (``authorizeCreate``) is not done here.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import is_dns1123_subdomain, is_path_segment_name
from resources.core.columns import column

from .rules import (default_match_resources, go_label_selector, go_typed, obj_of, strings_of,
                    validate_match_resources, validate_selector)

ACTIONS = ("Audit", "Deny", "Warn")                  # sets.List() order
NOT_FOUND_ACTIONS = ("Deny", "Allow")                # upstream lists these two in this order
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class ValidatingAdmissionPolicyBindingStrategy(Strategy):
    group = "admissionregistration.k8s.io"
    kind = "ValidatingAdmissionPolicyBinding"
    plural = "validatingadmissionpolicybindings"
    namespaced = False
    categories = ("api-extensions",)
    schema_name = "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding"
    tracks_generation = True
    allow_unconditional_update = False
    columns = (
        column("Name", _META, "name", format="name"),
        column("PolicyName", description="PolicyName indicates the policy definition which the "
               "policy binding binded to"),
        column("ParamRef", description="ParamRef indicates the param resource which sets the "
               "configration param"),
        column("Age", _META, "creationTimestamp"),
    )

    def default(self, obj):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            default_match_resources(spec.get("matchResources"))

    def validate(self, ctx, obj):
        return validate_binding_spec(obj_of(obj.get("spec")), "spec")

    def table_row(self, obj):
        spec = obj_of(obj.get("spec"))
        return [obj["metadata"].get("name", ""), spec.get("policyName", ""),
                param_ref_text(spec.get("paramRef")), age(obj)]


def param_ref_text(ref) -> str:
    """``namespace/name``, ``*/name`` without a namespace, the selector, or ``<unset>``."""
    if not isinstance(ref, dict):
        return "<unset>"
    if ref.get("name"):
        return f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else f"*/{ref['name']}"
    if ref.get("selector") is not None:
        return go_label_selector(obj_of(ref["selector"]))
    return "<unset>"


def validate_binding_spec(spec: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    policy = spec.get("policyName") or ""
    if not policy:
        errs.append(errors.required(path + ".policyName"))
    else:
        errs += [errors.invalid(path + ".policyName", policy, m) for m in is_dns1123_subdomain(policy)]
    errs += validate_param_ref(spec.get("paramRef"), path + ".paramRef")
    # upstream's field path really is misspelt "matchResouces"
    errs += validate_match_resources(spec.get("matchResources"), path + ".matchResouces")
    errs += validate_validation_actions(strings_of(spec.get("validationActions")),
                                        path + ".validationActions")
    return errs


def validate_param_ref(ref, path: str) -> list[FieldError]:
    """``validateParamRef``: name xor selector, and a parameterNotFoundAction."""
    if ref is None:
        return []
    ref = obj_of(ref)
    errs: list[FieldError] = []
    name, selector = ref.get("name") or "", ref.get("selector")
    exclusive = "name and selector are mutually exclusive"
    if name:
        errs += [errors.invalid(path + ".name", name, m) for m in is_path_segment_name(name)]
        if selector is not None:
            errs.append(errors.forbidden(path + ".name", exclusive))
    if selector is not None:
        errs += validate_selector(selector, path + ".selector")
        if name:
            errs.append(errors.forbidden(path + ".selector", exclusive))
    if not name and selector is None:
        errs.append(errors.required(path, "one of name or selector must be specified"))
    action = ref.get("parameterNotFoundAction")
    if not action:
        errs.append(errors.required(path + ".parameterNotFoundAction"))
    elif action not in NOT_FOUND_ACTIONS:
        errs.append(errors.not_supported(path + ".parameterNotFoundAction", action, NOT_FOUND_ACTIONS))
    return errs


def validate_validation_actions(actions: list, path: str) -> list[FieldError]:
    """``validateValidationActions``: known, unique, not both Deny and Warn, at least one."""
    errs: list[FieldError] = []
    seen: set = set()
    for i, action in enumerate(actions):
        if action not in ACTIONS:
            errs.append(errors.not_supported(f"{path}[{i}]", action, ACTIONS))
        if action in seen:
            errs.append(errors.duplicate(f"{path}[{i}]", action))
        seen.add(action)
    if "Deny" in seen and "Warn" in seen:
        errs.append(errors.invalid(path, go_typed("admissionregistration.ValidationAction", actions),
                                   "must not contain both Deny and Warn (repeating the same "
                                   "validation failure information in the API response and "
                                   "headers serves no purpose)"))
    if not seen:
        errs.append(errors.required(path, "at least one validation action is required"))
    return errs
