"""admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy: defaults, validation
messages, /status, generation and the Table."""
from __future__ import annotations

import copy

import orjson

from apiserver.registry.context import RequestContext
from resources.admissionregistration.validatingadmissionpolicies import (
    ValidatingAdmissionPolicyStrategy)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

S = ValidatingAdmissionPolicyStrategy()
BASE = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
RULE = {"operations": ["CREATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
        "resources": ["deployments"]}


def policy(name="limit", **spec):
    spec.setdefault("matchConstraints", {"resourceRules": [dict(RULE)]})
    spec.setdefault("validations", [{"expression": "object.spec.replicas <= 5"}])
    return {"metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}


def texts(obj):
    S.default(obj)
    return [e.error_text() for e in S.validate(RequestContext(), obj)]


def test_declarations_and_defaults():
    assert S.has_status() and S.tracks_generation and not S.namespaced
    assert S.categories == ("api-extensions",) and not S.allow_unconditional_update
    obj = policy()
    S.default(obj)
    assert obj["spec"]["failurePolicy"] == "Fail"
    mc = obj["spec"]["matchConstraints"]
    assert (mc["matchPolicy"], mc["namespaceSelector"], mc["objectSelector"]) == ("Equivalent", {}, {})
    assert mc["resourceRules"][0]["scope"] == "*"
    assert texts(policy()) == []


def test_validations_or_audit_annotations_required():
    obj = policy()
    del obj["spec"]["validations"]
    msg = "Required value: validations or auditAnnotations must contain at least one item"
    assert texts(obj) == [f"spec.validations: {msg}", f"spec.auditAnnotations: {msg}"]
    assert texts(policy(validations=[], auditAnnotations=[{"key": "k", "valueExpression": "'v'"}])) == []


def test_match_constraints():
    obj = policy()
    del obj["spec"]["matchConstraints"]
    assert texts(obj) == ["spec.matchConstraints: Required value"]
    assert texts(policy(matchConstraints={"matchPolicy": "Loose"})) == [
        'spec.matchConstraints.matchPolicy: Unsupported value: "Loose": supported values: '
        '"Equivalent", "Exact"',
        "spec.matchConstraints.resourceRules: Required value"]
    named = dict(RULE, resourceNames=["a", "a", "b/c"], operations=[])
    assert texts(policy(matchConstraints={"resourceRules": [named]})) == [
        'spec.matchConstraints.resourceRules[0].resourceNames[1]: Duplicate value: "a"',
        "spec.matchConstraints.resourceRules[0].resourceNames[2]: Invalid value: \"b/c\": may not "
        "contain '/'",
        "spec.matchConstraints.resourceRules[0].operations: Required value"]


def test_expressions_and_messages():
    validations = [{"expression": " "}, {"expression": "true", "message": "a\nb", "reason": "Gone"},
                   {"expression": "true", "messageExpression": "  "}]
    assert texts(policy(validations=validations, failurePolicy="Maybe")) == [
        'spec.failurePolicy: Unsupported value: "Maybe": supported values: "Fail", "Ignore"',
        "spec.validations[0].expression: Required value: expression is not specified",
        'spec.validations[1].message: Invalid value: "a\nb": message must not contain line breaks',
        'spec.validations[1].reason: Unsupported value: "Gone": supported values: "Forbidden", '
        '"Invalid", "RequestEntityTooLarge"',
        'spec.validations[2].messageExpression: Invalid value: "  ": must be non-empty if specified']


def test_variables_param_kind_and_audit_annotations():
    obj = policy(variables=[{"name": "if", "expression": "1"}, {"name": "x"}],
                 paramKind={"apiVersion": "a/b/c", "kind": "Bad_Kind"},
                 auditAnnotations=[{"key": "ok", "valueExpression": "'x'"},
                                   {"key": "ok", "valueExpression": ""}])
    assert texts(obj) == [
        'spec.paramKind.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
        'spec.paramKind.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise '
        "match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
        "with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.variables[0].name: Invalid value: "if": name is not a valid CEL identifier',
        "spec.variables[1].expression: Required value: expression is not specified",
        "spec.auditAnnotations[1].valueExpression: Required value: valueExpression is not specified",
        'spec.auditAnnotations[1].key: Duplicate value: "ok"']
    assert texts(policy(paramKind={"apiVersion": "v1", "kind": "ConfigMap"})) == []


def test_table():
    assert [c.name for c in S.columns] == ["Name", "Validations", "ParamKind", "Age"]
    assert S.table_row(policy())[:3] == ["limit", 1, "<unset>"]
    assert S.table_row(policy(paramKind={"apiVersion": "v1", "kind": "ConfigMap"}))[2] == "v1/ConfigMap"


def test_status_conditions_validated():
    status = {"conditions": [{"type": "Ready", "status": "Maybe", "reason": "9lives"},
                             {"type": "Ready", "status": "True", "reason": "Ok",
                              "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    got = [e.error_text() for e in S.validate_status_update(RequestContext(), {"status": status}, {})]
    assert got[0] == ('status.conditions[0].status: Unsupported value: "Maybe": supported values: '
                      '"False", "True", "Unknown"')
    assert got[1] == "status.conditions[0].lastTransitionTime: Required value: must be set"
    assert got[2].startswith('status.conditions[0].reason: Invalid value: "9lives": a condition '
                             "reason must start with alphabetic character")
    assert got[3:] == ['status.conditions[1].type: Duplicate value: "Ready"']


def test_http_status_subresource_and_generation(db):
    ensure_revision_row()
    client = ASGIClient(in_process_app()[1])
    body = policy()
    body["status"] = {"observedGeneration": 7}
    created = client.post(BASE, body)
    assert created.status_code == 201, created.content
    obj = created.json()
    assert obj["metadata"]["generation"] == 1 and obj["status"] == {}     # reset on create
    # a status write changes only status
    obj["status"] = {"observedGeneration": 1, "typeChecking": {"expressionWarnings": []}}
    obj["spec"]["validations"] = [{"expression": "false"}]
    resp = client.put(f"{BASE}/limit/status", obj)
    assert resp.status_code == 200, resp.content
    written = resp.json()
    assert written["status"]["observedGeneration"] == 1
    assert written["spec"]["validations"] == [{"expression": "object.spec.replicas <= 5"}]
    assert written["metadata"]["generation"] == 1
    # a spec write keeps status and bumps generation
    spec_write = copy.deepcopy(written)
    spec_write["spec"]["validations"] = [{"expression": "false"}]
    spec_write["status"] = {}
    resp = client.put(f"{BASE}/limit", spec_write)
    assert resp.status_code == 200, resp.content
    after = resp.json()
    assert after["metadata"]["generation"] == 2 and after["status"]["observedGeneration"] == 1
    table = orjson.loads(client.get(BASE, headers={
        "accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).content)
    assert table["rows"][0]["cells"][:3] == ["limit", 1, "<unset>"]
