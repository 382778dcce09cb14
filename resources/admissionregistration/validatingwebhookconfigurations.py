"""admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration (cluster-scoped).

Defaults, validation and the Table are shared with MutatingWebhookConfiguration in
:mod:`resources.admissionregistration.webhooks`.  Upstream:
kubernetes/kubernetes:pkg/registry/admissionregistration/validatingwebhookconfiguration/strategy.go.
"""
from __future__ import annotations

from .webhooks import WebhookConfigurationStrategy


class ValidatingWebhookConfigurationStrategy(WebhookConfigurationStrategy):
    kind = "ValidatingWebhookConfiguration"
    plural = "validatingwebhookconfigurations"
    schema_name = "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration"
