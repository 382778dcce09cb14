"""The generic battery for the flowcontrol.apiserver.k8s.io/v1 kinds."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set


class TestFlowSchema(KindBattery):
    group, resource = "flowcontrol.apiserver.k8s.io", "flowschemas"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {
            "priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 5000,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [{"subjects": [{"kind": "Group", "group": {"name": "system:authenticated"}}],
                       "resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"],
                                          "namespaces": ["*"]}]}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("too-late"), "spec.matchingPrecedence", 10001), "spec.matchingPrecedence"),
                (_set(v("no-level"), "spec.priorityLevelConfiguration", {}),
                 "spec.priorityLevelConfiguration.name"),
                (_set(v("by-pod"), "spec.distinguisherMethod", {"type": "ByPod"}),
                 "spec.distinguisherMethod.type"),
                (_set(v("bot"), "spec.rules", [{"subjects": [{"kind": "Robot"}],
                                               "nonResourceRules": [{"verbs": ["get"],
                                                                     "nonResourceURLs": ["/x"]}]}]),
                 "spec.rules[0].subjects[0].kind")]


class TestPriorityLevelConfiguration(KindBattery):
    group, resource = "flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {
            "type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-type"), "spec.type", "Unlimited"), "spec.type"),
                (_set(v("lend-too-much"), "spec.limited.lendablePercent", 101),
                 "spec.limited.lendablePercent"),
                (_set(v("reject-queues"), "spec.limited.limitResponse", {"type": "Reject", "queuing": {}}),
                 "spec.limited.limitResponse.queuing"),
                (_set(v("not-exempt"), "spec", {"type": "Exempt"}), "spec.type")]
