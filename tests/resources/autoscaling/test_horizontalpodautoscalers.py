"""HorizontalPodAutoscaler: v2 defaults, validation messages, status writes, the table, and
the v1 <-> v2 conversion of the one stored object (annotation round trip included).

Cases after kubernetes/kubernetes:pkg/apis/autoscaling/v2/defaults_test.go,
pkg/apis/autoscaling/validation/validation_test.go, pkg/apis/autoscaling/v1/conversion_test.go
and pkg/printers/internalversion/printers_test.go (TestPrintHPA).
"""
from __future__ import annotations

import copy
import json

import orjson
import pytest

from apiserver.runtime import errors
from resources.autoscaling import hpa_conversion as conv
from resources.autoscaling.horizontalpodautoscalers import (HorizontalPodAutoscalerStrategy,
                                                           HorizontalPodAutoscalerV1Strategy,
                                                           format_hpa_metrics)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
CPU = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                    "averageUtilization": 60}}}
MEMORY = {"type": "Resource", "resource": {"name": "memory", "target": {
    "type": "AverageValue", "averageValue": "500Mi"}}}
BEHAVIOR = {"scaleDown": {"stabilizationWindowSeconds": 300, "policies": [
    {"type": "Pods", "value": 1, "periodSeconds": 60}]}}


@pytest.fixture
def hpas(stores):
    ensure_revision_row()
    return (stores.store("autoscaling", "v1", "horizontalpodautoscalers"),
            stores.store("autoscaling", "v2", "horizontalpodautoscalers"))


def v2(name="web", **spec):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name}, "spec": {"scaleTargetRef": dict(REF), "maxReplicas": 5, **spec}}


def v1(name="web", **spec):
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name}, "spec": {"scaleTargetRef": dict(REF), "maxReplicas": 5, **spec}}


def messages(exc) -> list[str]:
    return [f"{c.field}: {c.message}" for c in exc.value.causes]


# ---- defaults and create ----------------------------------------------------------------

def test_create_defaults_min_replicas_and_a_cpu_metric_and_zeroes_status(hpas, ctx):
    _, store = hpas
    body = v2()
    body["status"] = {"desiredReplicas": 7, "currentReplicas": 3}
    obj = orjson.loads(store.create("default", body, ctx))
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]
    assert "behavior" not in obj["spec"]
    # Go's zero v2 status: currentMetrics has no omitempty (null), currentReplicas has
    assert obj["status"] == {"currentMetrics": None, "desiredReplicas": 0}
    assert "generation" not in obj["metadata"]       # no HPAGeneration in 1.32


def test_behavior_defaults_fill_only_what_is_unset(hpas, ctx):
    _, store = hpas
    obj = orjson.loads(store.create("default", v2(behavior={"scaleDown": {
        "stabilizationWindowSeconds": 120}}), ctx))
    assert obj["spec"]["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"selectPolicy": "Max", "stabilizationWindowSeconds": 120, "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]}}


