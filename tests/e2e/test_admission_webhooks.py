"""Admission webhooks end to end: kubectl against `manage.py up`, a webhook served by the test."""
from __future__ import annotations

import json

from tests.resources.admission.test_webhook_dispatch import server as webhook_server  # noqa: F401


def configuration(kind, name, namespace, client_config, **extra):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name},
            "webhooks": [{"name": name, "clientConfig": client_config,
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                     "apiVersions": ["v1"], "resources": ["configmaps"]}],
                          # only this test's namespace: the server is shared by the session
                          "namespaceSelector": {"matchLabels": {
                              "kubernetes.io/metadata.name": namespace}},
                          "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}]}


def test_webhooks_with_kubectl(kubectl, namespace, webhook_server):  # noqa: F811
    port, ca = webhook_server
    names = []

    def apply(kind, name, cc, **extra):
        names.append((kind.lower(), name))
        kubectl("apply", "-f", "-", input=json.dumps(
            configuration(kind, name, namespace, cc, **extra)))

    try:
        apply("ValidatingWebhookConfiguration", f"deny.{namespace}.example.com",
              {"url": f"https://127.0.0.1:{port}/deny", "caBundle": ca})
        cp = kubectl("create", "configmap", "bad", "-n", namespace, check=False)
        assert cp.returncode != 0
        assert f'admission webhook "deny.{namespace}.example.com" denied the request: no bad names' in cp.stderr
        apply("MutatingWebhookConfiguration", f"label.{namespace}.example.com",
              {"url": f"https://127.0.0.1:{port}/label", "caBundle": ca})
        kubectl("create", "configmap", "good", "-n", namespace)
        out = kubectl("get", "configmap", "good", "-n", namespace, "-o", "yaml").stdout
        assert "added: \"yes\"" in out or "added: 'yes'" in out, out
        apply("ValidatingWebhookConfiguration", f"ignore.{namespace}.example.com",
              {"url": "https://127.0.0.1:1/", "caBundle": ca}, failurePolicy="Ignore")
        kubectl("create", "configmap", "through", "-n", namespace)
        apply("ValidatingWebhookConfiguration", f"fail.{namespace}.example.com",
              {"url": "https://127.0.0.1:1/", "caBundle": ca}, failurePolicy="Fail")
        cp = kubectl("create", "configmap", "refused", "-n", namespace, check=False)
        assert cp.returncode != 0 and f'failed calling webhook "fail.{namespace}.example.com"' in cp.stderr
    finally:
        for kind, name in names:
            kubectl("delete", kind, name, check=False)
