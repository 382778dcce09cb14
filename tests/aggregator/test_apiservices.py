"""apiregistration.k8s.io/v1 APIService through the real server chain (served by the
AggregatorServer): upstream's validation messages, the SERVICE and AVAILABLE columns, status
kept apart from spec; and the autoregistration controller: a local APIService per served
group/version with upstream's priorities, Available/Local, drifted managed specs put back,
stale managed ones removed, unmanaged ones left alone."""
from __future__ import annotations

import pytest

from aggregator.autoregister import AutoRegisterController
from tests.asgi import ASGIClient, in_process_app

API = "/apis/apiregistration.k8s.io/v1/apiservices"


@pytest.fixture
def env(db):
    completed, app = in_process_app()
    return completed, ASGIClient(app)


def service(name, group, version, **spec):
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": name},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": 1000,
                     "versionPriority": 15, **spec}}


def causes(resp) -> list:
    body = resp.json()
    return [(c["field"], c["message"]) for c in body["details"]["causes"]]


def test_the_aggregator_serves_apiservices(env):
    completed, client = env
    assert completed.stores.store("apiregistration.k8s.io", "v1", "apiservices") is not None
    created = client.post(API, service("v1beta1.metrics.k8s.io", "metrics.k8s.io", "v1beta1",
                                       service={"namespace": "kube-system",
                                                "name": "metrics-server"},
                                       insecureSkipTLSVerify=True))
    assert created.status_code == 201, created.content
    obj = created.json()
    assert obj["spec"]["service"]["port"] == 443                 # defaulted
    table = client.get(API, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    body = table.json()
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Service", "Available",
                                                             "Age"]
    [row] = body["rows"]
    assert row["cells"][:3] == ["v1beta1.metrics.k8s.io", "kube-system/metrics-server",
                                "Unknown"]


def test_validation_is_upstreams(env):
    _, client = env
    resp = client.post(API, service("wrong.name", "metrics.k8s.io", "v1beta1"))
    assert resp.status_code == 422
    assert causes(resp) == [("metadata.name", 'Invalid value: "wrong.name": must be '
                             '`spec.version+"."+spec.group`: "v1beta1.metrics.k8s.io"')]
    resp = client.post(API, service("v2.", "", "v2", groupPriorityMinimum=0,
                                    versionPriority=2000, caBundle="AAAA"))
    assert resp.status_code == 422
    assert causes(resp) == [
        ("spec.group", "Required value: only v1 may have an empty group and it better be "
                       "legacy kube"),
        ("spec.groupPriorityMinimum", "Invalid value: 0: must be positive and less than 20000"),
        ("spec.versionPriority", "Invalid value: 2000: must be positive and less than 1000"),
        ("spec.caBundle", 'Invalid value: "3 bytes": local APIServices may not have a caBundle')]
    resp = client.post(API, service("v1.x.io", "x.io", "v1", service={"name": "s"},
                                    insecureSkipTLSVerify=True, caBundle="AAAA"))
    assert causes(resp) == [
        ("spec.service.namespace", "Required value"),
        ("spec.insecureSkipTLSVerify", "Invalid value: true: may not be true if caBundle is "
                                       "present")]


def test_autoregistration(env):
    completed, client = env
    controller = AutoRegisterController(completed.stores)
    assert controller.sync() > 0
    listed = client.get(API).json()["items"]
    by_name = {o["metadata"]["name"]: o for o in listed}
    served = {(s.strategy.group, s.strategy.version) for s in completed.stores.all()}
    assert set(by_name) == {f"{v}.{g}" for g, v in served}
    core, apps = by_name["v1."], by_name["v1.apps"]
    assert core["spec"] == {"group": "", "version": "v1", "groupPriorityMinimum": 18000,
                            "versionPriority": 1}
    assert apps["spec"]["groupPriorityMinimum"] == 17800
    assert by_name["v2.autoscaling"]["spec"]["versionPriority"] == 30
    assert apps["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    [cond] = apps["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "Available", "True", "Local", "Local APIServices are always available")
    assert controller.sync() == 0                               # settled: nothing to write

    # a managed spec that drifted is put back; a stale managed one goes; others stay
    drifted = dict(apps, spec={**apps["spec"], "versionPriority": 3})
    assert client.put(f"{API}/v1.apps", drifted).status_code == 200
    stale = service("v1.gone.example.com", "gone.example.com", "v1")
    stale["metadata"]["labels"] = {"kube-aggregator.kubernetes.io/automanaged": "true"}
    assert client.post(API, stale).status_code == 201
    mine = service("v1.mine.example.com", "mine.example.com", "v1")
    assert client.post(API, mine).status_code == 201
    controller.sync()
    names = {o["metadata"]["name"] for o in client.get(API).json()["items"]}
    assert "v1.gone.example.com" not in names and "v1.mine.example.com" in names
    again = client.get(f"{API}/v1.apps").json()
    assert again["spec"]["versionPriority"] == 15
