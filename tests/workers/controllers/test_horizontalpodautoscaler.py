"""The horizontal pod autoscaler: replica proposals from pod metrics (missing, unready and
initializing pods as upstream's replica_calculator_test.go), the normalization (scale-up
limit, stabilization windows, behavior policies), and one reconcile against an in-memory
API (scale read and written, status conditions, events)."""
from __future__ import annotations

import asyncio
import copy

import pytest

from apiserver.client import ApiError
from workers.controllers import hpa_normalize as hn
from workers.controllers.horizontalpodautoscaler import HPAS, PODS, HorizontalPodAutoscalerController
from workers.controllers.hpa_replica_calculator import (MetricError, PodMetric, ReplicaCalculator,
                                                        group_pods, pods_matching)
from workers.controllers.hpa_util import ScaleClient, canonical_status, go_duration, milli_quantity
from workers.controllers.manager import CONTROLLERS, RECORDER_NAMES, parse_args
from workers.controllers.podutil import parse_time

from .fake_api import FakeClient, FakeInformers, FakeRecorder

NOW = parse_time("2026-01-01T00:10:00Z")
STARTED = "2026-01-01T00:00:00Z"           # ten minutes ago: past the cpu initialization


def run(coro):
    return asyncio.run(coro)


def pod(name, cpu_request="100m", *, ready=True, phase="Running", started=STARTED,
        ready_since=STARTED, containers=None, labels=None, deleting=False):
    containers = containers or [{"name": "c", "resources": {"requests": {"cpu": cpu_request}}}]
    obj = {"metadata": {"name": name, "namespace": "ns", "labels": labels or {"app": "web"}},
           "spec": {"containers": containers},
           "status": {"phase": phase, "startTime": started, "conditions": [
               {"type": "Ready", "status": "True" if ready else "False",
                "lastTransitionTime": ready_since}]}}
    if deleting:
        obj["metadata"]["deletionTimestamp"] = STARTED
    return obj


def pod_metrics(name, cpu, container="c", memory="64Mi"):
    return {"metadata": {"name": name, "namespace": "ns"}, "timestamp": "2026-01-01T00:09:59Z",
            "window": "1s", "containers": [{"name": container,
                                            "usage": {"cpu": cpu, "memory": memory}}]}


class Metrics:
    """A ResourceMetricsClient stand-in answering from PodMetrics items."""

    def __init__(self, items):
        self.items = items

    async def get_resource_metric(self, resource, namespace, selector, container=""):
        from workers.controllers.hpa_replica_calculator import pod_metrics_info
        if not self.items:
            raise MetricError("no metrics returned from resource metrics API")
        return pod_metrics_info(self.items, resource, container), NOW


def calculator(pods, items):
    return ReplicaCalculator(Metrics(items), lambda ns, sel: pods_matching(pods, ns, sel),
                             clock=lambda: NOW)


SEL = {"matchLabels": {"app": "web"}}


# ---- replica calculation ------------------------------------------------------------------

def test_utilization_proposes_ceil_of_ratio_times_ready_pods():
    pods = [pod(f"p{i}", "1000m") for i in range(3)]
    items = [pod_metrics("p0", "900m"), pod_metrics("p1", "1000m"), pod_metrics("p2", "1100m")]
    replicas, utilization, raw, _ = run(calculator(pods, items).get_resource_replicas(
        3, 30, "cpu", "ns", SEL, "app=web"))
    assert (replicas, utilization, raw) == (10, 100, 1000)


def test_a_ratio_within_tolerance_keeps_the_current_count():
    pods = [pod("p0", "1000m")]
    replicas, utilization, _, _ = run(calculator(pods, [pod_metrics("p0", "525m")])
                                      .get_resource_replicas(1, 50, "cpu", "ns", SEL, ""))
    assert (replicas, utilization) == (1, 52)


