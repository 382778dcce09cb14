"""flowcontrol.apiserver.k8s.io/v1 FlowSchema: defaults, validation messages, the fixed
mandatory specs, /status and the Table."""
from __future__ import annotations

import copy

import orjson

from apiserver.registry.context import RequestContext
from resources.flowcontrol.bootstrap import MANDATORY_FLOW_SCHEMAS
from resources.flowcontrol.flowschemas import FlowSchemaStrategy
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

S = FlowSchemaStrategy()
BASE = "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas"
GROUP_SUBJECT = {"kind": "Group", "group": {"name": "system:authenticated"}}
PODS = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "namespaces": ["*"]}


def fs(name="fs", rules=None, **spec):
    spec.setdefault("priorityLevelConfiguration", {"name": "workload-low"})
    spec["rules"] = rules if rules is not None else [{"subjects": [GROUP_SUBJECT], "resourceRules": [PODS]}]
    return {"metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}


def texts(obj):
    S.default(obj)
    return [e.error_text() for e in S.validate(RequestContext(), obj)]


def test_declarations_and_default():
    assert (S.group, S.plural, S.namespaced, S.tracks_generation, S.has_status()) == (
        "flowcontrol.apiserver.k8s.io", "flowschemas", False, True, True)
    obj = fs()
    S.default(obj)
    assert obj["spec"]["matchingPrecedence"] == 1000
    assert texts(fs()) == []


def test_precedence_and_level():
    assert texts(fs(matchingPrecedence=-1)) == [
        "spec.matchingPrecedence: Invalid value: -1: must be a positive value"]
    assert texts(fs(matchingPrecedence=10001)) == [
        "spec.matchingPrecedence: Invalid value: 10001: must not be greater than 10000"]
    assert texts(fs(matchingPrecedence=1)) == [
        "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have "
        "matchingPrecedence 1"]
    assert texts(fs(priorityLevelConfiguration={})) == [
        "spec.priorityLevelConfiguration.name: Required value: must reference a priority level"]
    assert texts(fs(distinguisherMethod={"type": "ByPod"})) == [
        'spec.distinguisherMethod.type: Unsupported value: flowcontrol.FlowDistinguisherMethod'
        '{Type:"ByPod"}: supported values: "ByNamespace", "ByUser"']


def test_subjects():
    subjects = [{"kind": "Robot"},
                {"kind": "User", "user": {"name": ""}, "group": {"name": "g"}},
                {"kind": "ServiceAccount", "serviceAccount": {"name": "*"}},
                {"kind": "Group"}]
    assert texts(fs(rules=[{"subjects": subjects, "resourceRules": [PODS]}])) == [
        'spec.rules[0].subjects[0].kind: Unsupported value: "Robot": supported values: "Group", '
        '"ServiceAccount", "User"',
        "spec.rules[0].subjects[1].user.name: Required value",
        "spec.rules[0].subjects[1].group: Forbidden: group is forbidden when subject kind is not 'Group'",
        "spec.rules[0].subjects[2].serviceAccount.namespace: Required value: must specify namespace "
        "for service account",
        "spec.rules[0].subjects[3].group: Required value: group is required when subject kind is 'Group'"]
    assert texts(fs(rules=[{"subjects": [], "resourceRules": []}])) == [
        "spec.rules[0].subjects: Required value: subjects must contain at least one value",
        "spec.rules[0]: Required value: at least one of resourceRules and nonResourceRules has to "
        "be non-empty"]


def test_policy_rules():
    resource = {"verbs": ["get", "mutate"], "apiGroups": [], "resources": ["*", "pods"]}
    non_resource = {"verbs": ["*", "get"], "nonResourceURLs": ["healthz", "/a//b", "/x*"]}
    assert texts(fs(rules=[{"subjects": [GROUP_SUBJECT], "resourceRules": [resource],
                            "nonResourceRules": [non_resource]}])) == [
        'spec.rules[0].resourceRules[0].verbs: Unsupported value: []string{"get", "mutate"}: '
        'supported values: "create", "delete", "deletecollection", "get", "list", "patch", '
        '"proxy", "update", "watch"',
        "spec.rules[0].resourceRules[0].apiGroups: Required value: resource rules must supply at "
        "least one api group",
        'spec.rules[0].resourceRules[0].resources: Invalid value: []string{"*", "pods"}: if \'*\' '
        "is present, must not specify other resources",
        "spec.rules[0].resourceRules[0].namespaces: Required value: resource rules that are not "
        "cluster scoped must supply at least one namespace",
        'spec.rules[0].nonResourceRules[0].verbs: Invalid value: []string{"*", "get"}: if \'*\' '
        "is present, must not specify other verbs",
        'spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: "healthz": must '
        "start with slash",
        'spec.rules[0].nonResourceRules[0].nonResourceURLs[1]: Invalid value: "/a//b": must not '
        "contain double slash",
        'spec.rules[0].nonResourceRules[0].nonResourceURLs[2]: Invalid value: "/x*": wildcard can '
        "only do suffix matching"]
    bad_ns = dict(PODS, namespaces=["Kube_System"])
    assert texts(fs(rules=[{"subjects": [GROUP_SUBJECT], "resourceRules": [bad_ns]}]))[0].startswith(
        "spec.rules[0].resourceRules[0].namespaces[0]: Invalid value: \"Kube_System\": each member "
        "of this list must be '*' or a DNS-1123 label; a lowercase RFC 1123 label")


def test_mandatory_specs_are_fixed():
    exempt = copy.deepcopy(MANDATORY_FLOW_SCHEMAS[0])
    assert texts(copy.deepcopy(exempt)) == []
    exempt["spec"]["priorityLevelConfiguration"]["name"] = "workload-high"
    got = texts(exempt)
    assert len(got) == 1 and got[0].startswith("spec: Invalid value: ")
    assert got[0].endswith(": spec of 'exempt' must equal the fixed value")
    assert texts(copy.deepcopy(MANDATORY_FLOW_SCHEMAS[1])) == []


def test_status_conditions_and_table():
    obj = fs(matchingPrecedence=500, distinguisherMethod={"type": "ByNamespace"})
    assert S.table_row(obj)[:4] == ["fs", "workload-low", 500, "ByNamespace"]
    assert S.table_row(obj)[5] == "?"
    obj["status"] = {"conditions": [{"type": "Dangling", "status": "False"}]}
    assert S.table_row(obj)[5] == "False"
    assert S.table_row(fs(matchingPrecedence=7))[3] == "<none>"
    assert [c.name for c in S.columns] == ["Name", "PriorityLevel", "MatchingPrecedence",
                                           "DistinguisherMethod", "Age", "MissingPL"]
    errs = S.validate_status_update(RequestContext(), {"status": {"conditions": [
        {"type": "Dangling"}, {"type": "Dangling"}, {"status": "True"}]}}, {})
    assert [e.error_text() for e in errs] == [
        'status.conditions[1].type: Duplicate value: "Dangling"',
        "status.conditions[2].type: Required value: must not be empty"]


def test_http_status_write_keeps_spec(db):
    ensure_revision_row()
    client = ASGIClient(in_process_app()[1])
    created = client.post(BASE, fs())
    assert created.status_code == 201, created.content
    obj = created.json()
    assert obj["metadata"]["generation"] == 1 and obj["status"] == {}
    obj["status"] = {"conditions": [{"type": "Dangling", "status": "False", "reason": "Found",
                                     "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    obj["spec"]["matchingPrecedence"] = 42
    written = client.put(f"{BASE}/fs/status", obj).json()
    assert written["spec"]["matchingPrecedence"] == 1000
    assert written["status"]["conditions"][0]["type"] == "Dangling"
    table = orjson.loads(client.get(BASE, headers={
        "accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).content)
    assert table["rows"][0]["cells"][:4] == ["fs", "workload-low", 1000, "<none>"]
    assert table["rows"][0]["cells"][5] == "False"
