"""ImagePolicyWebhook (upstream kubernetes/kubernetes: plugin/pkg/admission/imagepolicy/
admission.go and config.go).

On pod CREATE and UPDATE (the pod itself or its ``ephemeralcontainers`` subresource) the
plugin asks a backend whether the pod's images may run: it POSTs an
``imagepolicy.k8s.io/v1alpha1`` ImageReview whose spec lists every container's image (init
containers, containers, ephemeral containers: upstream's ``VisitContainers`` order), the
pod's annotations whose key contains ``.image-policy.k8s.io/`` and the namespace.  The
backend answers with the review's ``status``:

* ``allowed: true``: the pod goes on; each ``auditAnnotations`` entry becomes the audit
  annotation ``imagepolicywebhook.image-policy.k8s.io/<key>``;
* otherwise it is refused, 403: ``pods "p" is forbidden: image policy webhook backend denied
  one or more images: <reason>`` (``one or more images rejected by webhook backend`` when
  the backend gives no reason).

Answers are cached by the review's spec: allowed ones for ``allowTTL`` seconds (default 300),
refusals for ``denyTTL`` (default 30); ``-1`` turns a cache off.  A backend that cannot be
reached, answers with an error status or with something that is no JSON object fails
closed (403 naming the error), unless ``defaultAllow: true``: then the pod is admitted with
the pod annotation ``alpha.image-policy.k8s.io/failed-open: "true"`` and the audit
annotation ``imagepolicywebhook.image-policy.k8s.io/failed-open: "true"``, as upstream.
Failed calls are retried as upstream's ``DefaultRetryBackoffWithInitialDelay``: 5 attempts,
``retryBackoff`` ms apart at first (default 500), growing 1.5 times.

The configuration (``--admission-control-config-file``, inline, by ``path``, or the legacy
whole file) is upstream's unversioned document::

    imagePolicy:
      kubeConfigFile: /etc/kubernetes/image-policy.kubeconfig   # the backend (HTTPS)
      allowTTL: 50          # seconds
      denyTTL: 50           # seconds
      retryBackoff: 500     # milliseconds
      defaultAllow: true

Without one the plugin refuses the start (``no config specified``), as upstream's factory.
The kubeconfig is read as the webhook authenticators' (``kubeconfig_client``): HTTPS with
the cluster's CA and the user's client certificate or token.  Stricter than upstream: a
plain ``http://`` server or ``insecure-skip-tls-verify`` is refused at start.  Where the
text of a transport error differs from client-go's, it is this server's (it names the
backend and the failure, never the request body).
"""
from __future__ import annotations

import json
import logging
import time

from apiserver.admission.base import Plugin
from apiserver.authentication.kubeconfig_client import Backoff, WebhookClient, WebhookError
from apiserver.runtime.expiring import ExpiringLRU
from resources.admission.always_pull_images import containers_with_paths
from resources.admission.refusals import new_forbidden

log = logging.getLogger("apiserver.admission")

API_VERSION = "imagepolicy.k8s.io/v1alpha1"
AUDIT_PREFIX = "imagepolicywebhook.image-policy.k8s.io/"
FAILED_OPEN = "failed-open"
POD_FAILED_OPEN = "alpha.image-policy.k8s.io/failed-open"     # upstream api.ImagePolicyFailedOpenKey
CACHE_ENTRIES = 1024                                          # upstream's LRU size
RETRY_STEPS = 5                                               # DefaultRetryBackoffWithInitialDelay