def test_missing_pods_count_as_their_whole_request_when_scaling_down():
    pods = [pod(f"p{i}", "1000m") for i in range(4)]
    items = [pod_metrics(f"p{i}", "100m") for i in range(3)]
    replicas, utilization, _, _ = run(calculator(pods, items).get_resource_replicas(
        4, 50, "cpu", "ns", SEL, ""))
    # without p3, 10% of a 50% target would propose 1; counted at 100% it is (300+1000)/4000
    assert (replicas, utilization) == (3, 10)


def test_unready_pods_count_as_idle_when_scaling_up():
    pods = [pod("p0", "1000m"), pod("p1", "1000m"),
            pod("p2", "1000m", ready=False, started="2026-01-01T00:09:00Z",
                ready_since="2026-01-01T00:09:00Z")]
    items = [pod_metrics(n, "1000m") for n in ("p0", "p1", "p2")]
    replicas, utilization, _, _ = run(calculator(pods, items).get_resource_replicas(
        3, 50, "cpu", "ns", SEL, ""))
    assert (replicas, utilization) == (4, 100)      # 66% of 50% over 3 pods, not 200% over 2


def test_group_pods_sorts_pending_deleted_missing_and_initializing_pods():
    fresh = "2026-01-01T00:09:59Z"                     # ready a moment ago, sample is older
    pods = [pod("ready"), pod("pending", phase="Pending"), pod("gone", deleting=True),
            pod("failed", phase="Failed"), pod("nometrics"),
            pod("warming", started="2026-01-01T00:08:00Z", ready_since=fresh),
            pod("never-ready", ready=False, started=STARTED, ready_since="2026-01-01T00:00:10Z"),
            pod("was-ready", ready=False, started=STARTED, ready_since="2026-01-01T00:05:00Z")]
    metrics = {n: PodMetric(100, NOW - 1, 1.0) for n in
               ("ready", "pending", "gone", "failed", "warming", "never-ready", "was-ready")}
    ready, unready, missing, ignored = group_pods(pods, metrics, "cpu", 300, 30, NOW)
    assert ready == 2                                  # "ready" and "was-ready"
    assert unready == {"pending", "warming", "never-ready"}
    assert missing == {"nometrics"} and ignored == {"gone", "failed"}
    # memory samples are never held back by readiness
    assert group_pods(pods, metrics, "memory", 300, 30, NOW)[0] == 4


def test_a_container_without_a_request_fails_the_metric():
    pods = [pod("p0", containers=[{"name": "c", "resources": {}}])]
    with pytest.raises(MetricError, match="missing request for cpu in container c of Pod p0"):
        run(calculator(pods, [pod_metrics("p0", "10m")]).get_resource_replicas(
            1, 50, "cpu", "ns", SEL, ""))


def test_container_metrics_use_one_container_and_average_values():
    containers = [{"name": "app", "resources": {"requests": {"cpu": "100m"}}},
                  {"name": "sidecar", "resources": {"requests": {"cpu": "900m"}}}]
    pods = [pod("p0", containers=containers)]
    items = [{"metadata": {"name": "p0", "namespace": "ns"}, "timestamp": "2026-01-01T00:09:59Z",
              "window": "1s", "containers": [{"name": "app", "usage": {"cpu": "200m"}},
                                             {"name": "sidecar", "usage": {"cpu": "0"}}]}]
    calc = calculator(pods, items)
    assert run(calc.get_resource_replicas(1, 100, "cpu", "ns", SEL, "", "app"))[:2] == (2, 200)
    assert run(calc.get_resource_replicas(1, 100, "cpu", "ns", SEL, ""))[:2] == (1, 20)
    replicas, usage, _ = run(calc.get_raw_resource_replicas(1, 50, "cpu", "ns", SEL, "", "app"))
    assert (replicas, usage) == (4, 200)
    with pytest.raises(MetricError, match="container nope not present in metrics for pod ns/p0"):
        run(calc.get_resource_replicas(1, 100, "cpu", "ns", SEL, "", "nope"))


# ---- normalization ------------------------------------------------------------------------

