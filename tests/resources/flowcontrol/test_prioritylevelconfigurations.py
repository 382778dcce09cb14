"""flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfiguration: defaults, validation
messages, the mandatory ``exempt``/``catch-all`` specs, generation and the Table."""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.registry.context import RequestContext
from resources.flowcontrol.bootstrap import MANDATORY_PRIORITY_LEVELS
from resources.flowcontrol.prioritylevelconfigurations import PriorityLevelConfigurationStrategy
from tests.apiserver.storage.support import ensure_revision_row

S = PriorityLevelConfigurationStrategy()


def plc(name="pl", **spec):
    return {"metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}


def queued(**queuing):
    return {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": queuing}}}


def texts(obj):
    S.default(obj)
    return [e.error_text() for e in S.validate(RequestContext(), obj)]


def test_defaults():
    obj = plc(**queued())
    S.default(obj)
    lim = obj["spec"]["limited"]
    assert lim["nominalConcurrencyShares"] == 30 and lim["lendablePercent"] == 0
    assert lim["limitResponse"]["queuing"] == {"queues": 64, "handSize": 8, "queueLengthLimit": 50}
    zero = plc(type="Limited", limited={"nominalConcurrencyShares": 0, "limitResponse": {"type": "Reject"}})
    assert texts(zero) == []                  # a zero share is kept: ZeroLimitedNominalConcurrencyShares
    assert zero["spec"]["limited"]["nominalConcurrencyShares"] == 0
    exempt = plc("exempt", type="Exempt", exempt={})
    S.default(exempt)
    assert exempt["spec"]["exempt"] == {"nominalConcurrencyShares": 0, "lendablePercent": 0}
    bare = plc("exempt", type="Exempt")
    S.default(bare)
    assert "exempt" not in bare["spec"]


def test_type_rules():
    assert texts(plc(type="Unlimited")) == [
        'spec.type: Unsupported value: "Unlimited": supported values: "Exempt", "Limited"']
    assert texts(plc(type="Exempt")) == [
        "spec.type: Invalid value: \"Exempt\": type must be 'Exempt' if and only if name is 'exempt'"]
    assert texts(plc(type="Limited")) == [
        "spec.limited: Required value: must not be empty when type is Limited"]
    both = dict(queued(), exempt={})
    assert texts(plc(**both)) == ["spec.exempt: Forbidden: must be nil if the type is Limited"]


def test_limited_rules():
    spec = queued(queues=0, handSize=-1, queueLengthLimit=-5)
    spec["limited"].update(nominalConcurrencyShares=-1, lendablePercent=101, borrowingLimitPercent=-1)
    assert texts(plc(**spec)) == [
        "spec.limited.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer",
        "spec.limited.limitResponse.queuing.queueLengthLimit: Invalid value: -5: must be positive",
        "spec.limited.limitResponse.queuing.handSize: Invalid value: -1: must be positive",
        "spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive",
        "spec.limited.borrowingLimitPercent: Invalid value: -1: if specified, must be a non-negative integer"]
    assert texts(plc(**queued(queues=4, handSize=5))) == [
        "spec.limited.limitResponse.queuing.handSize: Invalid value: 5: should not be greater than "
        "queues (4)"]
    assert texts(plc(**queued(queues=10_000_001, handSize=1))) == [
        "spec.limited.limitResponse.queuing.queues: Invalid value: 10000001: must not be greater "
        "than 10000000"]
    assert texts(plc(**queued(queues=1_000_000, handSize=5))) == [
        "spec.limited.limitResponse.queuing.handSize: Invalid value: 5: required entropy bits of "
        "deckSize 1000000 and handSize 5 should not be greater than 60"]


def test_limit_response_rules():
    assert texts(plc(type="Limited", limited={"limitResponse": {"type": "Reject", "queuing": {}}})) == [
        "spec.limited.limitResponse.queuing: Forbidden: must be nil if limited.limitResponse.type "
        "is not Limited"]
    assert texts(plc(type="Limited", limited={"limitResponse": {"type": "Queue"}})) == [
        "spec.limited.limitResponse.queuing: Required value: must not be empty if "
        "limited.limitResponse.type is Limited"]
    assert texts(plc(type="Limited", limited={"limitResponse": {}})) == [
        'spec.limited.limitResponse.type: Unsupported value: "": supported values: "Queue", "Reject"']


def test_mandatory_levels():
    catch_all, exempt = (copy.deepcopy(o) for o in MANDATORY_PRIORITY_LEVELS)
    assert texts(copy.deepcopy(catch_all)) == [] and texts(copy.deepcopy(exempt)) == []
    catch_all["spec"]["limited"]["nominalConcurrencyShares"] = 6
    got = texts(catch_all)
    assert len(got) == 1 and got[0].endswith(": spec of 'catch-all' must equal the fixed value")
    tuned = copy.deepcopy(exempt)
    tuned["spec"]["exempt"] = {"nominalConcurrencyShares": 10, "lendablePercent": 50}
    assert texts(tuned) == []                 # admins may tune the exempt block only
    tuned["spec"]["exempt"]["lendablePercent"] = 101
    assert texts(tuned) == [
        "spec.exempt.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive"]


def test_table():
    assert [c.name for c in S.columns] == ["Name", "Type", "NominalConcurrencyShares", "Queues",
                                           "HandSize", "QueueLengthLimit", "Age"]
    obj = plc(**queued())
    S.default(obj)
    assert S.table_row(obj)[:6] == ["pl", "Limited", 30, 64, 8, 50]
    reject = plc(type="Limited", limited={"nominalConcurrencyShares": 5, "limitResponse": {"type": "Reject"}})
    assert S.table_row(reject)[:6] == ["pl", "Limited", 5, "<none>", "<none>", "<none>"]
    assert S.table_row(plc("exempt", type="Exempt"))[:6] == ["exempt", "Exempt"] + ["<none>"] * 4


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations")


def test_store_status_reset_and_generation(store, ctx):
    body = plc(**queued())
    body["status"] = {"conditions": [{"type": "X"}]}
    created = orjson.loads(store.create(None, body, ctx))
    assert created["status"] == {} and created["metadata"]["generation"] == 1
    doc, _ = store.guaranteed_update(
        None, "pl", lambda o: {**o, "status": {"conditions": [{"type": "Y"}]}}, ctx)
    assert orjson.loads(doc)["status"] == {}        # the main resource cannot write status
    def more_shares(o):
        o["spec"]["limited"]["nominalConcurrencyShares"] = 40
        return o
    doc, _ = store.guaranteed_update(None, "pl", more_shares, ctx)
    assert orjson.loads(doc)["metadata"]["generation"] == 2