# (name in messages, unit in seconds, min (exclusive), max, default) of each duration, as
# upstream's normalizeWebhookConfig: the document's numbers are seconds or milliseconds
_DURATIONS = {
    "retryBackoff": ("backoff", 1e-3, 1e-9, 300.0, 0.5),
    "allowTTL": ("allow cache", 1.0, 1.0, 1800.0, 300.0),
    "denyTTL": ("deny cache", 1.0, 1.0, 1800.0, 30.0),
}


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` for the values these messages print."""
    if seconds == 0:
        return "0s"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    if seconds < 1:
        for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if seconds >= scale or unit == "ns":
                return f"{sign}{_trim(seconds / scale)}{unit}"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{_trim(secs)}s"
    if hours or minutes:
        text = f"{int(minutes)}m" + text
    if hours:
        text = f"{int(hours)}h" + text
    return sign + text


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def normalize(config: dict) -> dict[str, float]:
    """Seconds for each duration: -1 disables (0), 0 or absent is the default, anything else
    must lie in (min, max] or the start is refused with upstream's text."""
    out = {}
    for key, (name, unit, low, high, default) in _DURATIONS.items():
        raw = config.get(key, 0)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ValueError(f"imagePolicy.{key} must be a number, got {raw!r}")
        if raw == -1:
            out[key] = 0.0
            continue
        if raw == 0:
            out[key] = default
            continue
        value = raw * unit
        if value <= low or value > high:
            raise ValueError(f"valid value is between {go_duration(low)} and "
                             f"{go_duration(high)}, got {go_duration(value)}")
        out[key] = value
    return out


def review_of(attrs) -> dict:
    """The ImageReview upstream's ``Validate`` builds for the pod in ``attrs``."""
    pod = attrs.obj
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    spec: dict = {}
    # init containers, containers, ephemeral containers: podutil.VisitContainers' order
    containers = [{"image": c.get("image", "")} for _, c in containers_with_paths(pod)]
    if containers:
        spec["containers"] = containers
    kept = {k: v for k, v in annotations.items() if ".image-policy.k8s.io/" in k}
    if kept:
        spec["annotations"] = kept
    if attrs.namespace:
        spec["namespace"] = attrs.namespace
    return {"apiVersion": API_VERSION, "kind": "ImageReview",
            "metadata": {"creationTimestamp": None}, "spec": spec,
            "status": {"allowed": False}}


class ImagePolicyWebhook(Plugin):
    name = "ImagePolicyWebhook"
    validating = True

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.client: WebhookClient | None = None
        self.allow_ttl = self.deny_ttl = 0.0
        self.default_allow = False
        self.cache = ExpiringLRU(CACHE_ENTRIES, clock)

    def configure(self, config: dict | None) -> None:
        """Read ``imagePolicy`` and the backend's kubeconfig; any problem refuses the start."""
        if not config:
            raise ValueError("no config specified")
        if not isinstance(config, dict) or not isinstance(config.get("imagePolicy", {}), dict):
            raise ValueError("imagePolicy must be a mapping")
        section = config.get("imagePolicy") or {}
        durations = normalize(section)
        path = section.get("kubeConfigFile") or ""
        if not path:
            # upstream fails the same way, loading an empty kubeconfig path
            raise ValueError("imagePolicy.kubeConfigFile is required")
        self.client = WebhookClient.from_file(
            str(path), sleep=self.sleep,
            backoff=Backoff(duration=durations["retryBackoff"], steps=RETRY_STEPS))
        self.allow_ttl, self.deny_ttl = durations["allowTTL"], durations["denyTTL"]
        self.default_allow = section.get("defaultAllow") is True

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def validate(self, attrs):
        """Refuse the pod unless the backend (or its cached answer) allows its images."""
        if attrs.group != "" or attrs.resource != "pods" \
                or attrs.subresource not in ("", "ephemeralcontainers") \
                or not isinstance(attrs.obj, dict):
            return
        review = review_of(attrs)
        key = json.dumps(review["spec"], sort_keys=True, separators=(",", ":"))
        status = self.cache.get(key)
        if status is None:
            try:
                answer = self.client.post(review)
            except WebhookError as err:
                self._failed(attrs, str(err))
                return
            status = answer.get("status")
            if not isinstance(status, dict):
                status = {}
            self.cache.add(key, status, self.allow_ttl if status.get("allowed") is True
                           else self.deny_ttl)
        for k, v in (status.get("auditAnnotations") or {}).items():
            attrs.annotations.setdefault(AUDIT_PREFIX + str(k), str(v))
        if status.get("allowed") is not True:
            reason = status.get("reason") or ""
            raise new_forbidden(attrs, "image policy webhook backend denied one or more "
                                f"images: {reason}" if reason
                                else "one or more images rejected by webhook backend")

    def _failed(self, attrs, error: str) -> None:
        """Upstream's ``webhookError``: fail open (marked on the pod) or closed."""
        log.warning("error contacting the image policy webhook backend: %s", error)
        if not self.default_allow:
            raise new_forbidden(attrs, error)
        attrs.annotations[AUDIT_PREFIX + FAILED_OPEN] = "true"
        meta = attrs.obj.setdefault("metadata", {})
        annotations = meta.get("annotations")
        if not isinstance(annotations, dict):
            annotations = meta["annotations"] = {}
        annotations[POD_FAILED_OPEN] = "true"