def test_v1_create_has_v1_zero_status_and_is_stored_as_v2(hpas, ctx):
    store1, store2 = hpas
    created = orjson.loads(store1.create("default", v1(targetCPUUtilizationPercentage=50), ctx))
    assert created["apiVersion"] == "autoscaling/v1"
    assert created["spec"] == {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 5,
                               "targetCPUUtilizationPercentage": 50}
    assert created["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    assert "annotations" not in created["metadata"]
    stored = orjson.loads(store2.get("default", "web"))
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_v1_without_a_target_gets_the_80_percent_default(hpas, ctx):
    store1, _ = hpas
    created = orjson.loads(store1.create("default", v1(), ctx))
    assert created["spec"]["targetCPUUtilizationPercentage"] == 80


# ---- validation -------------------------------------------------------------------------

@pytest.mark.parametrize("spec,expected", [
    ({"minReplicas": 0}, "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"),
    ({"maxReplicas": 0, "minReplicas": 1}, "spec.maxReplicas: Invalid value: 0: must be greater than 0"),
    ({"minReplicas": 3, "maxReplicas": 2},
     "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"),
    ({"scaleTargetRef": {"name": "web"}}, "spec.scaleTargetRef.kind: Required value"),
    ({"scaleTargetRef": {"kind": "Deployment", "name": "a/b"}},
     "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'"),
    ({"metrics": [{"type": "Bogus"}]},
     'spec.metrics[0].type: Unsupported value: "Bogus": supported values: "ContainerResource", '
     '"External", "Object", "Pods", "Resource"'),
    ({"metrics": [{"type": "Pods"}]},
     "spec.metrics[0].pods: Required value: must populate information for the given metric source"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]},
     "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target "
     "raw value or a target utilization"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Percent", "averageUtilization": 50}}}]},
     'spec.metrics[0].resource.target.type: Invalid value: "Percent": must be either Utilization, '
     "Value, or AverageValue"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 0}}}]},
     "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"),
    ({"metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
        "type": "AverageValue", "averageValue": "-1"}}}]},
     'spec.metrics[0].pods.target.averageValue: Invalid value: resource.Quantity{i:resource.int64Amount'
     '{value:-1, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"-1", Format:"DecimalSI"}: '
     "must be positive"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}, "pods": {"metric": {"name": "x"}}}]},
     "spec.metrics[0].pods: Forbidden: must populate the given metric source only"),
    ({"metrics": [{"type": "External", "external": {"metric": {"name": "queue"}, "target": {
        "type": "Value"}}}]},
     "spec.metrics[0].external.target.averageValue: Required value: must set either a target value "
     "for metric or a per-pod target"),
    ({"metrics": [{"type": "ContainerResource", "containerResource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]},
     "spec.metrics[0].containerResource.container: Required value: must specify a container"),
    ({"behavior": {"scaleUp": {"policies": []}}},
     "spec.behavior.scaleUp.policies: Required value: must specify at least one Policy"),
    ({"behavior": {"scaleUp": {"selectPolicy": "Sometimes"}}},
     'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Sometimes": supported values: '
     '"Disabled", "Max", "Min"'),
    ({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 3601}}},
     "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: 3601: must be less than "
     "or equal to 3600"),
    ({"behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}}},
     "spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value: 1801: must be less than "
     "or equal to 1800"),
    ({"behavior": {"scaleDown": {"policies": [{"type": "Nodes", "value": 1, "periodSeconds": 60}]}}},
     'spec.behavior.scaleDown.policies[0].type: Unsupported value: "Nodes": supported values: '
     '"Percent", "Pods"'),
])
def test_validation_messages(hpas, ctx, spec, expected):
    _, store = hpas
    body = v2()
    body["spec"].update(spec)
    with pytest.raises(errors.Invalid) as exc:
        store.create("default", body, ctx)
    assert expected in messages(exc), messages(exc)


def test_a_v1_request_is_validated_with_the_storage_paths(hpas, ctx):
    store1, _ = hpas
    with pytest.raises(errors.Invalid) as exc:
        store1.create("default", v1(targetCPUUtilizationPercentage=0), ctx)
    assert exc.value.message.startswith('HorizontalPodAutoscaler.autoscaling "web" is invalid')
    assert messages(exc) == ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: "
                             "must be greater than 0"]


def test_scale_to_zero_is_kept_only_where_it_already_is():
    s = HorizontalPodAutoscalerStrategy()
    zero = v2(minReplicas=0, metrics=[CPU])
    errs = s.validate_update(None, zero, copy.deepcopy(zero))
    assert [e.error_text() for e in errs] == [
        "spec.metrics: Forbidden: must specify at least one Object or External metric to support "
        "scaling to zero replicas"]
    external = {"type": "External", "external": {"metric": {"name": "queue"}, "target": {
        "type": "AverageValue", "averageValue": "30"}}}
    assert s.validate_update(None, v2(minReplicas=0, metrics=[external]), zero) == []
    assert [e.field for e in s.validate_update(None, v2(minReplicas=0, metrics=[external]),
                                               v2(minReplicas=1))] == ["spec.minReplicas"]


