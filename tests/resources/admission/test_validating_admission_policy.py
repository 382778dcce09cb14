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
    with pytest.raises(errors.Forbidden) as exc:
        cm(stores, "big", {"a": "1", "b": "2"})
    assert str(exc.value) == ("ValidatingAdmissionPolicy 'small' with binding 'small-b' denied "
                              "request: failed expression: size(object.data) <= 1")


def test_params_from_configmap_and_reason(stores):
    cm(stores, "limits", {"max": "1"})
    put(stores, "validatingadmissionpolicies", {"metadata": {"name": "p"}, "spec": {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "matchConstraints": RULES,
        "validations": [{"expression": "size(object.data) <= int(params.data.max)",
                         "reason": "Invalid", "messageExpression": "'too many: ' + "
                         "string(size(object.data))"}]}})
    binding(stores, "b", "p", paramRef={"name": "limits", "namespace": "default",
                                   "parameterNotFoundAction": "Deny"})
    with pytest.raises(errors.Invalid) as exc:
        cm(stores, "x", {"a": "1", "b": "2"})
    assert str(exc.value).endswith("denied request: too many: 2")


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
