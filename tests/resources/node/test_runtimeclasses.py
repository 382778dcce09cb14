"""RuntimeClass: handler rules, overhead and scheduling validation, update policy, table.

Cases after kubernetes/kubernetes:pkg/apis/node/validation/validation_test.go
(TestValidateRuntimeClass, TestValidateRuntimeUpdate, TestValidateOverhead,
TestValidateScheduling).
"""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from resources.node.runtimeclasses import RuntimeClassStrategy
from tests.apiserver.storage.support import ensure_revision_row


@pytest.fixture
def classes(stores):
    ensure_revision_row()
    return stores.store("node.k8s.io", "v1", "runtimeclasses")


def rc(name="gvisor", handler="runsc", **extra):
    return {"metadata": {"name": name}, "handler": handler, **extra}


def causes(store, ctx, obj) -> list:
    with pytest.raises(errors.Invalid) as exc:
        store.create(None, obj, ctx)
    return [(c.field, c.message) for c in exc.value.causes]


def test_create_is_cluster_scoped_without_generation(classes, ctx):
    obj = orjson.loads(classes.create(None, rc(), ctx))
    assert obj["handler"] == "runsc" and "namespace" not in obj["metadata"]
    assert "generation" not in obj["metadata"]


def test_handler_is_a_dns_label(classes, ctx):
    label_msg = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                 "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
                 "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    assert causes(classes, ctx, {"metadata": {"name": "x"}}) == [
        ("handler", f'Invalid value: "": {label_msg}')]
    assert causes(classes, ctx, rc(handler="Run_C")) == [("handler", f'Invalid value: "Run_C": {label_msg}')]
    assert causes(classes, ctx, rc(handler="a.b")) == [("handler", 'Invalid value: "a.b": must not contain dots')]


def test_overhead_and_scheduling(classes, ctx):
    got = causes(classes, ctx, rc(overhead={"podFixed": {"cpu": "-1", "gpus": "1"}},
                                  scheduling={"nodeSelector": {"bad key!": "x"},
                                              "tolerations": [{"key": "k", "operator": "Exists",
                                                               "value": "v"}]}))
    fields = [f for f, _ in got]
    assert ("overhead.limits[cpu]", 'Invalid value: "-1": must be greater than or equal to 0') in got
    assert ("overhead.limits[gpus]", 'Invalid value: "gpus": must be a standard resource for containers') in got
    assert "scheduling.nodeSelector" in fields
    assert ("scheduling.tolerations[0].operator",
            "Invalid value: \"v\": value must be empty when `operator` is 'Exists'") in got


def test_handler_is_immutable(classes, ctx):
    classes.create(None, rc(), ctx)

    def change(cur):
        cur["handler"] = "kata"
        return cur
    with pytest.raises(errors.Invalid) as exc:
        classes.guaranteed_update(None, "gvisor", change, ctx)
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("handler", 'Invalid value: "kata": field is immutable')]


def test_put_needs_resource_version(classes, ctx):
    """Upstream: AllowUnconditionalUpdate false, AllowCreateOnUpdate true."""
    obj = orjson.loads(classes.create(None, rc(), ctx))
    obj["metadata"].pop("resourceVersion")
    with pytest.raises(errors.Invalid) as exc:
        classes.update(None, "gvisor", obj, ctx)
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("metadata.resourceVersion", "Invalid value: 0: must be specified for an update")]
    assert RuntimeClassStrategy.allow_create_on_update is True


def test_table_row():
    s = RuntimeClassStrategy()
    row = s.table_row({"metadata": {"name": "gvisor", "creationTimestamp": "2024-01-01T00:00:00Z"},
                       "handler": "runsc"})
    assert row[:2] == ["gvisor", "runsc"]
    assert [(c.name, c.description) for c in s.columns][1] == ("Handler", "")
    assert [c.name for c in s.columns] == ["Name", "Handler", "Age"]
