"""scheduling.k8s.io/v1 PriorityClass and the bootstrap system classes."""
from __future__ import annotations

import threading

import orjson
import pytest

from apiserver.runtime import errors
from apiserver.registry.context import RequestContext
from apiserver.server.hooks import HookContext
from resources.bootstrap_scheduling import ensure_system_priority_classes
from resources.scheduling.priorityclasses import PriorityClassStrategy
from tests.apiserver.storage.support import ensure_revision_row


def pc(name="high", **fields):
    return {"metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"}, **fields}


def texts(errs):
    return [e.error_text() for e in errs]


def test_defaults_and_row():
    s = PriorityClassStrategy()
    obj = pc(value=1000)
    s.default(obj)
    assert obj["preemptionPolicy"] == "PreemptLowerPriority"
    row = s.table_row(obj)
    assert row[:3] == ["high", 1000, False] and row[4] == "PreemptLowerPriority"
    assert [c.name for c in s.columns] == ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    assert not s.namespaced and s.short_names == ("pc",)


def test_validation():
    s = PriorityClassStrategy()
    assert texts(s.validate(RequestContext(), pc(value=1_000_000_001))) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    assert texts(s.validate(RequestContext(), pc("system-foo", value=1))) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
        "system use only. error: system-foo is not a known system priority class"]
    assert texts(s.validate(RequestContext(), pc("system-node-critical", value=1))) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
        "system use only. error: value of system-node-critical PriorityClass must be 2000001000"]
    assert texts(s.validate(RequestContext(), pc(value=1, preemptionPolicy="Sometimes"))) == [
        'preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"']


def test_value_and_policy_immutable():
    s = PriorityClassStrategy()
    old = pc(value=1, preemptionPolicy="Never")
    assert texts(s.validate_update(RequestContext(), pc(value=2, preemptionPolicy="Never"), old)) == [
        "value: Forbidden: may not be changed in an update."]
    assert [e.field for e in s.validate_update(RequestContext(), pc(value=1, preemptionPolicy="PreemptLowerPriority"), old)] \
        == ["preemptionPolicy"]
    assert s.validate_update(RequestContext(), pc(value=1, preemptionPolicy="Never", description="x"), old) == []


def test_bootstrap_creates_system_classes_once(stores):
    ensure_revision_row()
    store = stores.store("scheduling.k8s.io", "v1", "priorityclasses")
    hook = HookContext(stores=stores, options=None, stop=threading.Event())
    ensure_system_priority_classes(hook)
    ensure_system_priority_classes(hook)        # idempotent
    node = orjson.loads(store.get(None, "system-node-critical"))
    cluster = orjson.loads(store.get(None, "system-cluster-critical"))
    assert (node["value"], cluster["value"]) == (2000001000, 2000000000)
    assert node["preemptionPolicy"] == "PreemptLowerPriority" and not node.get("globalDefault")
    assert len(store.list(None)["items"]) == 2


def test_store_rejects_value_change(stores, ctx):
    ensure_revision_row()
    store = stores.store("scheduling.k8s.io", "v1", "priorityclasses")
    store.create(None, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": "high"}, "value": 10}, ctx)
    with pytest.raises(errors.Invalid):
        store.guaranteed_update(None, "high", lambda o: {**o, "value": 11}, ctx)
