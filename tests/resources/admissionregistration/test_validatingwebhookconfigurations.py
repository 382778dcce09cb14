"""admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration: defaults, the webhook
validation both webhook configuration kinds share (messages as upstream renders them),
update ratchets, generation and the Table."""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.admissionregistration.validatingwebhookconfigurations import (
    ValidatingWebhookConfigurationStrategy)
from tests.apiserver.storage.support import ensure_revision_row

S = ValidatingWebhookConfigurationStrategy()
CTX = RequestContext()


def hook(**extra):
    return {"name": "hook.example.com", "clientConfig": {"url": "https://h.example.com/x"},
            "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}


def config(*hooks):
    return {"metadata": {"name": "cfg", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "webhooks": list(hooks)}


def texts(obj, old=None):
    S.default(obj)
    if old is not None:
        S.default(old)
        return [e.error_text() for e in S.validate_update(CTX, obj, old)]
    return [e.error_text() for e in S.validate(CTX, obj)]


def test_declarations():
    assert (S.group, S.kind, S.plural, S.namespaced) == (
        "admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations", False)
    assert S.categories == ("api-extensions",) and S.tracks_generation
    assert not S.allow_unconditional_update and not S.has_status()


def test_defaults():
    obj = config(hook(clientConfig={"service": {"name": "s", "namespace": "n"}},
                      rules=[{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"],
                              "resources": ["*"]}]))
    S.default(obj)
    h = obj["webhooks"][0]
    assert h["failurePolicy"] == "Fail" and h["matchPolicy"] == "Equivalent"
    assert h["namespaceSelector"] == {} and h["objectSelector"] == {}
    assert h["timeoutSeconds"] == 10 and "reinvocationPolicy" not in h
    assert h["rules"][0]["scope"] == "*"
    assert h["clientConfig"]["service"]["port"] == 443


def test_valid_config_has_no_errors():
    assert texts(config(hook())) == []
    assert texts(config()) == []


def test_name_must_be_fully_qualified():
    assert texts(config(hook(name="hook"))) == [
        'webhooks[0].name: Invalid value: "hook": should be a domain with at least three '
        'segments separated by dots']
    assert texts(config(hook(name=""))) == ["webhooks[0].name: Required value"]


def test_duplicate_names():
    assert texts(config(hook(), hook())) == ['webhooks[1].name: Duplicate value: "hook.example.com"']


def test_side_effects_and_review_versions():
    obj = config(hook())
    del obj["webhooks"][0]["sideEffects"]
    assert texts(obj) == ["webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"]
    assert texts(config(hook(sideEffects="Some"))) == [
        'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"']
    assert texts(config(hook(admissionReviewVersions=[]))) == [
        "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1"]
    assert texts(config(hook(admissionReviewVersions=["v2", "v2"]))) == [
        'webhooks[0].admissionReviewVersions[1]: Invalid value: "v2": duplicate version',
        'webhooks[0].admissionReviewVersions: Invalid value: []string{"v2", "v2"}: must include '
        'at least one of v1, v1beta1']


def test_policies_and_timeout():
    assert texts(config(hook(failurePolicy="Retry", matchPolicy="Fuzzy", timeoutSeconds=31))) == [
        'webhooks[0].failurePolicy: Unsupported value: "Retry": supported values: "Fail", "Ignore"',
        'webhooks[0].matchPolicy: Unsupported value: "Fuzzy": supported values: "Equivalent", "Exact"',
        "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"]


def test_client_config():
    both = {"url": "https://a.example.com", "service": {"name": "s", "namespace": "n"}}
    assert texts(config(hook(clientConfig=both))) == [
        "webhooks[0].clientConfig: Required value: exactly one of url or service is required"]
    assert texts(config(hook(clientConfig={}))) == [
        "webhooks[0].clientConfig: Required value: exactly one of url or service is required"]
    assert texts(config(hook(clientConfig={"url": "http://u:p@h.example.com/x?a=1#frag"}))) == [
        'webhooks[0].clientConfig.url: Invalid value: "http": \'https\' is the only allowed URL '
        'scheme; desired format: https://host[/path]',
        'webhooks[0].clientConfig.url: Invalid value: "u:p": user information is not permitted in the URL',
        'webhooks[0].clientConfig.url: Invalid value: "frag": fragments are not permitted in the URL',
        'webhooks[0].clientConfig.url: Invalid value: "a=1": query parameters are not permitted in the URL']
    assert texts(config(hook(clientConfig={"url": "https:///x"}))) == [
        'webhooks[0].clientConfig.url: Invalid value: "": host must be specified; desired format: '
        'https://host[/path]']


def test_service_reference():
    svc = {"service": {"name": "s", "namespace": "n", "port": 0, "path": "x//Y"}}
    assert texts(config(hook(clientConfig=svc))) == [
        "webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must be "
        "between 1 and 65535, inclusive",
        'webhooks[0].clientConfig.service.path: Invalid value: "x//Y": must start with a \'/\'',
        # upstream drops the first character whether or not it is the '/'
        'webhooks[0].clientConfig.service.path: Invalid value: "x//Y": segment[0] may not be empty',
        'webhooks[0].clientConfig.service.path: Invalid value: "x//Y": segment[1] may not be empty',
        'webhooks[0].clientConfig.service.path: Invalid value: "x//Y": segment[2]: a lowercase RFC '
        "1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    # upstream hands name and namespace to ValidateWebhookService swapped
    assert texts(config(hook(clientConfig={"service": {"namespace": "n"}}))) == [
        "webhooks[0].clientConfig.service.namespace: Required value: service namespace is required"]


def test_rules():
    rule = {"operations": ["*", "CREATE"], "apiGroups": ["*", "apps"], "apiVersions": [],
            "resources": ["*", "pods", "*/*"], "scope": "Global"}
    assert texts(config(hook(rules=[rule]))) == [
        'webhooks[0].rules[0].operations: Invalid value: []admissionregistration.OperationType'
        '{"*", "CREATE"}: if \'*\' is present, must not specify other operations',
        'webhooks[0].rules[0].apiGroups: Invalid value: []string{"*", "apps"}: if \'*\' is '
        'present, must not specify other API groups',
        "webhooks[0].rules[0].apiVersions: Required value",
        'webhooks[0].rules[0].resources: Invalid value: []string{"*", "pods", "*/*"}: if \'*/*\' '
        'is present, must not specify other resources',
        'webhooks[0].rules[0].resources: Invalid value: []string{"*", "pods", "*/*"}: if \'*\' is '
        'present, must not specify other resources without subresources',
        'webhooks[0].rules[0].scope: Unsupported value: "Global": supported values: "*", '
        '"Cluster", "Namespaced"']
    sub = {"operations": ["PATCH"], "apiGroups": [""], "apiVersions": ["v1"],
           "resources": ["pods/*", "pods/status"]}
    assert texts(config(hook(rules=[sub]))) == [
        'webhooks[0].rules[0].operations[0]: Unsupported value: "PATCH": supported values: "*", '
        '"CONNECT", "CREATE", "DELETE", "UPDATE"',
        "webhooks[0].rules[0].resources[1]: Invalid value: \"pods/status\": if 'pods/*' is "
        "present, must not specify pods/status"]


def test_selectors_and_match_conditions():
    sel = {"matchExpressions": [{"key": "env", "operator": "In", "values": []}]}
    conds = [{"name": "c", "expression": "true"}, {"name": "c", "expression": " "}]
    assert texts(config(hook(namespaceSelector=sel, matchConditions=conds))) == [
        "webhooks[0].namespaceSelector.matchExpressions[0].values: Required value: must be "
        "specified when `operator` is 'In' or 'NotIn'",
        "webhooks[0].matchConditions[1].expression: Required value",
        'webhooks[0].matchConditions[1].name: Duplicate value: "c"']


def test_update_ratchets_keep_stored_mistakes_editable():
    old = config(hook(sideEffects="Some", admissionReviewVersions=["v2"]), hook())
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"a": "b"}
    assert texts(new, old) == []
    # a config that was fine is held to the create rules
    assert texts(config(hook(sideEffects="Some")), config(hook())) == [
        'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"']


def test_table():
    assert [c.name for c in S.columns] == ["Name", "Webhooks", "Age"]
    assert [c.type for c in S.columns] == ["string", "integer", "string"]
    assert S.table_row(config(hook(), hook(name="b.example.com")))[:2] == ["cfg", 2]
    assert S.table_row(config())[:2] == ["cfg", 0]


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")


def test_store_defaults_generation_and_conditional_update(store, ctx):
    created = orjson.loads(store.create(None, {"metadata": {"name": "cfg"}, "webhooks": [hook()]}, ctx))
    assert created["metadata"]["generation"] == 1
    assert created["webhooks"][0]["timeoutSeconds"] == 10
    doc, _ = store.guaranteed_update(None, "cfg", lambda o: {**o, "webhooks": [hook(timeoutSeconds=5)]}, ctx)
    assert orjson.loads(doc)["metadata"]["generation"] == 2
    doc, _ = store.guaranteed_update(None, "cfg", lambda o: {**o, "metadata": {
        **o["metadata"], "labels": {"x": "y"}}}, ctx)
    assert orjson.loads(doc)["metadata"]["generation"] == 2
    unconditional = orjson.loads(doc)
    del unconditional["metadata"]["resourceVersion"]
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "cfg", unconditional, ctx)
    assert "metadata.resourceVersion" in [c.field for c in exc.value.causes]
