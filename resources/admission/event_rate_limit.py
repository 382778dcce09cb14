"""EventRateLimit (upstream kubernetes/kubernetes:plugin/pkg/admission/eventratelimit/).

Validating, on create and update of core ``Event`` objects: each configured limit keeps
token buckets (``qps`` refill per second, ``burst`` capacity, starting full, as client-go's
``flowcontrol.NewTokenBucketRateLimiter``) keyed by

* ``Server``: one bucket for the whole server;
* ``Namespace``: the request's namespace;
* ``User``: the requesting user's name;
* ``SourceAndObject``: the event's source component and host and its involved object
  (kind, namespace, name, uid, apiVersion) run together, as upstream's key;

the keyed limits keep at most ``cacheSize`` buckets (default 4096), dropping the least
recently used (upstream's golang-lru).  Every limit is asked about every event (a refused
one still spends tokens of the others, as upstream's loop); an empty bucket refuses with
429 TooManyRequests: ``Too many requests: limit reached on type <Type> for key <key>``.

The configuration (``eventratelimit.admission.k8s.io/v1alpha1`` ``Configuration``) is
required: without one, upstream's defaulted configuration has no limits and fails its own
validation, so the server does not start (``limits: Invalid value: ... must not be
empty``).  Upstream files: admission.go, limitenforcer.go, cache.go, config.go,
apis/eventratelimit/validation/validation.go.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from apiserver.admission.base import Plugin
from apiserver.runtime import errors

GROUP = "eventratelimit.admission.k8s.io"
VERSIONS = ("v1alpha1",)
LIMIT_TYPES = ("Namespace", "Server", "SourceAndObject", "User")
DEFAULT_CACHE_SIZE = 4096


class TokenBucket:
    """client-go's token bucket: ``burst`` tokens to start, refilled at ``qps`` per second up
    to ``burst``; ``try_accept`` takes one if there is one and never waits."""

    def __init__(self, qps: float, burst: int, clock=time.monotonic):
        self.qps, self.burst, self.clock = float(qps), int(burst), clock
        self.tokens = float(burst)
        self.last = clock()
        self.lock = threading.Lock()

    def try_accept(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.qps)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class LRUBuckets:
    """At most ``size`` buckets; the least recently used is forgotten first (upstream
    ``lruCache``: a forgotten key starts again with a full bucket)."""

    def __init__(self, size: int, factory):
        self.size, self.factory = size, factory
        self.buckets: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> TokenBucket:
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is not None:
                self.buckets.move_to_end(key)
                return bucket
            bucket = self.buckets[key] = self.factory()
            while len(self.buckets) > self.size:
                self.buckets.popitem(last=False)
            return bucket


def _server_key(attrs) -> str:
    return ""


def _namespace_key(attrs) -> str:
    return attrs.namespace or ""


def _user_key(attrs) -> str:
    return getattr(attrs.user, "name", "") or "" if attrs.user is not None else ""


def _source_and_object_key(attrs) -> str:
    event = attrs.obj if isinstance(attrs.obj, dict) else {}
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    involved = event.get("involvedObject") if isinstance(event.get("involvedObject"), dict) else {}
    parts = [source.get("component"), source.get("host"), involved.get("kind"),
             involved.get("namespace"), involved.get("name"), involved.get("uid"),
             involved.get("apiVersion")]
    return "".join(p for p in parts if isinstance(p, str))


KEYS = {"Namespace": _namespace_key, "User": _user_key,
        "SourceAndObject": _source_and_object_key}


class LimitEnforcer:
    """One configured limit (upstream ``limitEnforcer``)."""

    def __init__(self, limit: dict, clock=time.monotonic):
        self.type = limit["type"]

        def factory():
            return TokenBucket(limit["qps"], limit["burst"], clock)

        if self.type == "Server":
            single = factory()
            self.bucket_for = lambda key: single
            self.key = _server_key
        else:
            self.bucket_for = LRUBuckets(limit.get("cacheSize") or DEFAULT_CACHE_SIZE, factory).get
            self.key = KEYS[self.type]

    def accept(self, attrs) -> errors.TooManyRequests | None:
        key = self.key(attrs)
        if self.bucket_for(key).try_accept():
            return None
        return errors.TooManyRequests(
            f"Too many requests: limit reached on type {self.type} for key {key}")


def _go_value(value) -> str:
    """How upstream's field errors print an int32 value (``%v``), or a Go literal."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f'"{value}"' if isinstance(value, str) else repr(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def validate_configuration(config: dict) -> list[str]:
    """Upstream ``ValidateConfiguration``: the field errors, in upstream's text."""
    errs = []
    limits = config.get("limits")
    if not limits:
        errs.append("limits: Invalid value: []eventratelimit.Limit(nil): must not be empty")
        return errs
    if not isinstance(limits, list):
        return [f"limits: Invalid value: {_go_value(limits)}: must be a list"]
    for i, limit in enumerate(limits):
        path = f"limits[{i}]"
        if not isinstance(limit, dict):
            errs.append(f"{path}: Invalid value: {_go_value(limit)}: must be an object")
            continue
        # upstream's decoder refuses what is no int32 before validation runs
        typed = [f"{path}.{field}: Invalid value: {_go_value(limit.get(field, 0))}: "
                 "must be an integer" for field in ("qps", "burst", "cacheSize")
                 if isinstance(limit.get(field, 0), bool)
                 or not isinstance(limit.get(field, 0), int)]
        if typed:
            errs += typed
            continue
        if limit.get("type") not in LIMIT_TYPES:
            supported = ", ".join(f'"{t}"' for t in LIMIT_TYPES)
            errs.append(f'{path}.type: Unsupported value: "{limit.get("type") or ""}": '
                        f"supported values: {supported}")
        if limit.get("burst", 0) <= 0:
            errs.append(f"{path}.burst: Invalid value: {limit.get('burst', 0)}: must be positive")
        if limit.get("qps", 0) <= 0:
            errs.append(f"{path}.qps: Invalid value: {limit.get('qps', 0)}: must be positive")
        if limit.get("type") != "Server" and limit.get("cacheSize", 0) < 0:
            errs.append(f"{path}.cacheSize: Invalid value: {limit['cacheSize']}: "
                        "must not be negative")
    return errs


def _aggregate(errs: list[str]) -> str:
    """apimachinery's ``ToAggregate().Error()``: one error as is, several in brackets."""
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


class EventRateLimit(Plugin):
    name = "EventRateLimit"
    validating = True

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.enforcers: list[LimitEnforcer] = []

    def configure(self, config: dict | None) -> None:
        """Decode and validate the ``Configuration``; a missing or bad one refuses the start
        (upstream's factory returns the validation's aggregate error)."""
        config = config or {}
        if config:
            api_version = str(config.get("apiVersion") or "")
            group, _, version = api_version.rpartition("/")
            if (group, version) not in {(GROUP, v) for v in VERSIONS} \
                    or config.get("kind") != "Configuration":
                raise ValueError(f'no kind "{config.get("kind") or ""}" is registered for '
                                 f'version "{api_version}" in scheme of EventRateLimit')
        errs = validate_configuration(config)
        if errs:
            raise ValueError(_aggregate(errs))
        self.enforcers = [LimitEnforcer(limit, self.clock) for limit in config["limits"]]

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def validate(self, attrs):
        if attrs.kind != "Event" or attrs.group != "":
            return
        refusal = None
        for enforcer in self.enforcers:
            refusal = enforcer.accept(attrs) or refusal
        if refusal is not None:
            raise refusal
