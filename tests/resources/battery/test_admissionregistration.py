"""The generic battery for the admissionregistration.k8s.io/v1 kinds."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set


def webhook(name="hook.example.com", **extra):
    return {"name": name, "clientConfig": {"url": "https://hooks.example.com/check"},
            "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["pods"]}], **extra}


class TestMutatingWebhookConfiguration(KindBattery):
    group, resource = "admissionregistration.k8s.io", "mutatingwebhookconfigurations"

    def valid(self, name):
        return {"metadata": {"name": name}, "webhooks": [webhook()]}

    def invalid(self):
        v = self.valid
        return [(_set(v("short-name"), "webhooks", [webhook("hook")]), "webhooks[0].name"),
                (_set(v("http-url"), "webhooks", [webhook(clientConfig={"url": "http://h.example.com"})]),
                 "webhooks[0].clientConfig.url"),
                (_set(v("bad-reinvoke"), "webhooks", [webhook(reinvocationPolicy="Always")]),
                 "webhooks[0].reinvocationPolicy"),
                (_set(v("no-effects"), "webhooks", [webhook(sideEffects="Some")]),
                 "webhooks[0].sideEffects")]


class TestValidatingWebhookConfiguration(KindBattery):
    group, resource = "admissionregistration.k8s.io", "validatingwebhookconfigurations"

    def valid(self, name):
        return {"metadata": {"name": name}, "webhooks": [webhook()]}

    def invalid(self):
        v = self.valid
        both = {"url": "https://h.example.com", "service": {"name": "s", "namespace": "n"}}
        return [(_set(v("both"), "webhooks", [webhook(clientConfig=both)]), "webhooks[0].clientConfig"),
                (_set(v("dup"), "webhooks", [webhook(), webhook()]), "webhooks[1].name"),
                (_set(v("no-versions"), "webhooks", [webhook(admissionReviewVersions=[])]),
                 "webhooks[0].admissionReviewVersions"),
                (_set(v("bad-op"), "webhooks", [webhook(rules=[{
                    "operations": ["PATCH"], "apiGroups": [""], "apiVersions": ["v1"],
                    "resources": ["pods"]}])]), "webhooks[0].rules[0].operations[0]")]


class TestValidatingAdmissionPolicy(KindBattery):
    group, resource = "admissionregistration.k8s.io", "validatingadmissionpolicies"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {
            "matchConstraints": {"resourceRules": [{
                "operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
                "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= 5"}]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-validations"), "spec.validations", None), "spec.validations"),
                (_set(v("bad-policy"), "spec.failurePolicy", "Sometimes"), "spec.failurePolicy"),
                (_set(v("no-rules"), "spec.matchConstraints", {}), "spec.matchConstraints.resourceRules"),
                (_set(v("empty-expr"), "spec.validations", [{"expression": "  "}]),
                 "spec.validations[0].expression")]


class TestValidatingAdmissionPolicyBinding(KindBattery):
    group, resource = "admissionregistration.k8s.io", "validatingadmissionpolicybindings"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"policyName": "replica-limit", "validationActions": ["Deny"]}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-policy"), "spec.policyName", None), "spec.policyName"),
                (_set(v("no-actions"), "spec.validationActions", []), "spec.validationActions"),
                (_set(v("deny-warn"), "spec.validationActions", ["Deny", "Warn"]), "spec.validationActions"),
                (_set(v("bad-action"), "spec.validationActions", ["Block"]), "spec.validationActions[0]")]