# ---- status -----------------------------------------------------------------------------

def test_status_writes_keep_spec_and_spec_writes_keep_status(hpas, ctx):
    _, store = hpas
    store.create("default", v2(), ctx)

    def status(cur):
        cur["status"] = {"currentReplicas": 2, "desiredReplicas": 3}
        cur["spec"]["maxReplicas"] = 50
        return cur
    obj = orjson.loads(store.guaranteed_update("default", "web", status, ctx.for_subresource("status"))[0])
    assert obj["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentMetrics": None}
    assert obj["spec"]["maxReplicas"] == 5

    def spec(cur):
        cur["spec"]["maxReplicas"] = 9
        cur["status"] = {}
        return cur
    obj = orjson.loads(store.guaranteed_update("default", "web", spec, ctx)[0])
    assert obj["spec"]["maxReplicas"] == 9 and obj["status"]["desiredReplicas"] == 3

    def negative(cur):
        cur["status"]["currentReplicas"] = -1
        return cur
    with pytest.raises(errors.Invalid) as exc:
        store.guaranteed_update("default", "web", negative, ctx.for_subresource("status"))
    assert messages(exc) == ["status.currentReplicas: Invalid value: -1: must be greater than or equal to 0"]


# ---- conversion -------------------------------------------------------------------------

def test_a_v2_object_with_memory_and_behavior_reads_as_v1_with_annotations(hpas, ctx):
    store1, store2 = hpas
    stored = orjson.loads(store2.create("default", v2(metrics=[MEMORY, CPU], behavior=BEHAVIOR), ctx))
    got = orjson.loads(store1.get("default", "web"))
    assert got["apiVersion"] == "autoscaling/v1"
    assert got["spec"] == {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 5,
                           "targetCPUUtilizationPercentage": 60}
    annotations = got["metadata"]["annotations"]
    assert annotations[conv.METRICS_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]')
    assert annotations[conv.BEHAVIOR_ANNOTATION] == (
        '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":['
        '{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}]},'
        '"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":"Max","Policies":['
        '{"Type":"Pods","Value":1,"PeriodSeconds":60}]}}')
    assert got["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    # writing the v1 object back is a no-op on the v2 object
    doc, _ = store1.update("default", "web", copy.deepcopy(got), ctx)
    assert orjson.loads(doc)["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    after = orjson.loads(store2.get("default", "web"))
    assert after == stored and "annotations" not in after["metadata"]


def test_a_v1_edit_changes_the_v2_object_and_keeps_the_annotated_metrics(hpas, ctx):
    store1, store2 = hpas
    store2.create("default", v2(metrics=[MEMORY, CPU]), ctx)

    def edit(cur):
        cur["spec"]["targetCPUUtilizationPercentage"] = 75
        cur["metadata"]["annotations"]["team"] = "a"
        return cur
    store1.guaranteed_update("default", "web", edit, ctx)
    after = orjson.loads(store2.get("default", "web"))
    assert after["spec"]["metrics"][0] == MEMORY
    assert after["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"] == 75
    assert after["metadata"]["annotations"] == {"team": "a"}


def test_metric_quantities_are_stored_canonical(hpas, ctx):
    _, store = hpas
    pods = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
        "type": "AverageValue", "averageValue": "0.5"}}}
    obj = orjson.loads(store.create("default", v2(metrics=[pods]), ctx))
    assert obj["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "500m"


def test_the_v1_cpu_metric_comes_back_after_the_annotated_ones():
    """Upstream appends the v1 CPU metric behind the annotation's metrics."""
    obj = conv.to_v2(conv.to_v1(v2(metrics=[CPU, MEMORY])))
    assert obj["spec"]["metrics"] == [MEMORY, CPU]


def test_status_metrics_and_conditions_ride_in_annotations(hpas, ctx):
    store1, store2 = hpas
    store2.create("default", v2(), ctx)
    cpu_now = {"type": "Resource", "resource": {"name": "cpu", "current": {
        "averageUtilization": 45, "averageValue": "120m"}}}
    condition = {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z",
                 "reason": "ReadyForNewScale", "message": "recommended size matches current size"}

    def status(cur):
        cur["status"] = {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [cpu_now],
                         "conditions": [condition]}
        return cur
    store2.guaranteed_update("default", "web", status, ctx.for_subresource("status"))
    got = orjson.loads(store1.get("default", "web"))
    assert got["status"] == {"currentReplicas": 2, "desiredReplicas": 2,
                             "currentCPUUtilizationPercentage": 45}
    annotations = got["metadata"]["annotations"]
    assert json.loads(annotations[conv.CURRENT_METRICS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 45,
                                          "currentAverageValue": "120m"}}]
    assert annotations[conv.CONDITIONS_ANNOTATION] == (
        '[{"type":"AbleToScale","status":"True","lastTransitionTime":"2024-05-01T10:00:00Z",'
        '"reason":"ReadyForNewScale","message":"recommended size matches current size"}]')
    assert conv.to_v2(copy.deepcopy(got))["status"]["conditions"] == [condition]
    assert conv.to_v2(copy.deepcopy(got))["status"]["currentMetrics"] == [cpu_now]


