"""ValidatingAdmissionPolicy: a bound policy refuses with upstream's text, Warn only warns,
params come from a ConfigMap, broken expressions follow failurePolicy."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server

G = "admissionregistration.k8s.io"
RULES = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]}


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("ValidatingAdmissionPolicy",))[0].stores


def put(stores, resource, obj, ns=None, group=G):
    ctx = system_context("t")
    stores.store(group, "v1", resource).create(ns, obj, ctx)


def policy(stores, name, expression, **spec):
    put(stores, "validatingadmissionpolicies", {"metadata": {"name": name}, "spec": dict(
        {"matchConstraints": RULES, "validations": [{"expression": expression}]}, **spec)})


def binding(stores, name, policy_name, actions=("Deny",), **spec):
    put(stores, "validatingadmissionpolicybindings", {"metadata": {"name": name}, "spec": dict(
        {"policyName": policy_name, "validationActions": list(actions)}, **spec)})


def cm(stores, name, data, ns="default"):
    ctx = system_context("t")
    return orjson.loads(stores.store("", "v1", "configmaps").create(
        ns, {"metadata": {"name": name}, "data": data}, ctx))


def test_deny_with_upstream_message(stores):
    policy(stores, "small", "size(object.data) <= 1")
    binding(stores, "small-b", "small")
    cm(stores, "ok", {"a": "1"})
    with pytest.raises(errors.APIError) as exc:
        cm(stores, "big", {"a": "1", "b": "2"})
    text = ("ValidatingAdmissionPolicy 'small' with binding 'small-b' denied request: failed "
            "expression: size(object.data) <= 1")
    status = exc.value.to_status()
    # upstream: admission.NewForbidden's text, reason Invalid (422), the text as a cause
    assert status["message"] == f'configmaps "big" is forbidden: {text}'
    assert (status["reason"], status["code"]) == ("Invalid", 422)
    assert status["details"] == {"name": "big", "kind": "configmaps",
                                 "causes": [{"message": text}]}


def test_params_from_configmap_and_reason(stores):
    cm(stores, "limits", {"max": "1"})
    put(stores, "validatingadmissionpolicies", {"metadata": {"name": "p"}, "spec": {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "matchConstraints": RULES,
        "validations": [{"expression": "size(object.data) <= int(params.data.max)",
                         "reason": "Invalid", "messageExpression": "'too many: ' + "
                         "string(size(object.data))"}]}})
    binding(stores, "b", "p", paramRef={"name": "limits", "namespace": "default",
                                   "parameterNotFoundAction": "Deny"})
    with pytest.raises(errors.APIError) as exc:
        cm(stores, "x", {"a": "1", "b": "2"})
    assert str(exc.value).endswith("denied request: too many: 2")
    assert exc.value.code == 422 and exc.value.reason == "Invalid"


def test_broken_expression_follows_failure_policy(stores):
    policy(stores, "broken", "nosuch(object)", failurePolicy="Ignore")
    binding(stores, "b", "broken")
    cm(stores, "fine", {"a": "1", "b": "2"})


def test_warn_only_warns(stores):
    from apiserver.admission.base import Attributes
    policy(stores, "w", "size(object.data) <= 1", failurePolicy="Fail")
    binding(stores, "wb", "w", actions=("Warn",))
    from resources.admission.validating_admission_policy import ValidatingAdmissionPolicy
    plugin = ValidatingAdmissionPolicy()
    plugin.set_stores(stores)
    attrs = Attributes("CREATE", "", "v1", "ConfigMap", "configmaps", "", "default", "x",
                       {"metadata": {"name": "x"}, "data": {"a": "1", "b": "2"}}, None)
    plugin.validate(attrs)
    assert attrs.warnings == ["Validation failed for ValidatingAdmissionPolicy 'w' with binding "
                              "'wb': failed expression: size(object.data) <= 1"]


def _attrs(data, name="x", ns="default"):
    from apiserver.admission.base import Attributes
    return Attributes("CREATE", "", "v1", "ConfigMap", "configmaps", "", ns, name,
                      {"metadata": {"name": name}, "data": data}, None)


def _plugin(stores):
    from resources.admission.validating_admission_policy import ValidatingAdmissionPolicy
    plugin = ValidatingAdmissionPolicy()
    plugin.set_stores(stores)
    return plugin


def test_selector_params_each_evaluated_and_forbidden_reason(stores):
    ctx = system_context("t")
    for name, limit in (("small", "1"), ("large", "5"), ("other", "0")):
        stores.store("", "v1", "configmaps").create("default", {
            "metadata": {"name": name, "labels": {"role": "limit" if name != "other" else "x"}},
            "data": {"max": limit}}, ctx)
    put(stores, "validatingadmissionpolicies", {"metadata": {"name": "p"}, "spec": {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "matchConstraints": RULES,
        "validations": [{"expression": "!has(object.data) || size(object.data) <= "
                         "int(params.data.max)", "reason": "Forbidden",
                         "messageExpression": "'limit ' + params.metadata.name"}]}})
    binding(stores, "b", "p", paramRef={"selector": {"matchLabels": {"role": "limit"}},
                                        "parameterNotFoundAction": "Deny"})
    plugin = _plugin(stores)
    plugin.validate(_attrs({"a": "1"}))          # within both selected limits
    with pytest.raises(errors.APIError) as exc:
        plugin.validate(_attrs({"a": "1", "b": "2"}))
    assert exc.value.code == 403 and exc.value.reason == "Forbidden"
    assert str(exc.value).endswith("denied request: limit small")


def test_missing_params_refuse_whatever_the_actions(stores):
    put(stores, "validatingadmissionpolicies", {"metadata": {"name": "p"}, "spec": {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "matchConstraints": RULES,
        "validations": [{"expression": "true"}]}})
    binding(stores, "b", "p", actions=("Warn",), paramRef={
        "name": "absent", "parameterNotFoundAction": "Deny"})
    with pytest.raises(errors.APIError) as exc:
        _plugin(stores).validate(_attrs({}))
    assert str(exc.value) == (
        'configmaps "x" is forbidden: ValidatingAdmissionPolicy \'p\' with binding \'b\' denied '
        "request: failed to configure binding: no params found for policy binding with "
        "`Deny` parameterNotFoundAction")
    # parameterNotFoundAction Allow: nothing to evaluate, admitted
    put(stores, "validatingadmissionpolicybindings", {"metadata": {"name": "b2"}, "spec": {
        "policyName": "p", "validationActions": ["Deny"],
        "paramRef": {"name": "absent", "parameterNotFoundAction": "Allow"}}})
    plugin = _plugin(stores)
    stores.store(G, "v1", "validatingadmissionpolicybindings").delete(
        None, "b", {}, system_context("t"))
    plugin.validate(_attrs({}))


def test_audit_action_and_audit_annotations(stores):
    import json
    stores.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}},
                                                system_context("t"))
    put(stores, "validatingadmissionpolicies", {"metadata": {"name": "a"}, "spec": {
        "matchConstraints": RULES,
        "validations": [{"expression": "true"}, {"expression": "size(object.data) <= 1",
                                                 "message": "too big"}],
        "auditAnnotations": [
            {"key": "size", "valueExpression": "string(size(object.data))"},
            {"key": "team", "valueExpression": "namespaceObject.metadata.name == 'default' ? "
                                               "'core' : null"}]}})
    binding(stores, "ab", "a", actions=("Audit", "Warn"))
    attrs = _attrs({"a": "1", "b": "2"})
    _plugin(stores).validate(attrs)                # Audit and Warn never refuse
    failure = json.loads(attrs.annotations.pop(
        "validation.policy.admission.k8s.io/validation_failure"))
    assert failure == [{"message": "too big", "policy": "a", "binding": "ab",
                        "expressionIndex": 1, "validationActions": ["Audit", "Warn"]}]
    assert attrs.annotations == {"a/size": "2", "a/team": "core"}
    assert attrs.warnings == ["Validation failed for ValidatingAdmissionPolicy 'a' with "
                              "binding 'ab': too big"]


def test_binding_narrowed_by_namespace_selector_alone(stores):
    """A binding's matchResources with only a namespaceSelector (no resourceRules) keeps the
    policy's rules and narrows them to the selected namespaces."""
    ctx = system_context("t")
    for ns in ("picked", "other"):
        stores.store("", "v1", "namespaces").create(
            None, {"metadata": {"name": ns, "labels": {"team": ns}}}, ctx)
    policy(stores, "small", "size(object.data) <= 1")
    binding(stores, "small-b", "small",
            matchResources={"namespaceSelector": {"matchLabels": {"team": "picked"}}})
    cm(stores, "fine", {"a": "1", "b": "2"}, ns="other")
    with pytest.raises(errors.APIError) as exc:
        cm(stores, "big", {"a": "1", "b": "2"}, ns="picked")
    assert "with binding 'small-b' denied request" in str(exc.value)