class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def conditions():
    seen = {}
    return seen, lambda kind, status, reason, message: seen.__setitem__(kind, (status, reason))


def test_without_behavior_scale_up_is_limited_to_double_or_four():
    seen, cond = conditions()
    n = hn.Normalizer(300, Clock())
    assert n.normalize({"maxReplicas": 20}, "k", 1, 10, 1, cond) == 4
    assert seen["ScalingLimited"] == ("True", "ScaleUpLimit")
    assert n.normalize({"maxReplicas": 20}, "k", 5, 30, 1, cond) == 10
    assert n.normalize({"maxReplicas": 3}, "k", 2, 30, 1, cond) == 3
    assert seen["ScalingLimited"] == ("True", "TooManyReplicas")
    assert n.normalize({"maxReplicas": 9}, "j", 2, 0, 1, cond) == 1
    assert seen["ScalingLimited"] == ("True", "TooFewReplicas")


def test_downscale_stabilization_keeps_the_highest_recent_recommendation():
    seen, cond = conditions()
    clock = Clock()
    n = hn.Normalizer(300, clock)
    n.record_initial_recommendation(5, "k")
    assert n.normalize({"maxReplicas": 10}, "k", 5, 2, 1, cond) == 5
    assert seen["AbleToScale"] == ("True", "ScaleDownStabilized")
    clock.t += 301                            # both earlier recommendations left the window
    assert n.normalize({"maxReplicas": 10}, "k", 5, 2, 1, cond) == 2
    assert seen["AbleToScale"] == ("True", "ReadyForNewScale")
    assert seen["ScalingLimited"] == ("False", "DesiredWithinRange")


DEFAULT_BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]},
    "scaleDown": {"selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]}}


def test_default_scale_up_policies_add_four_pods_or_double_per_period():
    seen, cond = conditions()
    clock = Clock()
    n = hn.Normalizer(300, clock)
    spec = {"maxReplicas": 100, "behavior": copy.deepcopy(DEFAULT_BEHAVIOR)}
    assert n.normalize_with_behaviors(spec, "k", 1, 40, 1, cond) == 5
    assert seen["ScalingLimited"] == ("True", "ScaleUpLimit")
    n.store_scale_event(spec["behavior"], "k", 1, 5)
    clock.t += 5                               # the period still holds the +4
    assert n.normalize_with_behaviors(spec, "k", 5, 40, 1, cond) == 5
    clock.t += 11                              # a new period: 100% of 5 beats 4 pods
    assert n.normalize_with_behaviors(spec, "k", 5, 40, 1, cond) == 10


def test_select_policy_min_and_disabled():
    _, cond = conditions()
    n = hn.Normalizer(0, Clock())
    behavior = copy.deepcopy(DEFAULT_BEHAVIOR)
    behavior["scaleUp"]["selectPolicy"] = "Min"
    spec = {"maxReplicas": 100, "behavior": behavior}
    assert n.normalize_with_behaviors(spec, "k", 10, 40, 1, cond) == 14    # 4 pods < 100%
    behavior["scaleUp"]["selectPolicy"] = "Disabled"
    assert n.normalize_with_behaviors(spec, "j", 10, 40, 1, cond) == 10


def test_scale_down_policies_and_the_scale_down_window():
    seen, cond = conditions()
    clock = Clock()
    n = hn.Normalizer(300, clock)
    behavior = copy.deepcopy(DEFAULT_BEHAVIOR)
    behavior["scaleDown"] = {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                             "policies": [{"type": "Pods", "value": 2, "periodSeconds": 30}]}
    spec = {"maxReplicas": 100, "behavior": behavior}
    n.record_initial_recommendation(10, "k")
    assert n.normalize_with_behaviors(spec, "k", 10, 1, 1, cond) == 10
    assert seen["AbleToScale"] == ("True", "ScaleDownStabilized")
    clock.t += 61
    assert n.normalize_with_behaviors(spec, "k", 10, 1, 1, cond) == 8
    assert seen["ScalingLimited"] == ("True", "ScaleDownLimit")
    n.store_scale_event(behavior, "k", 10, 8)
    clock.t += 10
    assert n.normalize_with_behaviors(spec, "k", 8, 1, 1, cond) == 8      # 2 per 30 s used


# ---- the controller -----------------------------------------------------------------------

DISCOVERY = {
    "/apis/apps": {"versions": [{"groupVersion": "apps/v1"}],
                   "preferredVersion": {"groupVersion": "apps/v1"}},
    "/apis/apps/v1": {"resources": [{"name": "deployments", "kind": "Deployment"},
                                    {"name": "deployments/scale", "kind": "Scale"}]},
}
SCALE = "/apis/apps/v1/namespaces/ns/deployments/web/scale"
METRICS = "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods"


class Api(FakeClient):
    def __init__(self, routes):
        super().__init__()
        self.routes = routes

    async def get(self, path, params=None):
        self.calls.append(("get", path, params))
        answer = self.routes.get(path)
        if answer is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if isinstance(answer, ApiError):
            raise answer
        return copy.deepcopy(answer)

    def updates(self, suffix):
        return [c[2] for c in self.calls if c[0] == "update" and c[1].endswith(suffix)]


def hpa(metrics=None, min_replicas=1, max_replicas=10, behavior=None, kind="Deployment"):
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "web"},
            "minReplicas": min_replicas, "maxReplicas": max_replicas,
            "metrics": metrics or [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}
    if behavior:
        spec["behavior"] = behavior
    return {"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7"},
            "spec": spec, "status": {"currentMetrics": None, "desiredReplicas": 0}}