def test_round_trip_annotations_are_dropped_on_v2_writes_and_bad_ones_ignored(hpas, ctx):
    store1, store2 = hpas
    body = v2()
    body["metadata"]["annotations"] = {conv.METRICS_ANNOTATION: "[]", "keep": "me"}
    obj = orjson.loads(store2.create("default", body, ctx))
    assert obj["metadata"]["annotations"] == {"keep": "me"}
    bad = v1("bad", targetCPUUtilizationPercentage=40)
    bad["metadata"]["annotations"] = {conv.METRICS_ANNOTATION: "{not json",
                                      conv.BEHAVIOR_ANNOTATION: '{"scaleUp":{"selectPolicy":"Min"}}'}
    store1.create("default", bad, ctx)
    stored = orjson.loads(store2.get("default", "bad"))
    assert [m["resource"]["name"] for m in stored["spec"]["metrics"]] == ["cpu"]
    # Go's decoder matches field names case-insensitively
    assert stored["spec"]["behavior"]["scaleUp"]["selectPolicy"] == "Min"
    assert "annotations" not in stored["metadata"]


def test_other_metric_sources_convert_to_the_v1_shape_and_back():
    pods = {"type": "Pods", "pods": {"metric": {"name": "qps", "selector": {"matchLabels": {"a": "b"}}},
                                     "target": {"type": "AverageValue", "averageValue": "1k"}}}
    external = {"type": "External", "external": {"metric": {"name": "queue"}, "target": {
        "type": "Value", "value": "30"}}}
    container = {"type": "ContainerResource", "containerResource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}, "container": "app"}}
    v1obj = conv.to_v1(v2(metrics=[pods, external, container]))
    assert json.loads(v1obj["metadata"]["annotations"][conv.METRICS_ANNOTATION]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k",
                                  "selector": {"matchLabels": {"a": "b"}}}},
        {"type": "External", "external": {"metricName": "queue", "targetValue": "30"}},
        {"type": "ContainerResource", "containerResource": {
            "name": "cpu", "targetAverageUtilization": 70, "container": "app"}}]
    assert "targetCPUUtilizationPercentage" not in v1obj["spec"]
    assert conv.to_v2(v1obj)["spec"]["metrics"] == [pods, external, container]


