"""The horizontal pod autoscaler controller (upstream release-1.32
pkg/controller/podautoscaler/horizontal.go), ``--controllers`` name ``horizontalpodautoscaling``.

Every autoscaling/v2 HPA is reconciled once per ``--horizontal-pod-autoscaler-sync-period``
(upstream's fixed-interval rate limiter: a new or changed HPA is also first looked at one
period later).  A reconcile reads the target's ``/scale`` (the resource found through
discovery from the scaleTargetRef's group and kind, so custom resources with a scale
subresource work too), proposes a replica count per metric from ``metrics.k8s.io`` (Resource
and ContainerResource metrics; Pods, Object and External need a custom or external metrics
API, which this cluster does not serve, so they fail as upstream's do without one), takes
the highest proposal, normalizes it (``hpa_normalize``), writes ``/scale`` when it differs
and then the status (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime and the
AbleToScale / ScalingActive / ScalingLimited conditions), only when it changed.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339
from workers.metrics_server.selectors import SelectorError, parse_label_selector

from . import hpa_normalize, selectors
from .base import Controller, split_key
from .hpa_util import (ScaleClient, canonical_status, go_label_selector, milli_quantity,
                       set_condition)
from .hpa_replica_calculator import (MetricError, ReplicaCalculator, ResourceMetricsClient,
                                     milli_value, pods_matching)

log = logging.getLogger(__name__)

HPAS = "/apis/autoscaling/v2/horizontalpodautoscalers"
PODS = "/api/v1/pods"
NO_CUSTOM_METRICS = ("unable to fetch metrics from custom metrics API: no custom metrics API "
                     "(custom.metrics.k8s.io) registered")
NO_EXTERNAL_METRICS = ("unable to fetch metrics from external metrics API: the server could not "
                       "find the requested resource")


class HorizontalPodAutoscalerController(Controller):
    """One queue of HPA keys, each re-added one sync period after it was processed."""

    name = "horizontalpodautoscaling"

    def __init__(self, client, informers, recorder, *, sync_period: float = 15.0,
                 downscale_stabilization: float = 300.0, tolerance: float = 0.1,
                 cpu_initialization_period: float = 300.0,
                 initial_readiness_delay: float = 30.0, workers: int = 5, clock=time.time):
        self.workers = max(1, workers)
        super().__init__()
        self.client, self.recorder = client, recorder
        self.sync_period = sync_period
        self.hpas = informers.add_handler(HPAS, self._on_hpa)
        self.pods = informers.informer(PODS)
        self.scales = ScaleClient(client)
        self.normalizer = hpa_normalize.Normalizer(downscale_stabilization, clock)
        self.calculator = ReplicaCalculator(
            ResourceMetricsClient(client), self.list_pods, tolerance, cpu_initialization_period,
            initial_readiness_delay, clock)
        # the selector each HPA last used, for the AmbiguousSelector check
        self.selectors: dict[str, dict | None] = {}

    # ---- events -----------------------------------------------------------------------------
    def _on_hpa(self, event, hpa, old):
        m = hpa["metadata"]
        key = f"{m.get('namespace')}/{m['name']}"
        if event == "DELETED":
            self.queue.forget(key)
            self.selectors.pop(key, None)
            return
        self.selectors.setdefault(key, None)
        # upstream enqueues with its fixed-interval rate limiter: one period from now
        self.queue.add_after(key, self.sync_period)

    def list_pods(self, namespace: str, selector: dict) -> list:
        return pods_matching(list(self.pods.cache.values()), namespace, selector)

    # ---- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        """Reconcile one HPA, then queue it again one period later (whatever happened: a
        failure is in its status and events, and the next period retries)."""
        ns, name = split_key(key)
        hpa = self.hpas.get(name, ns)
        if hpa is None:
            self.normalizer.forget(key)
            self.selectors.pop(key, None)
            return
        try:
            await self.reconcile(hpa, key)
        except asyncio.CancelledError:
            raise
        except (ReconcileError, ApiError, OSError, asyncio.TimeoutError) as exc:
            # reported in the HPA's status and events, or a server away for a moment
            log.info("horizontalpodautoscaling: %s: %s", key, exc)
        except Exception:
            log.exception("horizontalpodautoscaling: reconciling %s failed", key)
        self.queue.add_after(key, self.sync_period)

    def _event(self, hpa, kind: str, reason: str, message: str) -> None:
        self.recorder.record(hpa, kind, reason, message)

    async def reconcile(self, shared: dict, key: str) -> None:
        """``reconcileAutoscaler``: one pass over the HPA ``shared`` (the informer's object,
        never modified): scale read, proposal, rescale, status write.  Raises
        ``ReconcileError`` when it ended early or a metric failed (already recorded in the
        status and events)."""
        hpa = copy.deepcopy(shared)
        hpa.setdefault("apiVersion", "autoscaling/v2")
        hpa.setdefault("kind", "HorizontalPodAutoscaler")
        original = canonical_status(copy.deepcopy(hpa.get("status") or {}))
        status = hpa["status"] = copy.deepcopy(hpa.get("status") or {})
        spec, ns = hpa.get("spec") or {}, hpa["metadata"]["namespace"]
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{ns}/{ref.get('name')}"
        cond = lambda *a: set_condition(status, *a)          # noqa: E731

        scale, scale_path = await self._get_scale(hpa, ref, ns, reference, original)
        cond("AbleToScale", "True", "SucceededGetScale",
             "the HPA controller was able to get the target's current scale")
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        self.normalizer.record_initial_recommendation(current, key)
        min_replicas = spec.get("minReplicas")
        min_replicas = 1 if min_replicas is None else int(min_replicas)
        max_replicas = int(spec.get("maxReplicas") or 0)
        statuses, desired, reason, rescale, error = None, 0, "", True, None
        if current == 0 and min_replicas != 0:
            rescale = False                  # autoscaling is off for a target scaled to 0
            cond("ScalingActive", "False", "ScalingDisabled",
                 "scaling is disabled since the replica count of the target is zero")
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            proposal, metric, statuses, error = await self.compute_replicas_for_metrics(
                hpa, scale, spec.get("metrics") or [])
            if proposal == -1:
                self._set_status(status, current, status.get("desiredReplicas") or 0,
                                 statuses, False)
                await self._update_status_if_needed(original, hpa)
                self._event(hpa, "Warning", "FailedComputeMetricsReplicas", str(error))
                raise ReconcileError("failed to compute desired number of replicas based on "
                                     f"listed metrics for {reference}: {error}")
            rescale_metric = ""
            if proposal > desired:
                desired, rescale_metric = proposal, metric
            if desired > current:
                reason = f"{rescale_metric} above target"
            if desired < current:
                reason = "All metrics below target"
            if spec.get("behavior") is None:
                desired = self.normalizer.normalize(spec, key, current, desired, min_replicas,
                                                    cond)
            else:
                self._default_scale_down_window(spec)
                desired = self.normalizer.normalize_with_behaviors(
                    spec, key, current, desired, min_replicas, cond)
            rescale = desired != current
        if rescale:
            await self._rescale(hpa, scale, scale_path, desired, reason, current, statuses,
                                original, reference, key)
        else:
            desired = current
        self._set_status(status, current, desired, statuses, rescale)
        await self._update_status_if_needed(original, hpa)
        if error is not None:
            raise ReconcileError(str(error))

    def _default_scale_down_window(self, spec: dict) -> None:
        """``maybeInitScaleDownStabilizationWindow``: the flag fills an unset window."""
        down = (spec.get("behavior") or {}).get("scaleDown")
        if isinstance(down, dict) and down.get("stabilizationWindowSeconds") is None:
            down["stabilizationWindowSeconds"] = int(self.normalizer.downscale_stabilization)

    async def _fail_get_scale(self, hpa, original, message: str, error: str):
        self._event(hpa, "Warning", "FailedGetScale", message)
        set_condition(hpa["status"], "AbleToScale", "False", "FailedGetScale",
                      f"the HPA controller was unable to get the target's current scale: "
                      f"{message}")
        await self._update_status_if_needed(original, hpa)
        raise ReconcileError(error)

    async def _get_scale(self, hpa, ref, ns, reference, original):
        """The target's Scale and its path, or the FailedGetScale condition and an error."""
        api_version = ref.get("apiVersion") or ""
        if api_version.count("/") > 1:
            message = f"unexpected GroupVersion string: {api_version}"
            await self._fail_get_scale(hpa, original, message, "invalid API version in scale "
                                       f"target reference: {message}")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        try:
            base, plural = await self.scales.resolve(group, ref.get("kind") or "")
        except (LookupError, ApiError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            await self._fail_get_scale(hpa, original, message, "unable to determine resource "
                                       f"for scale target reference: {message}")
        path = ScaleClient.path(base, plural, ns, ref.get("name") or "")
        try:
            return await self.client.get(path), path
        except ApiError as exc:
            await self._fail_get_scale(hpa, original, exc.message or str(exc),
                                       f"failed to query scale subresource for {reference}: "
                                       f"{exc.message or exc}")

    async def _rescale(self, hpa, scale, path, desired, reason, current, statuses, original,
                       reference, key) -> None:
        status = hpa["status"]
        body = copy.deepcopy(scale)
        body.setdefault("spec", {})["replicas"] = desired
        try:
            await self.client.update(path, body)
        except ApiError as exc:
            text = exc.message or str(exc)
            self._event(hpa, "Warning", "FailedRescale",
                        f"New size: {desired}; reason: {reason}; error: {text}")
            set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                          f"the HPA controller was unable to update the target scale: {text}")
            self._set_status(status, current, status.get("desiredReplicas") or 0, statuses,
                             False)
            await self._update_status_if_needed(original, hpa)
            raise ReconcileError(f"failed to rescale {reference}: {text}") from None
        set_condition(status, "AbleToScale", "True", "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
        self._event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
        self.normalizer.store_scale_event((hpa.get("spec") or {}).get("behavior"), key,
                                          current, desired)
        log.info("horizontalpodautoscaling: rescaled %s from %d to %d: %s", reference, current,
                 desired, reason)

    @staticmethod
    def _set_status(status: dict, current: int, desired: int, statuses, rescale: bool) -> None:
        """``setStatus``: replicas and metrics replaced, lastScaleTime and conditions kept."""
        keep = {k: status[k] for k in ("lastScaleTime", "conditions") if status.get(k)}
        status.clear()
        status.update(currentReplicas=current, desiredReplicas=desired,
                      currentMetrics=statuses or None, **keep)
        if rescale:
            status["lastScaleTime"] = now_rfc3339()

    async def _update_status_if_needed(self, original: dict, hpa: dict) -> None:
        """Write ``/status`` unless nothing changed."""
        body = dict(hpa, status=canonical_status(hpa["status"]))
        if body["status"] == original:
            return
        m = hpa["metadata"]
        path = (f"/apis/autoscaling/v2/namespaces/{m['namespace']}/horizontalpodautoscalers/"
                f"{m['name']}/status")
        try:
            await self.client.update(path, body)
        except ApiError as exc:
            self._event(hpa, "Warning", "FailedUpdateStatus", exc.message or str(exc))
            log.info("horizontalpodautoscaling: failed to update status for %s: %s",
                     m["name"], exc)

    # ---- metrics ------------------------------------------------------------------------------
    def _validate_selector(self, hpa: dict, text: str) -> dict:
        """``validateAndParseSelector``: a selector that parses and whose pods no other HPA
        also selects; else ScalingActive False and an error."""
        status = hpa["status"]
        if not text:
            self._event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(status, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector")
            raise MetricError("selector is required")
        try:
            parsed = parse_label_selector(text) or {}
        except SelectorError as exc:
            message = ("couldn't convert selector into a corresponding internal selector "
                       f"object: {exc}")
            self._event(hpa, "Warning", "InvalidSelector", message)
            set_condition(status, "ScalingActive", "False", "InvalidSelector", message)
            raise MetricError(message) from None
        m = hpa["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        if key in self.selectors:           # only an HPA the informer announced (enqueueHPA)
            self.selectors[key] = parsed
        pods = self.list_pods(m["namespace"], parsed)
        owners = sorted(k for k, sel in self.selectors.items()
                        if sel is not None and k.split("/", 1)[0] == m["namespace"]
                        and any(selectors.matches(sel, p["metadata"].get("labels"))
                                for p in pods))
        if len(owners) > 1:
            message = (f"pods by selector {text} are controlled by multiple HPAs: "
                       f"[{' '.join(owners)}]")
            self._event(hpa, "Warning", "AmbiguousSelector", message)
            set_condition(status, "ScalingActive", "False", "AmbiguousSelector", message)
            raise MetricError(message)
        return parsed

    async def compute_replicas_for_metrics(self, hpa: dict, scale: dict, specs: list):
        """``computeReplicasForMetrics``: ``(replicas, metric name, statuses, error)``, with
        replicas -1 when nothing can be scaled on (all metrics failed, or some failed and
        the rest would scale down)."""
        text = (scale.get("status") or {}).get("selector") or ""
        try:
            selector = self._validate_selector(hpa, text)
        except MetricError as exc:
            return -1, "", None, exc
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        status_replicas = int((scale.get("status") or {}).get("replicas") or 0)
        statuses = [{"type": ""} for _ in specs]      # a failed metric's status stays zero
        replicas, metric, invalid, first_error, first_condition = 0, "", 0, None, None
        for i, spec in enumerate(specs):
            try:
                proposal, name, statuses[i] = await self.compute_replicas_for_metric(
                    hpa, spec, spec_replicas, status_replicas, selector, text)
            except MetricFailure as exc:
                if invalid == 0:
                    first_error, first_condition = exc.error, exc.condition
                invalid += 1
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = None
        if first_error is not None:
            error = MetricError(f"invalid metrics ({invalid} invalid out of {len(specs)}), "
                                f"first error is: {first_error}")
        if invalid >= len(specs) or (invalid and replicas < spec_replicas):
            set_condition(hpa["status"], *first_condition)
            return -1, "", statuses, error
        set_condition(hpa["status"], "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}")
        return replicas, metric, statuses, error

    def _unable(self, hpa: dict, reason: str, error) -> tuple:
        """``getUnableComputeReplicaCountCondition``: the event now, the condition for
        later."""
        self._event(hpa, "Warning", reason, str(error))
        return ("ScalingActive", "False", reason,
                f"the HPA was unable to compute the replica count: {error}")

    async def compute_replicas_for_metric(self, hpa, spec, spec_replicas, status_replicas,
                                          selector, selector_text):
        """``computeReplicasForMetric``: ``(proposal, metric name, metric status)`` or
        ``MetricFailure``."""
        kind = spec.get("type")
        if kind in ("Resource", "ContainerResource"):
            key = "resource" if kind == "Resource" else "containerResource"
            source = spec.get(key) or {}
            container = (source.get("container") or "") if kind == "ContainerResource" else ""
            reason = ("FailedGetResourceMetric" if kind == "Resource"
                      else "FailedGetContainerResourceMetric")
            try:
                proposal, name, current = await self._resource_metric(
                    spec_replicas, source, hpa, container, selector, selector_text, kind)
            except MetricError as exc:
                wrapped = (f"failed to get {source.get('name')} resource metric value: {exc}"
                           if kind == "Resource" else
                           f"failed to get {container} container metric value: {exc}")
                raise MetricFailure(wrapped, self._unable(hpa, reason, exc)) from None
            metric_status = {"name": source.get("name"), "current": current}
            if container:
                metric_status["container"] = container
            return proposal, name, {"type": kind, key: metric_status}
        if kind == "Pods":
            name = ((spec.get("pods") or {}).get("metric") or {}).get("name")
            err = MetricError(f"unable to get metric {name}: {NO_CUSTOM_METRICS}")
            raise MetricFailure(f"failed to get pods metric value: {err}",
                                self._unable(hpa, "FailedGetPodsMetric", err))
        if kind == "Object":
            obj = spec.get("object") or {}
            name = (obj.get("metric") or {}).get("name")
            target = obj.get("describedObject") or {}
            # upstream's GetObjectMetricReplicas message, odd order included
            err = MetricError(f"unable to get metric {name}: {target.get('kind')} on "
                              f"{hpa['metadata']['namespace']} {target.get('name')}/"
                              f"{NO_CUSTOM_METRICS}")
            returned = err
            if (obj.get("target") or {}).get("type") == "AverageValue":
                returned = f"failed to get {name} object metric: {err}"
            raise MetricFailure(f"failed to get object metric value: {returned}",
                                self._unable(hpa, "FailedGetObjectMetric", err))
        if kind == "External":
            ext = spec.get("external") or {}
            metric = ext.get("metric") or {}
            name = metric.get("name")
            err = MetricError(f"unable to get external metric {hpa['metadata']['namespace']}/"
                              f"{name}/{go_label_selector(metric.get('selector'))}: "
                              f"{NO_EXTERNAL_METRICS}")
            if (ext.get("target") or {}).get("averageValue") is not None:
                returned = f"failed to get {name} external metric: {err}"
            else:
                returned = f"failed to get external metric {name}: {err}"
            raise MetricFailure(f"failed to get {name} external metric value: {returned}",
                                self._unable(hpa, "FailedGetExternalMetric", err))
        err = MetricError(f'unknown metric source type "{kind}"')
        raise MetricFailure(str(err), self._unable(hpa, "InvalidMetricSourceType", err))

    async def _resource_metric(self, current, source, hpa, container, selector, text, kind):
        """``computeStatusForResourceMetricGeneric``: ``(proposal, metric name, current)``."""
        ns, resource = hpa["metadata"]["namespace"], source.get("name")
        target = source.get("target") or {}
        if target.get("averageValue") is not None:
            goal = milli_value(target["averageValue"])
            try:
                proposal, usage, _ = await self.calculator.get_raw_resource_replicas(
                    current, goal, resource, ns, selector, text, container)
            except MetricError as exc:
                raise MetricError(f"failed to get {resource} usage: {exc}") from None
            return proposal, f"{resource} resource", {"averageValue": milli_quantity(usage)}
        if target.get("averageUtilization") is None:
            raise MetricError("invalid resource metric source: neither an average utilization "
                              "target nor an average value (usage) target was set")
        try:
            proposal, utilization, raw, _ = await self.calculator.get_resource_replicas(
                current, int(target["averageUtilization"]), resource, ns, selector, text,
                container)
        except MetricError as exc:
            raise MetricError(f"failed to get {resource} utilization: {exc}") from None
        name = (f"{resource} resource utilization (percentage of request)"
                if kind == "Resource" else
                f"{resource} container resource utilization (percentage of request)")
        return proposal, name, {"averageUtilization": utilization,
                                "averageValue": milli_quantity(raw)}


class ReconcileError(Exception):
    """A reconcile that ended early; already reported in the HPA's status and events."""


class MetricFailure(Exception):
    """One metric's failure: the wrapped error and the ScalingActive condition it sets."""

    def __init__(self, error, condition: tuple):
        super().__init__(str(error))
        self.error, self.condition = error, condition
