"""The ValidatingAdmissionPolicy status controller
(resources/controllers/validatingadmissionpolicystatus.py) over a real server's stores:
upstream's warning text for a missing apps/v1 Deployment field, an empty typeChecking for a
correct policy, observedGeneration following spec changes, which kinds are checked."""
from __future__ import annotations

import time

import orjson

from apiserver.registry.strategy import Strategy

from resources.controllers.validatingadmissionpolicystatus import (
    SchemaResolver, TypeChecker, ValidatingAdmissionPolicyStatusController, types_to_check)
from tests.apiserver.storage.support import ensure_revision_row

DEPLOYMENTS = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
               "resources": ["deployments"]}


def policy(name, *validations, rules=(DEPLOYMENTS,), **spec):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {"matchConstraints": {"resourceRules": list(rules)},
                     "validations": [v if isinstance(v, dict) else {"expression": v}
                                     for v in validations], **spec}}


def policies(stores):
    return stores.store("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")


def test_status_gets_upstreams_warning_and_follows_the_generation(db, ctx, stores):
    ensure_revision_row()
    store = policies(stores)
    store.create(None, policy("bad", "object.foo == 'bar'"), ctx)
    store.create(None, policy("good", "object.spec.replicas <= 5",
                              {"expression": "true", "messageExpression":
                               "'replicas: ' + string(object.spec.replicas)"}), ctx)
    controller = ValidatingAdmissionPolicyStatusController(stores)
    assert controller.sync() == 2
    assert controller.sync() == 0                        # nothing changed since
    bad = store.load(None, "bad")[0]
    assert bad["status"] == {"observedGeneration": 1, "typeChecking": {"expressionWarnings": [{
        "fieldRef": "spec.validations[0].expression",
        "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field 'foo'\n"
                   " | object.foo == 'bar'\n | ......^\n"}]}}
    good = store.load(None, "good")[0]
    assert good["status"] == {"observedGeneration": 1, "typeChecking": {}}

    def fixed(obj):
        obj["spec"]["validations"][0]["expression"] = "object.spec.replicas > 0"
        return obj
    store.guaranteed_update(None, "bad", fixed, ctx)
    assert store.load(None, "bad")[0]["metadata"]["generation"] == 2
    assert controller.sync() == 1
    assert store.load(None, "bad")[0]["status"] == {"observedGeneration": 2,
                                                     "typeChecking": {}}


def test_message_expressions_params_and_variables(db, stores):
    checker = TypeChecker(SchemaResolver(stores.index))
    warnings = checker.check(policy("p", {"expression": "true",
                                          "messageExpression": "object.spec.replicas + 'x'"}))
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[0].messageExpression"]
    assert "found no matching overload for '_+_' applied to '(int, string)'" \
        in warnings[0]["warning"]
    # params typed by a ConfigMap paramKind
    warnings = checker.check(policy("p", "object.spec.replicas <= int(params.data.max)",
                                    "params.dat == null",
                                    paramKind={"apiVersion": "v1", "kind": "ConfigMap"}))
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[1].expression"]
    assert "undefined field 'dat'" in warnings[0]["warning"]
    # variables: declared ones are typed, unknown ones undefined, a bad one is dynamic
    warnings = checker.check(policy(
        "p", "variables.replicas > 1 && variables.broken.x", "variables.nonExisting",
        variables=[{"name": "replicas", "expression": "object.spec.replicas"},
                   {"name": "broken", "expression": "object.nope"}]))
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[1].expression"]
    assert "undefined field 'nonExisting'" in warnings[0]["warning"]


def test_every_matched_kind_is_checked_in_order(db, stores):
    checker = TypeChecker(SchemaResolver(stores.index))
    rules = ({"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments",
                                                                          "replicasets"]},
             {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]})
    warnings = checker.check(policy("p", "object.replicas > 1", rules=rules))
    assert warnings[0]["warning"] == "\n".join(
        f"{gvk}: ERROR: <input>:1:7: undefined field 'replicas'\n | object.replicas > 1\n"
        " | ......^\n" for gvk in ("/v1, Kind=Pod", "apps/v1, Kind=Deployment",
                                   "apps/v1, Kind=ReplicaSet"))


def test_wildcards_and_subresources_are_not_checked(db, stores):
    resolver = SchemaResolver(stores.index)

    def kinds(*rules):
        return types_to_check({"matchConstraints": {"resourceRules": list(rules)}}, resolver)
    assert kinds({"apiGroups": ["apps"], "apiVersions": ["*"], "resources": ["deployments"]}) == []
    assert kinds({"apiGroups": ["*"], "apiVersions": ["v1"], "resources": ["deployments"]}) == []
    assert kinds({"apiGroups": ["apps"], "apiVersions": ["v1"],
                  "resources": ["*", "deployments/scale", "deployments"]}) == [
        ("apps", "v1", "Deployment")]
    assert kinds({"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["nothings"]}) == []
    # ten at most from one rule
    many = kinds({"apiGroups": [""], "apiVersions": ["v1"], "resources": [
        "pods", "services", "configmaps", "secrets", "nodes", "namespaces", "endpoints",
        "events", "serviceaccounts", "persistentvolumes", "persistentvolumeclaims",
        "limitranges"]})
    assert len(many) == 10
    # no matched kind: no warnings at all
    checker = TypeChecker(resolver)
    assert checker.check(policy("p", "object.anything", rules=(
        {"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]},))) == []
    assert orjson.dumps(checker.check(policy("p", "true")))  == b"[]"


class WidgetStrategy(Strategy):
    """A custom-resource-like kind whose schema is its own ``openapi_schema``."""
    group, version, kind, plural = "example.com", "v1", "Widget", "widgets"
    openapi_schema = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"allOf": [{"$ref": "#/components/schemas/"
                                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}


WIDGETS = {"apiGroups": ["example.com"], "apiVersions": ["v1"], "operations": ["CREATE"],
           "resources": ["widgets"]}


def test_a_resource_served_later_is_waited_for(db, ctx, stores):
    ensure_revision_row()
    store = policies(stores)
    store.create(None, policy("w", "object.spec.sise > 1 && object.metadata.namespace != ''",
                              rules=(WIDGETS,)), ctx)
    controller = ValidatingAdmissionPolicyStatusController(stores, grace=30)
    assert controller.sync() == 0 and controller.sync() == 0      # not served: it waits
    assert "observedGeneration" not in (store.load(None, "w")[0].get("status") or {})
    stores.install(WidgetStrategy)
    assert controller.sync() == 1
    warning = store.load(None, "w")[0]["status"]["typeChecking"]["expressionWarnings"][0]
    assert warning["warning"] == (
        "example.com/v1, Kind=Widget: ERROR: <input>:1:12: undefined field 'sise'\n"
        " | object.spec.sise > 1 && object.metadata.namespace != ''\n"
        " | ...........^\n"
        "ERROR: <input>:1:40: undefined field 'namespace'\n"
        " | object.spec.sise > 1 && object.metadata.namespace != ''\n"
        " | .......................................^\n")


def test_a_resource_never_served_is_given_up_on(db, ctx, stores):
    ensure_revision_row()
    store = policies(stores)
    store.create(None, policy("w", "object.anything", rules=(WIDGETS,)), ctx)
    controller = ValidatingAdmissionPolicyStatusController(stores, grace=0.2)
    assert controller.sync() == 0
    time.sleep(0.25)
    assert controller.sync() == 1
    assert store.load(None, "w")[0]["status"] == {"observedGeneration": 1, "typeChecking": {}}
