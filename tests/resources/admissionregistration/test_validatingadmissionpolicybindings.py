"""admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding: defaults, validation
messages, generation and the Table (ParamRef cell)."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import RequestContext
from resources.admissionregistration.validatingadmissionpolicybindings import (
    ValidatingAdmissionPolicyBindingStrategy)
from tests.apiserver.storage.support import ensure_revision_row

S = ValidatingAdmissionPolicyBindingStrategy()


def binding(name="b", **spec):
    spec.setdefault("policyName", "limit")
    spec.setdefault("validationActions", ["Deny"])
    return {"metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}


def texts(obj):
    S.default(obj)
    return [e.error_text() for e in S.validate(RequestContext(), obj)]


def test_defaults_only_match_resources():
    obj = binding(matchResources={"resourceRules": [{"operations": ["CREATE"], "apiGroups": [""],
                                                     "apiVersions": ["v1"], "resources": ["pods"]}]})
    S.default(obj)
    mr = obj["spec"]["matchResources"]
    assert (mr["matchPolicy"], mr["namespaceSelector"], mr["objectSelector"]) == ("Equivalent", {}, {})
    assert mr["resourceRules"][0]["scope"] == "*"
    assert texts(obj) == []
    plain = binding()
    S.default(plain)
    assert "matchResources" not in plain["spec"]


def test_policy_name_and_actions():
    obj = binding(policyName="", validationActions=[])
    assert texts(obj) == ["spec.policyName: Required value",
                          "spec.validationActions: Required value: at least one validation action "
                          "is required"]
    assert texts(binding(validationActions=["Deny", "Warn", "Deny", "Block"])) == [
        'spec.validationActions[2]: Duplicate value: "Deny"',
        'spec.validationActions[3]: Unsupported value: "Block": supported values: "Audit", "Deny", "Warn"',
        'spec.validationActions: Invalid value: []admissionregistration.ValidationAction{"Deny", '
        '"Warn", "Deny", "Block"}: must not contain both Deny and Warn (repeating the same validation '
        "failure information in the API response and headers serves no purpose)"]
    assert texts(binding(policyName="Not_Valid"))[0].startswith(
        'spec.policyName: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain')


def test_param_ref():
    both = {"name": "p", "selector": {}, "parameterNotFoundAction": "Deny"}
    assert texts(binding(paramRef=both)) == [
        "spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
        "spec.paramRef.selector: Forbidden: name and selector are mutually exclusive"]
    assert texts(binding(paramRef={"parameterNotFoundAction": "Ignore"})) == [
        "spec.paramRef: Required value: one of name or selector must be specified",
        'spec.paramRef.parameterNotFoundAction: Unsupported value: "Ignore": supported values: '
        '"Deny", "Allow"']
    assert texts(binding(paramRef={"name": "p"})) == [
        "spec.paramRef.parameterNotFoundAction: Required value"]


def test_match_resources_path_keeps_upstream_spelling():
    got = [e.field for e in S.validate(RequestContext(), binding(matchResources={}))]
    assert got == ["spec.matchResouces.matchPolicy", "spec.matchResouces.namespaceSelector",
                   "spec.matchResouces.objectSelector"]


def test_table_param_ref_cell():
    assert [c.name for c in S.columns] == ["Name", "PolicyName", "ParamRef", "Age"]
    assert S.table_row(binding())[:3] == ["b", "limit", "<unset>"]
    assert S.table_row(binding(paramRef={"name": "p", "namespace": "ns"}))[2] == "ns/p"
    assert S.table_row(binding(paramRef={"name": "p"}))[2] == "*/p"
    sel = {"matchLabels": {"b": "2", "a": "1"},
           "matchExpressions": [{"key": "env", "operator": "In", "values": ["x", "y"]}]}
    assert S.table_row(binding(paramRef={"selector": sel}))[2] == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:"
        "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:env,Operator:In,Values:[x y],},},}")


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")


def test_store_generation(store, ctx):
    created = orjson.loads(store.create(None, {"metadata": {"name": "b"},
                                               "spec": {"policyName": "p", "validationActions": ["Audit"]}},
                                        ctx))
    assert created["metadata"]["generation"] == 1 and "status" not in created
    doc, _ = store.guaranteed_update(
        None, "b", lambda o: {**o, "spec": {**o["spec"], "policyName": "q"}}, ctx)
    assert orjson.loads(doc)["metadata"]["generation"] == 2
