"""The Webhook authorization mode (``--authorization-webhook-config-file``): a
SubjectAccessReview POSTed to a service (kubernetes/apiserver:plugin/pkg/authorizer/webhook/
webhook.go).

* the review carries the user (name, uid, groups, extra) and either ``resourceAttributes``
  {namespace, verb, group, version, resource, subresource, name} or ``nonResourceAttributes``
  {path, verb}, in ``authorization.k8s.io/v1`` or ``v1beta1`` (``--authorization-webhook-version``;
  v1beta1 names the groups ``group``, v1 ``groups``);
* ``status.allowed`` → Allow; ``status.denied`` (and not allowed) → Deny; neither →
  NoOpinion; the reason is ``status.reason`` (with ``evaluationError`` appended);
* answers are cached by the whole review: allowed ones for
  ``--authorization-webhook-cache-authorized-ttl`` (5m), others for
  ``--authorization-webhook-cache-unauthorized-ttl`` (30s);
* a webhook that cannot be reached or answers badly is NoOpinion with the error as reason,
  never Allow: the request fails closed unless a later mode allows it.

May import: apiserver.authorization, apiserver.authentication.kubeconfig_client,
apiserver.runtime.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time

from apiserver.authentication.kubeconfig_client import WebhookClient, WebhookError
from apiserver.authorization.base import Authorizer, Decision
from apiserver.runtime.expiring import ExpiringLRU

log = logging.getLogger("apiserver.authorization")

GROUP = "authorization.k8s.io"
MAX_ENTRIES = 8192


def review_of(attrs, version: str) -> dict:
    """The SubjectAccessReview upstream's ``SubjectAccessReviewRequest`` builds."""
    user = attrs.user
    spec = {"user": getattr(user, "name", ""), "uid": getattr(user, "uid", "") or "",
            "groups" if version == "v1" else "group": list(getattr(user, "groups", ()) or ())}
    extra = getattr(user, "extra", None) or {}
    if extra:
        spec["extra"] = {k: list(v) for k, v in extra.items()}
    if attrs.is_resource_request:
        spec["resourceAttributes"] = {
            "namespace": attrs.namespace, "verb": attrs.verb, "group": attrs.api_group,
            "version": attrs.api_version, "resource": attrs.resource,
            "subresource": attrs.subresource, "name": attrs.name}
    else:
        spec["nonResourceAttributes"] = {"path": attrs.path, "verb": attrs.verb}
    return {"apiVersion": f"{GROUP}/{version}", "kind": "SubjectAccessReview",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"allowed": False}}


class WebhookAuthorizer(Authorizer):
    name = "Webhook"

    def __init__(self, client: WebhookClient, version: str = "v1beta1",
                 authorized_ttl: float = 300.0, unauthorized_ttl: float = 30.0,
                 clock=time.monotonic):
        self.client = client
        self.version = version
        self.authorized_ttl = float(authorized_ttl)
        self.unauthorized_ttl = float(unauthorized_ttl)
        self.clock = clock
        self._cache = ExpiringLRU(MAX_ENTRIES, clock)   # review digest → (decision, reason)

    @staticmethod
    def _key(review: dict) -> bytes:
        return hashlib.sha256(json.dumps(review["spec"], sort_keys=True).encode()).digest()

    def _cached(self, key: bytes):
        return self._cache.get(key)

    def needs_io(self, attrs) -> bool:
        return self._cached(self._key(review_of(attrs, self.version))) is None

    def authorize(self, attrs):
        review = review_of(attrs, self.version)
        key = self._key(review)
        found = self._cached(key)
        if found is not None:
            return found
        try:
            answer = self.client.post(review)
        except WebhookError as err:
            log.error("Failed to make webhook authorizer request: %s", err)
            return Decision.NO_OPINION, str(err)
        status = answer.get("status") if isinstance(answer, dict) else None
        if not isinstance(status, dict):
            return Decision.NO_OPINION, "webhook answered without a SubjectAccessReview status"
        reason = str(status.get("reason") or "")
        if status.get("evaluationError"):
            reason = (reason + "\n" if reason else "") + str(status["evaluationError"])
        if status.get("allowed") is True:
            decision, ttl = Decision.ALLOW, self.authorized_ttl
        elif status.get("denied") is True:
            decision, ttl = Decision.DENY, self.unauthorized_ttl
        else:
            decision, ttl = Decision.NO_OPINION, self.unauthorized_ttl
        self._cache.add(key, (decision, reason), ttl)
        return decision, reason


def from_options(options) -> WebhookAuthorizer:
    """The authorizer of ``--authorization-webhook-*`` (a bad kubeconfig: ValueError)."""
    return WebhookAuthorizer(
        WebhookClient.from_file(options.authorization_webhook_config_file),
        options.authorization_webhook_version,
        options.authorization_webhook_cache_authorized_ttl,
        options.authorization_webhook_cache_unauthorized_ttl)