def controller(obj, replicas=1, pods=(), items=(), extra=None):
    routes = dict(DISCOVERY)
    routes[SCALE] = {"apiVersion": "autoscaling/v1", "kind": "Scale",
                     "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "3"},
                     "spec": {"replicas": replicas},
                     "status": {"replicas": replicas, "selector": "app=web"}}
    routes[METRICS] = {"kind": "PodMetricsList", "items": list(items)}
    routes.update(extra or {})
    client, informers, recorder = Api(routes), FakeInformers(), FakeRecorder()

    async def build():
        return HorizontalPodAutoscalerController(client, informers, recorder,
                                                 clock=lambda: NOW)
    c = asyncio.run(build())
    informers.informer(HPAS).put(obj)
    for p in pods:
        informers.informer(PODS).put(copy.deepcopy(p))
    return c, client, recorder


def test_cpu_above_target_scales_up_and_reports_status():
    c, client, recorder = controller(hpa(), 1, [pod("p0")], [pod_metrics("p0", "200m")])
    run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    assert [u["spec"]["replicas"] for u in client.updates("/scale")] == [4]
    assert ("Normal", "SuccessfulRescale", "New size: 4; reason: cpu resource utilization "
            "(percentage of request) above target") in recorder.events
    status = client.updates("/status")[-1]["status"]
    assert status["currentReplicas"] == 1 and status["desiredReplicas"] == 4
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 200, "averageValue": "200m"}}}]
    assert status["lastScaleTime"]
    conds = {x["type"]: (x["status"], x["reason"], x["message"]) for x in status["conditions"]}
    assert conds["AbleToScale"] == ("True", "SucceededRescale",
                                    "the HPA controller was able to update the target scale to 4")
    assert conds["ScalingActive"] == (
        "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count "
        "from cpu resource utilization (percentage of request)")
    assert conds["ScalingLimited"][:2] == ("False", "DesiredWithinRange")
    assert [x["type"] for x in status["conditions"]] == ["AbleToScale", "ScalingActive",
                                                         "ScalingLimited"]


def test_an_unchanged_status_is_not_written_again():
    c, client, _ = controller(hpa(), 2, [pod("p0"), pod("p1")],
                              [pod_metrics("p0", "50m"), pod_metrics("p1", "50m")])
    run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    written = client.updates("/status")
    assert len(written) == 1 and not client.updates("/scale")
    assert written[0]["status"]["desiredReplicas"] == 2
    stored = copy.deepcopy(written[0])
    c.hpas.put(stored)
    run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    assert len(client.updates("/status")) == 1