def test_watch_events_through_v1_are_v1(hpas, ctx):
    from apiserver.storage.base import ChangeRecord
    from apiserver.storage.watch_cache import Event
    store1, store2 = hpas
    doc = store2.create("default", v2(metrics=[MEMORY, CPU]), ctx)
    line = orjson.loads(store1.event_line("ADDED", Event(ChangeRecord(1, store2.resource, "default",
                                                                      "web", "ADDED", doc))))
    assert line["object"]["apiVersion"] == "autoscaling/v1"
    assert line["object"]["spec"]["targetCPUUtilizationPercentage"] == 60


# ---- table ------------------------------------------------------------------------------

def test_table_columns_and_rows():
    s = HorizontalPodAutoscalerStrategy()
    assert [(c.name, c.type, c.priority) for c in s.columns] == [
        ("Name", "string", 0), ("Reference", "string", 0), ("Targets", "string", 0),
        ("MinPods", "string", 0), ("MaxPods", "string", 0), ("Replicas", "string", 0),
        ("Age", "string", 0)]
    obj = v2(minReplicas=2, metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}])
    obj["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    obj["status"] = {"currentMetrics": None, "desiredReplicas": 0}
    assert s.table_row(obj)[:6] == ["web", "Deployment/web", "cpu: <unknown>/80%", "2", 5, 0]
    obj["status"] = {"currentReplicas": 3, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45}}}]}
    assert s.table_row(obj)[2:6] == ["cpu: 45%/80%", "2", 5, 3]
    del obj["spec"]["minReplicas"]
    assert s.table_row(obj)[3] == "<unset>"
    v1obj = conv.to_v1(copy.deepcopy(obj))
    assert HorizontalPodAutoscalerV1Strategy().table_row(v1obj)[:3] == [
        "web", "Deployment/web", "cpu: 45%/80%"]


def test_format_hpa_metrics_per_source():
    pods = {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}}
    obj_avg = {"type": "Object", "object": {"target": {"averageValue": "2"}}}
    ext_value = {"type": "External", "external": {"target": {"value": "30"}}}
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {"averageValue": "500Mi"}}}
    assert format_hpa_metrics([], []) == "<none>"
    assert format_hpa_metrics([pods], []) == "<unknown>/1k"
    assert format_hpa_metrics([pods], [{"pods": {"current": {"averageValue": "1500m"}}}]) == "1500m/1k"
    assert format_hpa_metrics([obj_avg], []) == "<unknown>/2 (avg)"
    assert format_hpa_metrics([ext_value], [{"external": {"current": {"value": "7"}}}]) == "7/30"
    assert format_hpa_metrics([memory], []) == "memory: <unknown>/500Mi"
    assert format_hpa_metrics([{"type": "Weird"}], []) == "<unknown type>"
    assert format_hpa_metrics([pods, memory, ext_value], []) == \
        "<unknown>/1k, memory: <unknown>/500Mi + 1 more..."


def test_http_table_and_discovery(db):
    client = ASGIClient(in_process_app()[1])
    path = "/apis/autoscaling/{}/namespaces/default/horizontalpodautoscalers"
    resp = client.post(path.format("v2"), v2(metrics=[MEMORY, CPU]))
    assert resp.status_code == 201, resp.json()
    table_accept = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    for version in ("v1", "v2"):
        table = client.get(path.format(version) + "/web", headers=table_accept).json()
        assert [c["name"] for c in table["columnDefinitions"]] == [
            "Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
        assert table["rows"][0]["cells"][:6] == [
            "web", "Deployment/web", "memory: <unknown>/500Mi, cpu: <unknown>/60%", "1", 5, 0]
    got = client.get(path.format("v1") + "/web").json()
    assert got["spec"]["targetCPUUtilizationPercentage"] == 60
    group = client.get("/apis/autoscaling").json()
    assert group["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    resources = client.get("/apis/autoscaling/v1").json()["resources"]
    hpa = next(r for r in resources if r["name"] == "horizontalpodautoscalers")
    assert hpa["shortNames"] == ["hpa"] and hpa["categories"] == ["all"] and hpa["namespaced"]
    assert "horizontalpodautoscalers/status" in {r["name"] for r in resources}
