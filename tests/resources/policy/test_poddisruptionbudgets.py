"""PodDisruptionBudget: zero status after create, generation, validation messages, status
writes and the table.

Cases after kubernetes/kubernetes:pkg/apis/policy/validation/validation_test.go
(TestValidateMinAvailablePodDisruptionBudgetSpec, TestValidatePodDisruptionBudgetSpec,
TestValidateUnhealthyPodEvictionPolicyDisruptionBudgetSpec,
TestValidatePodDisruptionBudgetStatus) and pkg/registry/policy/poddisruptionbudget/strategy_test.go.
"""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from resources.policy.poddisruptionbudgets import PodDisruptionBudgetStrategy
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

SELECTOR = {"matchLabels": {"app": "web"}}


@pytest.fixture
def pdbs(stores):
    ensure_revision_row()
    return stores.store("policy", "v1", "poddisruptionbudgets")


def pdb(name="web", **spec):
    return {"metadata": {"name": name}, "spec": {"selector": SELECTOR, **spec}}


def causes(store, ctx, obj) -> list:
    with pytest.raises(errors.Invalid) as exc:
        store.create("default", obj, ctx)
    return [(c.field, c.message) for c in exc.value.causes]


def test_create_zeroes_status_and_sets_generation(pdbs, ctx):
    body = pdb(minAvailable=1)
    body["status"] = {"disruptionsAllowed": 5, "currentHealthy": 3}
    obj = orjson.loads(pdbs.create("default", body, ctx))
    assert obj["status"] == {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0,
                             "expectedPods": 0}
    assert obj["metadata"]["generation"] == 1


def test_empty_spec_is_valid_and_kept(pdbs, ctx):
    obj = orjson.loads(pdbs.create("default", {"metadata": {"name": "empty"}}, ctx))
    assert obj["spec"] == {}


def test_min_and_max_cannot_both_be_set(pdbs, ctx):
    got = causes(pdbs, ctx, pdb(minAvailable=1, maxUnavailable="10%"))
    assert got == [("spec", "Invalid value: policy.PodDisruptionBudgetSpec{"
                            "MinAvailable:(*intstr.IntOrString)(0xc000000000), "
                            "Selector:(*v1.LabelSelector)(0xc000000000), "
                            "MaxUnavailable:(*intstr.IntOrString)(0xc000000000), "
                            "UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}: "
                            "minAvailable and maxUnavailable cannot be both set")]


def test_int_or_percent(pdbs, ctx):
    assert causes(pdbs, ctx, pdb(minAvailable=-1)) == [
        ("spec.minAvailable", "Invalid value: -1: must be greater than or equal to 0")]
    assert causes(pdbs, ctx, pdb(maxUnavailable="120%")) == [
        ("spec.maxUnavailable", 'Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: '
                                "must not be greater than 100%")]
    got = causes(pdbs, ctx, pdb(minAvailable="half"))
    assert got[0][0] == "spec.minAvailable"
    assert "a valid percent string must be a numeric string followed by an ending '%'" in got[0][1]


def test_unhealthy_pod_eviction_policy_enum(pdbs, ctx):
    assert causes(pdbs, ctx, pdb(unhealthyPodEvictionPolicy="Never")) == [
        ("spec.unhealthyPodEvictionPolicy",
         'Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"')]
    obj = orjson.loads(pdbs.create("default", pdb(unhealthyPodEvictionPolicy="AlwaysAllow"), ctx))
    assert obj["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_selector_validated(pdbs, ctx):
    got = causes(pdbs, ctx, pdb(selector={"matchLabels": {"a": "b c"}}))
    assert got[0][0] == "spec.selector.matchLabels"


def test_spec_update_bumps_generation_and_keeps_status(pdbs, ctx):
    pdbs.create("default", pdb(minAvailable=1), ctx)

    def status(cur):
        cur["status"] = {"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
                         "expectedPods": 2, "observedGeneration": 1}
        return cur
    obj = orjson.loads(pdbs.guaranteed_update("default", "web", status, ctx.for_subresource("status"))[0])
    assert obj["status"]["disruptionsAllowed"] == 1 and obj["metadata"]["generation"] == 1

    def spec(cur):
        cur["spec"]["minAvailable"] = 2
        cur["status"] = {}
        return cur
    obj = orjson.loads(pdbs.guaranteed_update("default", "web", spec, ctx)[0])
    assert obj["metadata"]["generation"] == 2
    assert obj["status"]["disruptionsAllowed"] == 1


def test_status_write_validates_counters_and_fills_zeros(pdbs, ctx):
    pdbs.create("default", pdb(minAvailable=1), ctx)

    def negative(cur):
        cur["status"] = {"disruptionsAllowed": -1}
        return cur
    with pytest.raises(errors.Invalid) as exc:
        pdbs.guaranteed_update("default", "web", negative, ctx.for_subresource("status"))
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("status.disruptionsAllowed", "Invalid value: -1: must be greater than or equal to 0")]

    def partial(cur):
        cur["status"] = {"currentHealthy": 3}
        return cur
    obj = orjson.loads(pdbs.guaranteed_update("default", "web", partial, ctx.for_subresource("status"))[0])
    assert obj["status"] == {"currentHealthy": 3, "desiredHealthy": 0, "disruptionsAllowed": 0,
                             "expectedPods": 0}

    def bad_condition(cur):
        cur["status"]["conditions"] = [{"type": "DisruptionAllowed", "status": "Maybe"}]
        return cur
    with pytest.raises(errors.Invalid) as exc:
        pdbs.guaranteed_update("default", "web", bad_condition, ctx.for_subresource("status"))
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("status.conditions[0].status", 'Unsupported value: "Maybe": supported values: "False", "True", "Unknown"'),
        ("status.conditions[0].lastTransitionTime", "Required value: must be set"),
        ("status.conditions[0].reason", "Required value: must be set")]


def test_put_needs_resource_version(pdbs, ctx):
    obj = orjson.loads(pdbs.create("default", pdb(minAvailable=1), ctx))
    obj["metadata"].pop("resourceVersion")
    with pytest.raises(errors.Invalid):
        pdbs.update("default", "web", obj, ctx)


def test_table_row():
    s = PodDisruptionBudgetStrategy()
    base = {"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"disruptionsAllowed": 2}}
    assert s.table_row({**base, "spec": {"minAvailable": 1}})[:4] == ["web", "1", "N/A", 2]
    assert s.table_row({**base, "spec": {"maxUnavailable": "25%"}})[:4] == ["web", "N/A", "25%", 2]
    assert [(c.name, c.type) for c in s.columns] == [
        ("Name", "string"), ("Min Available", "string"), ("Max Unavailable", "string"),
        ("Allowed Disruptions", "integer"), ("Age", "string")]


def test_http_create_shows_zero_status_and_table(db):
    client = ASGIClient(in_process_app()[1])
    resp = client.post("/apis/policy/v1/namespaces/default/poddisruptionbudgets",
                       {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", **pdb(minAvailable="50%")})
    assert resp.status_code == 201, resp.json()
    assert resp.json()["status"] == {"currentHealthy": 0, "desiredHealthy": 0,
                                     "disruptionsAllowed": 0, "expectedPods": 0}
    table = client.get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/web",
                       headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert table["rows"][0]["cells"][:4] == ["web", "50%", "N/A", 0]
