"""The horizontal pod autoscaler's replica calculator and resource-metrics client (upstream
release-1.32 pkg/controller/podautoscaler/replica_calculator.go, metrics/utilization.go and
metrics/client.go ``resourceMetricsClient``).

Values are integers of milli-units, as upstream's ``MilliValue()``: cpu in millicores,
memory in milli-bytes.  ``PodMetric`` is one pod's sample; a ``metrics`` dict maps pod names
to samples.  Every failure is a ``MetricError`` whose text is upstream's message, because it
reaches the HPA's conditions and events verbatim.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from apiserver.client import ApiError
from workers.scheduler.quantity import parse

from . import podutil, selectors

POD_METRICS = "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"


class MetricError(Exception):
    """A metric that cannot be had or used; ``str()`` is upstream's message."""


@dataclass
class PodMetric:
    value: int                      # milli-units
    timestamp: float = 0.0          # unix seconds of the sample
    window: float = 0.0             # seconds the sample covers


def milli_value(quantity) -> int:
    """``Quantity.MilliValue()``: the value in thousandths, rounded up."""
    return int(math.ceil(parse(quantity) * 1000))


def go_duration_seconds(text) -> float:
    """A Go ``time.Duration`` string (``1s``, ``10.5s``, ``1m0.5s``, ``500ms``) as seconds;
    0 for anything else."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6,
             "ns": 1e-9}
    s, total, num = str(text or ""), 0.0, ""
    i = 0
    while i < len(s):
        if s[i].isdigit() or s[i] == ".":
            num += s[i]
            i += 1
            continue
        unit = next((u for u in ("ms", "us", "µs", "ns", "h", "m", "s") if s.startswith(u, i)),
                    None)
        if unit is None or not num:
            return 0.0
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    return total


# ---- metrics client ----------------------------------------------------------------------

def pod_metrics_info(items: list, resource: str, container: str = "") -> dict:
    """``getPodMetrics`` / ``getContainerMetrics``: each pod's usage of ``resource`` (the sum
    over its containers, or one container's).  A pod missing the resource in any container
    (or having no containers) is left out; a named container absent from a pod is an
    error."""
    out: dict[str, PodMetric] = {}
    for m in items:
        meta = m.get("metadata") or {}
        stamp = podutil.parse_time(m.get("timestamp")) or 0.0
        window = go_duration_seconds(m.get("window"))
        containers = m.get("containers") or []
        if container:
            found = next((c for c in containers if c.get("name") == container), None)
            if found is None:
                raise MetricError(f"failed to get container metrics: container {container} not "
                                  f"present in metrics for pod {meta.get('namespace')}/"
                                  f"{meta.get('name')}")
            usage = (found.get("usage") or {}).get(resource)
            if usage is not None:
                out[meta.get("name")] = PodMetric(milli_value(usage), stamp, window)
            continue
        total, missing = 0, not containers
        for c in containers:
            usage = (c.get("usage") or {}).get(resource)
            if usage is None:
                missing = True
                break
            total += milli_value(usage)
        if not missing:
            out[meta.get("name")] = PodMetric(total, stamp, window)
    return out


class ResourceMetricsClient:
    """``GetResourceMetric`` over ``metrics.k8s.io/v1beta1`` PodMetrics."""

    def __init__(self, client):
        self.client = client

    async def get_resource_metric(self, resource: str, namespace: str, selector: str,
                                  container: str = "") -> tuple[dict, float]:
        """``(metrics, timestamp of the first item)`` for the pods ``selector`` (a label
        selector string) matches."""
        path = POD_METRICS.format(ns=namespace)
        try:
            listed = await self.client.get(path, {"labelSelector": selector})
        except ApiError as exc:
            raise MetricError("unable to fetch metrics from resource metrics API: "
                              f"{exc.message or exc}") from None
        items = listed.get("items") or []
        if not items:
            raise MetricError("no metrics returned from resource metrics API")
        metrics = pod_metrics_info(items, resource, container)
        return metrics, podutil.parse_time(items[0].get("timestamp")) or 0.0


# ---- pod grouping and requests ---------------------------------------------------------

def group_pods(pods: list, metrics: dict, resource: str, cpu_initialization_period: float,
               initial_readiness_delay: float, now: float):
    """``groupPods``: ``(ready count, unready, missing, ignored)`` pod-name sets.  Deleted and
    failed pods are ignored; pending pods are unready; pods without a sample are missing;
    for cpu, a pod is unready while it has no Ready condition or start time, while within its
    initialization period it is not ready or its sample predates one window after readiness
    changed, and afterwards when it is not ready and never was (its readiness last changed
    within the initial readiness delay of its start)."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            condition = podutil.ready_condition(pod)
            start = podutil.parse_time(status.get("startTime"))
            if condition is None or start is None:
                not_ready = True
            else:
                changed = podutil.parse_time(condition.get("lastTransitionTime")) or 0.0
                if start + cpu_initialization_period > now:
                    not_ready = (condition.get("status") == "False"
                                 or metric.timestamp < changed + metric.window)
                else:
                    not_ready = (condition.get("status") == "False"
                                 and start + initial_readiness_delay > changed)
            if not_ready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def calculate_pod_requests(pods: list, container: str, resource: str) -> dict:
    """``calculatePodRequests``: each pod's request of ``resource`` in milli-units, summed
    over its containers and restartable (sidecar) init containers, or one container's."""
    out = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or []) + [
            c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        total = 0
        for c in containers:
            if container and c.get("name") != container:
                continue
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise MetricError(f"missing request for {resource} in container {c.get('name')} "
                                  f"of Pod {pod['metadata']['name']}")
            total += milli_value(request)
        out[pod["metadata"]["name"]] = total
    return out


def resource_utilization_ratio(metrics: dict, requests: dict, target_utilization: int):
    """``GetResourceUtilizationRatio``: ``(ratio to target, utilization %, average raw
    value)`` over the pods that have both a sample and a request."""
    usage_total = request_total = entries = 0
    for name, metric in metrics.items():
        if name not in requests:
            continue                 # extraneous metrics: requests were checked elsewhere
        usage_total += metric.value
        request_total += requests[name]
        entries += 1
    if request_total == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = usage_total * 100 // request_total
    return utilization / target_utilization, utilization, usage_total // entries


def metric_usage_ratio(metrics: dict, target_usage: int):
    """``GetMetricUsageRatio``: ``(ratio to target, average usage)``."""
    usage = sum(m.value for m in metrics.values()) // len(metrics)
    return usage / target_usage, usage


# ---- the calculator -------------------------------------------------------------------

class ReplicaCalculator:
    """``ReplicaCalculator``: proposals for one metric from samples and the pod cache.

    ``list_pods(namespace, selector)`` returns the cached pods a parsed selector matches;
    ``clock()`` is the current unix time (tests pass their own)."""

    def __init__(self, metrics_client, list_pods, tolerance: float = 0.1,
                 cpu_initialization_period: float = 300.0,
                 initial_readiness_delay: float = 30.0, clock=time.time):
        self.metrics_client, self.list_pods = metrics_client, list_pods
        self.tolerance = tolerance
        self.cpu_initialization_period = cpu_initialization_period
        self.initial_readiness_delay = initial_readiness_delay
        self.clock = clock

    def _pods(self, namespace: str, selector: dict) -> list:
        pods = self.list_pods(namespace, selector)
        if not pods:
            raise MetricError("no pods returned by selector while calculating replica count")
        return pods

    def _grouped(self, pods, metrics, resource):
        ready, unready, missing, ignored = group_pods(
            pods, metrics, resource, self.cpu_initialization_period,
            self.initial_readiness_delay, self.clock())
        for name in ignored | unready:
            metrics.pop(name, None)
        if not metrics:
            raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
        return ready, unready, missing

    async def get_resource_replicas(self, current: int, target_utilization: int, resource: str,
                                    namespace: str, selector: dict, selector_text: str,
                                    container: str = ""):
        """``GetResourceReplicas``: ``(replicas, utilization %, average raw value,
        timestamp)`` for a Utilization target of ``resource``."""
        try:
            metrics, stamp = await self.metrics_client.get_resource_metric(
                resource, namespace, selector_text, container)
        except MetricError as exc:
            raise MetricError(f"unable to get metrics for resource {resource}: {exc}") from None
        pods = self._pods(namespace, selector)
        ready, unready, missing = self._grouped(pods, metrics, resource)
        requests = calculate_pod_requests(pods, container, resource)
        ratio, utilization, raw = resource_utilization_ratio(metrics, requests,
                                                             target_utilization)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if abs(1.0 - ratio) <= self.tolerance:
                return current, utilization, raw, stamp
            return int(math.ceil(ratio * ready)), utilization, raw, stamp
        if missing and ratio != 1.0:
            # scaling down, a pod without a sample counts as using its whole request; scaling
            # up, as using none of it
            for name in missing:
                metrics[name] = PodMetric(requests[name] if ratio < 1.0 else 0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(0)
        new_ratio, _, _ = resource_utilization_ratio(metrics, requests, target_utilization)
        replicas = self._rebalanced(current, ratio, new_ratio, len(metrics))
        return replicas, utilization, raw, stamp

    def _rebalanced(self, current: int, ratio: float, new_ratio: float, count: int) -> int:
        """The proposal after missing/unready pods were filled in: none when the change is
        within tolerance or the fill-in reversed the direction of the scale."""
        if abs(1.0 - new_ratio) <= self.tolerance or (ratio < 1.0 < new_ratio) \
                or (ratio > 1.0 > new_ratio):
            return current
        replicas = int(math.ceil(new_ratio * count))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current
        return replicas

    async def get_raw_resource_replicas(self, current: int, target_usage: int, resource: str,
                                        namespace: str, selector: dict, selector_text: str,
                                        container: str = ""):
        """``GetRawResourceReplicas``: ``(replicas, average usage, timestamp)`` for an
        AverageValue target (milli-units) of ``resource``."""
        try:
            metrics, stamp = await self.metrics_client.get_resource_metric(
                resource, namespace, selector_text, container)
        except MetricError as exc:
            raise MetricError(f"unable to get metrics for resource {resource}: {exc}") from None
        replicas, usage = self.plain_metric_replicas(metrics, current, target_usage, namespace,
                                                     selector, resource)
        return replicas, usage, stamp

    def plain_metric_replicas(self, metrics: dict, current: int, target_usage: int,
                              namespace: str, selector: dict, resource: str):
        """``calcPlainMetricReplicas``: as the utilization case, with missing pods counted at
        exactly the target when scaling down."""
        pods = self._pods(namespace, selector)
        ready, unready, missing = self._grouped(pods, metrics, resource)
        ratio, usage = metric_usage_ratio(metrics, target_usage)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if abs(1.0 - ratio) <= self.tolerance:
                return current, usage
            return int(math.ceil(ratio * ready)), usage
        if missing and ratio != 1.0:
            for name in missing:
                metrics[name] = PodMetric(target_usage if ratio < 1.0 else 0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(0)
        new_ratio, _ = metric_usage_ratio(metrics, target_usage)
        return self._rebalanced(current, ratio, new_ratio, len(metrics)), usage


def pods_matching(pods, namespace: str, selector: dict) -> list:
    """The pods of ``namespace`` a LabelSelector dict matches (a pod-lister stand-in)."""
    return [p for p in pods if p["metadata"].get("namespace") == namespace
            and selectors.matches(selector, p["metadata"].get("labels"))]
