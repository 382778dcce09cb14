"""The generic battery for the apps/v1 workload kinds."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set, container

G = "apps"


def workload(name: str, **spec) -> dict:
    labels = {"app": name}
    return {"metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container()]}},
                     **spec}}


def common_invalid(v, *, pod_spec: bool = True) -> list:
    """What every pod-template controller rejects (``pod_spec``: the template's pod spec is
    validated; upstream's StatefulSet validation leaves it out, see its TODO)."""
    return [(_set(v("mismatch"), "spec.template.metadata.labels", {"app": "other"}),
             "spec.template.metadata.labels"),
            (_set(v("restart-never"), "spec.template.spec.restartPolicy", "Never"),
             "spec.template.spec.restartPolicy"),
            ] + ([(_set(v("no-containers"), "spec.template.spec.containers", []),
                   "spec.template.spec.containers")] if pod_spec else [])


class TestDeployment(KindBattery):
    group, resource = G, "deployments"

    def valid(self, name):
        return workload(name, replicas=1)

    def invalid(self):
        v = self.valid
        return common_invalid(v) + [
            (_set(v("neg-replicas"), "spec.replicas", -1), "spec.replicas"),
            (_set(v("bad-strategy"), "spec.strategy", {"type": "Sideways"}), "spec.strategy"),
            (_set(v("no-selector"), "spec.selector", None), "spec.selector")]


class TestReplicaSet(KindBattery):
    group, resource = G, "replicasets"

    def valid(self, name):
        return workload(name, replicas=1)

    def invalid(self):
        v = self.valid
        return common_invalid(v) + [
            (_set(v("empty-selector"), "spec.selector", {}), "spec.selector")]


class TestStatefulSet(KindBattery):
    group, resource = G, "statefulsets"

    def valid(self, name):
        return workload(name, replicas=1, serviceName=name)

    def invalid(self):
        v = self.valid
        return common_invalid(v, pod_spec=False) + [
            (_set(v("bad-policy"), "spec.podManagementPolicy", "Whenever"),
             "spec.podManagementPolicy"),
            (_set(v("bad-update"), "spec.updateStrategy", {"type": "Sideways"}),
             "spec.updateStrategy")]


class TestDaemonSet(KindBattery):
    group, resource = G, "daemonsets"

    def valid(self, name):
        return workload(name)

    def invalid(self):
        v = self.valid
        return common_invalid(v) + [
            (_set(v("bad-update"), "spec.updateStrategy", {"type": "Sideways"}),
             "spec.updateStrategy")]