def test_no_metrics_sets_scaling_active_false():
    c, client, recorder = controller(hpa(), 1, [pod("p0")], [])
    with pytest.raises(Exception, match="failed to compute desired number of replicas"):
        run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    status = client.updates("/status")[-1]["status"]
    assert status["currentMetrics"] == [{"type": ""}]
    active = next(x for x in status["conditions"] if x["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "unable to get metrics for resource cpu: no metrics returned from resource metrics API")
    assert ("Warning", "FailedComputeMetricsReplicas",
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource "
            "metric value: failed to get cpu utilization: unable to get metrics for resource cpu:"
            " no metrics returned from resource metrics API") in recorder.events


def test_pods_metrics_need_a_custom_metrics_api():
    pods_metric = [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
        "type": "AverageValue", "averageValue": "10"}}}]
    c, client, _ = controller(hpa(pods_metric), 1, [pod("p0")], [pod_metrics("p0", "1m")])
    with pytest.raises(Exception):
        run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    active = next(x for x in client.updates("/status")[-1]["status"]["conditions"]
                  if x["type"] == "ScalingActive")
    assert active["reason"] == "FailedGetPodsMetric"
    assert active["message"] == (
        "the HPA was unable to compute the replica count: unable to get metric qps: unable to "
        "fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) "
        "registered")


def test_one_failing_metric_does_not_block_a_scale_up():
    metrics = [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
        "type": "AverageValue", "averageValue": "10"}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {
            "type": "AverageValue", "averageValue": "32Mi"}}}]
    c, client, _ = controller(hpa(metrics), 1, [pod("p0")], [pod_metrics("p0", "1m")])
    with pytest.raises(Exception, match="invalid metrics"):
        run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    assert [u["spec"]["replicas"] for u in client.updates("/scale")] == [2]
    status = client.updates("/status")[-1]["status"]
    assert status["currentMetrics"][1] == {"type": "Resource", "resource": {
        "name": "memory", "current": {"averageValue": "67108864"}}}


def test_unknown_target_kind_fails_get_scale():
    c, client, recorder = controller(hpa(kind="Nope"))
    with pytest.raises(Exception, match="unable to determine resource"):
        run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    able = client.updates("/status")[-1]["status"]["conditions"][0]
    assert (able["type"], able["status"], able["reason"]) == ("AbleToScale", "False",
                                                              "FailedGetScale")
    assert able["message"] == ('the HPA controller was unable to get the target\'s current '
                               'scale: no matches for kind "Nope" in group "apps"')
    assert recorder.events[0][:2] == ("Warning", "FailedGetScale")


def test_min_max_bounds_and_a_target_scaled_to_zero():
    c, client, recorder = controller(hpa(max_replicas=3), 5, [pod("p0")], [])
    run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    assert [u["spec"]["replicas"] for u in client.updates("/scale")] == [3]
    assert recorder.events[-1][2] == ("New size: 3; reason: Current number of replicas above "
                                      "Spec.MaxReplicas")
    c, client, _ = controller(hpa(), 0, [], [])
    run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    assert not client.updates("/scale")
    active = next(x for x in client.updates("/status")[-1]["status"]["conditions"]
                  if x["type"] == "ScalingActive")
    assert (active["reason"], active["message"]) == (
        "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")


def test_two_hpas_selecting_the_same_pods_are_ambiguous():
    c, client, _ = controller(hpa(), 1, [pod("p0")], [pod_metrics("p0", "200m")])
    c.selectors["ns/web"] = None                     # announced by the informer
    c.selectors["ns/other"] = {"matchExpressions": [{"key": "app", "operator": "In",
                                                     "values": ["web"]}]}
    with pytest.raises(Exception):
        run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    active = next(x for x in client.updates("/status")[-1]["status"]["conditions"]
                  if x["type"] == "ScalingActive")
    assert active["reason"] == "AmbiguousSelector"
    assert active["message"] == ("pods by selector app=web are controlled by multiple HPAs: "
                                 "[ns/other ns/web]")


