"""The API Priority and Fairness bootstrap objects: created once, idempotent, valid, and
the post-start hook is registered."""
from __future__ import annotations

import threading

import orjson

from apiserver.server.hooks import HookContext, registered
from resources.flowcontrol import bootstrap
from resources.flowcontrol.bootstrap import AUTO_UPDATE, ensure_flowcontrol_objects
from tests.apiserver.storage.support import ensure_revision_row

GROUP = "flowcontrol.apiserver.k8s.io"
LEVELS = {"exempt", "catch-all", "node-high", "system", "leader-election", "workload-high",
          "workload-low", "global-default"}
SCHEMAS = {"exempt", "catch-all", "system-nodes", "system-node-high", "probes",
           "system-leader-election", "workload-leader-election", "endpoint-controller",
           "kube-controller-manager", "kube-scheduler", "kube-system-service-accounts",
           "service-accounts", "global-default"}


def _items(store):
    return {o["metadata"]["name"]: o for o in map(orjson.loads, store.list(None)["items"])}


def test_hook_is_registered():
    assert registered()["bootstrap-flowcontrol"] is ensure_flowcontrol_objects


def test_creates_every_object_once_and_is_idempotent(stores):
    ensure_revision_row()
    hook = HookContext(stores=stores, options=None, stop=threading.Event())
    ensure_flowcontrol_objects(hook)
    levels = stores.store(GROUP, "v1", "prioritylevelconfigurations")
    schemas = stores.store(GROUP, "v1", "flowschemas")
    first_levels, first_schemas = _items(levels), _items(schemas)
    assert set(first_levels) == LEVELS and set(first_schemas) == SCHEMAS
    ensure_flowcontrol_objects(hook)                          # a second start
    assert _items(levels) == first_levels and _items(schemas) == first_schemas
    for obj in list(first_levels.values()) + list(first_schemas.values()):
        assert obj["metadata"]["annotations"] == {AUTO_UPDATE: "true"}
        assert obj["metadata"]["generation"] == 1 and obj["status"] == {}
        assert obj["metadata"]["managedFields"][0]["manager"] == \
            "api-priority-and-fairness-config-producer"
    # every schema points at a level that exists
    assert {o["spec"]["priorityLevelConfiguration"]["name"] for o in first_schemas.values()} <= LEVELS
    system = first_levels["system"]["spec"]["limited"]
    assert system == {"nominalConcurrencyShares": 30, "lendablePercent": 33,
                      "limitResponse": {"type": "Queue", "queuing": {
                          "queues": 64, "handSize": 6, "queueLengthLimit": 50}}}
    assert first_levels["exempt"]["spec"] == {
        "type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}
    probes = first_schemas["probes"]["spec"]
    assert probes["matchingPrecedence"] == 2 and "distinguisherMethod" not in probes
    assert probes["rules"][0]["nonResourceRules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]
    leader = first_schemas["system-leader-election"]["spec"]["rules"][0]["subjects"]
    assert leader[-1] == {"kind": "ServiceAccount",
                          "serviceAccount": {"name": "*", "namespace": "kube-system"}}


def test_existing_objects_are_left_alone(stores, ctx):
    ensure_revision_row()
    schemas = stores.store(GROUP, "v1", "flowschemas")
    own = bootstrap._copy(bootstrap.SUGGESTED_FLOW_SCHEMAS[-1])   # global-default, edited
    own["spec"]["matchingPrecedence"] = 9800
    schemas.create(None, own, ctx)
    ensure_flowcontrol_objects(HookContext(stores=stores, options=None, stop=threading.Event()))
    assert _items(schemas)["global-default"]["spec"]["matchingPrecedence"] == 9800
