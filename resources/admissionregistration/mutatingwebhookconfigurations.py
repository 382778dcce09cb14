"""admissionregistration.k8s.io/v1 MutatingWebhookConfiguration (cluster-scoped).

Everything but ``reinvocationPolicy`` (defaulted to ``Never``, one of IfNeeded/Never) is
shared with ValidatingWebhookConfiguration in :mod:`resources.admissionregistration.webhooks`.
Upstream: kubernetes/kubernetes:pkg/registry/admissionregistration/
mutatingwebhookconfiguration/strategy.go.
"""
from __future__ import annotations

from .webhooks import WebhookConfigurationStrategy


class MutatingWebhookConfigurationStrategy(WebhookConfigurationStrategy):
    kind = "MutatingWebhookConfiguration"
    plural = "mutatingwebhookconfigurations"
    schema_name = "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration"
    mutating = True
