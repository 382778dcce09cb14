"""The generic battery for policy/v1 PodDisruptionBudget."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set


class TestPodDisruptionBudget(KindBattery):
    group, resource = "policy", "poddisruptionbudgets"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("both"), "spec.maxUnavailable", 1), "spec"),
                (_set(v("negative"), "spec.minAvailable", -1), "spec.minAvailable"),
                (_set(v("too-many"), "spec.minAvailable", "150%"), "spec.minAvailable"),
                (_set(v("bad-policy"), "spec.unhealthyPodEvictionPolicy", "Sometimes"),
                 "spec.unhealthyPodEvictionPolicy"),
                (_set(v("bad-selector"), "spec.selector",
                      {"matchExpressions": [{"key": "app", "operator": "Near"}]}),
                 "spec.selector.matchExpressions[0].operator")]
