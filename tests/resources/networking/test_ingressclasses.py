"""IngressClass: parameters defaults, controller and parameters validation, immutability, table.

Cases after kubernetes/kubernetes:pkg/apis/networking/validation/validation_test.go
(TestValidateIngressClass, TestValidateIngressClassUpdate) and
pkg/apis/networking/v1/defaults_test.go (TestSetDefaultsIngressClass).
"""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from resources.networking.ingressclasses import IngressClassStrategy
from tests.apiserver.storage.support import ensure_revision_row


@pytest.fixture
def classes(stores):
    ensure_revision_row()
    return stores.store("networking.k8s.io", "v1", "ingressclasses")


def klass(name="nginx", **spec):
    return {"metadata": {"name": name}, "spec": {"controller": "example.com/nginx", **spec}}


def causes(store, ctx, obj) -> dict:
    with pytest.raises(errors.Invalid) as exc:
        store.create(None, obj, ctx)
    return {c.field: c.message for c in exc.value.causes}


def test_parameters_scope_defaults_to_cluster_and_generation_starts_at_one(classes, ctx):
    obj = orjson.loads(classes.create(None, klass(parameters={"kind": "Cfg", "name": "c"}), ctx))
    assert obj["spec"]["parameters"]["scope"] == "Cluster"
    assert obj["metadata"]["generation"] == 1
    assert "namespace" not in obj["metadata"]


def test_controller_required_and_domain_prefixed(classes, ctx):
    assert causes(classes, ctx, {"metadata": {"name": "a"}, "spec": {}}) == {
        "spec.controller": "Required value"}
    assert causes(classes, ctx, klass(controller="nginx")) == {
        "spec.controller": 'Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")'}
    assert causes(classes, ctx, klass(controller="example.com/a b")) == {
        "spec.controller": "Invalid value: \"a b\": Invalid path (regex used for validation is "
                           "'[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"}
    too_long = "example.com/" + "a" * 250
    got = causes(classes, ctx, klass(controller=too_long))
    assert got == {"spec.controller": "Too long: must have at most 250 bytes"}


def test_parameters_reference(classes, ctx):
    got = causes(classes, ctx, klass(parameters={"kind": "", "name": "a/b", "scope": "Namespace"}))
    assert got == {"spec.parameters.kind": "Required value",
                   "spec.parameters.name": "Invalid value: \"a/b\": may not contain '/'",
                   "spec.parameters.namespace": "Required value: `parameters.scope` is set to 'Namespace'"}
    got = causes(classes, ctx, klass(parameters={"kind": "Cfg", "name": "c", "scope": "Cluster",
                                                 "namespace": "default"}))
    assert got == {"spec.parameters.namespace": "Forbidden: `parameters.scope` is set to 'Cluster'"}
    got = causes(classes, ctx, klass(parameters={"kind": "Cfg", "name": "c", "scope": "Planet"}))
    assert got == {"spec.parameters.scope":
                   'Unsupported value: "Planet": supported values: "Cluster", "Namespace"'}


def test_controller_is_immutable(classes, ctx):
    classes.create(None, klass(), ctx)

    def change(cur):
        cur["spec"]["controller"] = "example.com/other"
        return cur
    with pytest.raises(errors.Invalid) as exc:
        classes.guaranteed_update(None, "nginx", change, ctx)
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("spec.controller", 'Invalid value: "example.com/other": field is immutable')]

    def add_params(cur):
        cur["spec"]["parameters"] = {"kind": "Cfg", "name": "c"}
        return cur
    obj = orjson.loads(classes.guaranteed_update(None, "nginx", add_params, ctx)[0])
    assert obj["metadata"]["generation"] == 2


def test_table_row():
    s = IngressClassStrategy()
    obj = {"metadata": {"name": "nginx", "creationTimestamp": "2024-01-01T00:00:00Z"},
           "spec": {"controller": "example.com/nginx"}}
    assert s.table_row(obj)[:3] == ["nginx", "example.com/nginx", "<none>"]
    obj["spec"]["parameters"] = {"apiGroup": "k8s.example.com", "kind": "Cfg", "name": "c"}
    assert s.table_row(obj)[:3] == ["nginx", "example.com/nginx", "Cfg.k8s.example.com/c"]
    assert [c.name for c in s.columns] == ["Name", "Controller", "Parameters", "Age"]
