"""The generic battery for HorizontalPodAutoscalers, once per served version: autoscaling/v2
(the storage version) and autoscaling/v1 (a ConvertingStore over the same row)."""
from __future__ import annotations

import pytest

from apiserver.runtime import errors
from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


class TestHorizontalPodAutoscalerV2(KindBattery):
    group, version, resource = "autoscaling", "v2", "horizontalpodautoscalers"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"scaleTargetRef": dict(REF), "minReplicas": 1, "maxReplicas": 4,
                         "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                             "type": "Utilization", "averageUtilization": 70}}}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-kind"), "spec.scaleTargetRef", {"name": "web"}), "spec.scaleTargetRef.kind"),
                (_set(v("min-zero"), "spec.minReplicas", 0), "spec.minReplicas"),
                (_set(v("max-below-min"), "spec.maxReplicas", 0), "spec.maxReplicas"),
                (_set(v("bad-type"), "spec.metrics", [{"type": "Bogus"}]), "spec.metrics[0].type"),
                (_set(v("bad-policy"), "spec.behavior", {"scaleUp": {"policies": [
                    {"type": "Pods", "value": 0, "periodSeconds": 15}]}}),
                 "spec.behavior.scaleUp.policies[0].value")]

    def test_min_replicas_message(self, store, ctx):
        with pytest.raises(errors.Invalid) as exc:
            store.create(self.ns, _set(self.valid("zero"), "spec.minReplicas", 0), ctx)
        # upstream also checks the metrics of a scale-to-zero object when the gate is off
        assert [(c.field, c.message) for c in exc.value.causes] == [
            ("spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"),
            ("spec.metrics", "Forbidden: must specify at least one Object or External metric to "
                             "support scaling to zero replicas")]


class TestHorizontalPodAutoscalerV1(KindBattery):
    group, version, resource = "autoscaling", "v1", "horizontalpodautoscalers"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"scaleTargetRef": dict(REF), "minReplicas": 1, "maxReplicas": 4,
                         "targetCPUUtilizationPercentage": 70}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-name"), "spec.scaleTargetRef", {"kind": "Deployment"}),
                 "spec.scaleTargetRef.name"),
                (_set(v("max-zero"), "spec.maxReplicas", 0), "spec.maxReplicas"),
                # v1 requests are validated on the storage shape, with its paths
                (_set(v("cpu-zero"), "spec.targetCPUUtilizationPercentage", 0),
                 "spec.metrics[0].resource.target.averageUtilization")]

    def test_cpu_target_message(self, store, ctx):
        with pytest.raises(errors.Invalid) as exc:
            store.create(self.ns, _set(self.valid("zero"), "spec.targetCPUUtilizationPercentage", 0), ctx)
        assert [(c.field, c.message) for c in exc.value.causes] == [
            ("spec.metrics[0].resource.target.averageUtilization",
             "Invalid value: 0: must be greater than 0")]
