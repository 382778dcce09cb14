"""The generic battery for node.k8s.io/v1 RuntimeClass."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set


class TestRuntimeClass(KindBattery):
    group, resource = "node.k8s.io", "runtimeclasses"

    def valid(self, name):
        return {"metadata": {"name": name}, "handler": "runc",
                "overhead": {"podFixed": {"cpu": "100m", "memory": "64Mi"}},
                "scheduling": {"nodeSelector": {"runtime": "runc"},
                               "tolerations": [{"key": "runtime", "operator": "Exists"}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-handler"), "handler", None), "handler"),
                (_set(v("bad-handler"), "handler", "Run.C"), "handler"),
                (_set(v("negative"), "overhead", {"podFixed": {"cpu": "-1"}}),
                 "overhead.limits[cpu]"),
                (_set(v("bad-toleration"), "scheduling",
                      {"tolerations": [{"key": "x", "operator": "Maybe"}]}),
                 "scheduling.tolerations[0].operator")]