def test_flags_registration_and_quantities():
    args = parse_args(["--kubeconfig", "k", "--horizontal-pod-autoscaler-sync-period=2s",
                       "--horizontal-pod-autoscaler-cpu-initialization-period", "1m30s"])
    assert args.horizontal_pod_autoscaler_sync_period == 2.0
    assert args.horizontal_pod_autoscaler_cpu_initialization_period == 90.0
    assert args.horizontal_pod_autoscaler_downscale_stabilization == 300.0
    assert args.horizontal_pod_autoscaler_initial_readiness_delay == 30.0
    assert args.horizontal_pod_autoscaler_tolerance == 0.1
    assert go_duration("5m0s") == 300.0 and go_duration("500ms") == 0.5
    assert "horizontalpodautoscaling" in CONTROLLERS
    assert RECORDER_NAMES["horizontalpodautoscaling"] == "horizontal-pod-autoscaler"
    assert [milli_quantity(v) for v in (250, 2000, 1500, 67108864000, 2000000, 0)] == [
        "250m", "2", "1500m", "67108864", "2k", "0"]
    assert canonical_status({"currentReplicas": 0, "desiredReplicas": 1, "conditions": [],
                             "currentMetrics": []}) == {"desiredReplicas": 1,
                                                        "currentMetrics": None}


def test_external_metrics_need_an_external_metrics_api():
    external = [{"type": "External", "external": {
        "metric": {"name": "queue", "selector": {"matchLabels": {"q": "jobs"}}},
        "target": {"type": "Value", "value": "10"}}}]
    c, client, recorder = controller(hpa(external), 1, [pod("p0")], [])
    with pytest.raises(Exception):
        run(c.reconcile(c.hpas.get("web", "ns"), "ns/web"))
    active = next(x for x in client.updates("/status")[-1]["status"]["conditions"]
                  if x["type"] == "ScalingActive")
    assert active["reason"] == "FailedGetExternalMetric"
    assert active["message"] == (
        "the HPA was unable to compute the replica count: unable to get external metric "
        "ns/queue/&LabelSelector{MatchLabels:map[string]string{q: jobs,},MatchExpressions:"
        "[]LabelSelectorRequirement{},}: unable to fetch metrics from external metrics API: "
        "the server could not find the requested resource")
    assert recorder.events[-1][2].startswith(
        "invalid metrics (1 invalid out of 1), first error is: failed to get queue external "
        "metric value: failed to get external metric queue: unable to get external metric")


def test_the_scale_client_finds_kinds_in_any_version_preferred_first():
    client = Api({
        "/apis/example.com": {"versions": [{"groupVersion": "example.com/v1"},
                                           {"groupVersion": "example.com/v2"}],
                              "preferredVersion": {"groupVersion": "example.com/v2"}},
        "/apis/example.com/v1": {"resources": [{"name": "olds", "kind": "Old"},
                                               {"name": "widgets", "kind": "Widget"}]},
        "/apis/example.com/v2": {"resources": [{"name": "widgets", "kind": "Widget"},
                                               {"name": "widgets/scale", "kind": "Scale"}]},
        "/api/v1": {"resources": [{"name": "replicationcontrollers",
                                   "kind": "ReplicationController"}]}})
    scales = ScaleClient(client)
    assert run(scales.resolve("example.com", "Widget")) == ("/apis/example.com/v2", "widgets")
    assert run(scales.resolve("example.com", "Old")) == ("/apis/example.com/v1", "olds")
    assert run(scales.resolve("", "ReplicationController")) == ("/api/v1",
                                                                "replicationcontrollers")
    with pytest.raises(LookupError, match='no matches for kind "Gadget" in group "nope.io"'):
        run(scales.resolve("nope.io", "Gadget"))
