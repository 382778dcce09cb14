"""A typed 5xx (here: an admission webhook with failurePolicy Fail that cannot be reached,
upstream's 500 InternalError from pkg/admission/plugin/webhook/validating/dispatcher.go) is
answered with its Status and adds no Django "Internal Server Error" log line."""
import logging

import pytest

from tests.resources.admission.test_webhook_dispatch import config, post_config
from tests.resources.admission.test_webhook_dispatch import client, server  # noqa: F401

pytestmark = pytest.mark.django_db


def test_failed_webhook_is_a_500_status_without_a_request_log_line(client, server, caplog):  # noqa: F811
    _, ca = server
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "fail.example.com",
        {"url": "https://127.0.0.1:1/", "caBundle": ca}, failurePolicy="Fail"))
    with caplog.at_level(logging.INFO, logger="django.request"):
        resp = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b"}})
    assert resp.status_code == 500
    body = resp.json()
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == 500 and body["reason"] == "InternalError"
    assert body["message"].startswith(
        'Internal error occurred: failed calling webhook "fail.example.com"')
    assert "Internal Server Error" not in caplog.text
