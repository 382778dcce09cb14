"""core/v1 Event (``kubectl get events``).

Upstream: ``pkg/registry/core/event/strategy.go`` (selectable fields; ``source`` falls back
to ``reportingComponent``), ``ValidateEventCreate`` (``legacyValidateEvent``: namespace of
the involved object; for new-style events with ``eventTime`` the reporting fields, action
and reason) and ``printEvent`` (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; the wide
columns SUBOBJECT, SOURCE, FIRST SEEN, COUNT, NAME).
"""
from __future__ import annotations

from datetime import datetime, timezone

from apiserver.registry.printers import human_duration, since
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import (is_dns1123_subdomain, is_qualified_name,
                                         validate_immutable)

from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LENGTH_LIMIT = 128          # reportingInstance, action, reason
NOTE_LIMIT = 1024           # message


def _involved(field: str):
    return lambda o: str((o.get("involvedObject") or {}).get(field) or "")


def _source(o: dict) -> str:
    return (o.get("source") or {}).get("component") or o.get("reportingComponent") or ""


class EventStrategy(Strategy):
    kind = "Event"
    plural = "events"
    short_names = ("ev",)
    schema_name = "io.k8s.api.core.v1.Event"
    selectable_fields = {
        **{f"involvedObject.{f}": _involved(f) for f in
           ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": lambda o: o.get("reason") or "",
        "reportingComponent": lambda o: o.get("reportingComponent") or "",
        "source": _source,
        "type": lambda o: o.get("type") or "",
    }
    columns = (
        column("Last Seen", "Event", "lastTimestamp"),
        column("Type", "Event", "type"),
        column("Reason", "Event", "reason"),
        column("Object", "Event", "involvedObject"),
        column("Subobject", "ObjectReference", "fieldPath", priority=1),
        column("Source", "Event", "source", priority=1),
        column("Message", "Event", "message"),
        column("First Seen", "Event", "firstTimestamp", priority=1),
        column("Count", "Event", "count", priority=1),
        column("Name", _META, "name", priority=1, format="name"),
    )

    def validate(self, ctx, obj):
        """``ValidateEventCreate``: ``legacyValidateEvent`` for every request, and through
        events.k8s.io (``ctx.served_as``) the strict rules as well: eventTime required, type
        Normal or Warning, a valid series, the deprecated fields unset."""
        strict = _through_events_group(ctx)
        errs = _legacy(obj, strict)
        if not strict:
            return errs
        errs += _series(obj)
        if not obj.get("eventTime"):
            errs.append(errors.required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            errs.append(errors.invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
        for key in ("firstTimestamp", "lastTimestamp", "count"):
            if obj.get(key):
                errs.append(errors.invalid(key, "", "needs to be unset"))
        source = obj.get("source") or {}
        if source.get("component") or source.get("host"):
            errs.append(errors.invalid("source", "", "needs to be unset"))
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateEventUpdate``: the legacy rules; through events.k8s.io also a changed
        series re-checked and every identifying field immutable."""
        strict = _through_events_group(ctx)
        errs = _legacy(new, strict)
        if not strict:
            return errs
        if new.get("series") != old.get("series"):
            errs += _series(new)
        for key in IMMUTABLE:
            errs += validate_immutable(new.get(key), old.get(key), INTERNAL_NAMES.get(key, key))
        return errs

    def table_row(self, obj):
        first = since(obj.get("firstTimestamp")) if obj.get("firstTimestamp") else _micro_since(obj.get("eventTime"))
        last = since(obj.get("lastTimestamp")) if obj.get("lastTimestamp") else first
        count = obj.get("count") or 0
        series = obj.get("series")
        if isinstance(series, dict):
            last = _micro_since(series.get("lastObservedTime"))
            count = series.get("count") or 0
        elif not count:
            count = 1                   # singleton events of the new API have no count
        involved = obj.get("involvedObject") or {}
        kind = str(involved.get("kind") or "").lower()
        target = f"{kind}/{involved['name']}" if involved.get("name") else kind
        source = obj.get("source") or {}
        component = source.get("component") or obj.get("reportingComponent") or ""
        instance = source.get("host") or obj.get("reportingInstance") or ""
        return [last, obj.get("type", ""), obj.get("reason", ""), target,
                involved.get("fieldPath", ""), f"{component}, {instance}" if instance else component,
                (obj.get("message") or "").strip(), first, count, obj["metadata"].get("name", "")]


# the core/v1 fields an events.k8s.io update may not change; errors name upstream's
# internal fields, which differ from core's only here
IMMUTABLE = ("involvedObject", "reason", "message", "source", "firstTimestamp",
             "lastTimestamp", "count", "type", "eventTime", "action", "related",
             "reportingComponent", "reportingInstance")
INTERNAL_NAMES = {"reportingComponent": "reportingController"}


def _through_events_group(ctx) -> bool:
    served = getattr(ctx, "served_as", None)
    return bool(served) and served[0] == "events.k8s.io"


def _legacy(obj: dict, strict: bool) -> list:
    """``legacyValidateEvent``: the involved object's namespace, and for new-style events
    (eventTime set) the reporting fields, named ``reportingController`` through
    events.k8s.io and ``reportingComponent`` through core/v1."""
    errs = []
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    involved_ns = (obj.get("involvedObject") or {}).get("namespace") or ""
    mismatch = errors.invalid("involvedObject.namespace", involved_ns,
                              "does not match event.namespace")
    if not obj.get("eventTime"):
        if (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
            errs.append(mismatch)
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(mismatch)
        errs += reporting_errors(obj, INTERNAL_NAMES["reportingComponent"] if strict
                                 else "reportingComponent")
    errs += [errors.invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns)] if ns else []
    return errs


def _series(obj: dict) -> list:
    """``validateV1EventSeries``."""
    series = obj.get("series")
    if series is None:
        return []
    errs = []
    if (series.get("count") or 0) < 2:
        errs.append(errors.invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(errors.required("series.lastObservedTime"))
    return errs


def _micro_since(value) -> str:
    """``translateMicroTimestampSince``: MicroTime is RFC 3339 with microseconds."""
    if not value:
        return "<unknown>"
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return human_duration((datetime.now(timezone.utc) - t).total_seconds())


def reporting_errors(obj: dict, controller_path: str) -> list:
    """The rules upstream applies to every new-style Event (pkg/apis/core/validation/
    events.go): a qualified reporting controller (``reportingComponent``, reported under
    ``controller_path``), required instance, action and reason of at most 128 characters, a
    message of at most 1 KiB."""
    errs = []
    controller = obj.get("reportingComponent") or ""
    if not controller:
        errs.append(errors.required(controller_path))
    errs += [errors.invalid(controller_path, controller, m) for m in is_qualified_name(controller)]
    for key in ("reportingInstance", "action", "reason"):
        value = obj.get(key) or ""
        if not value:
            errs.append(errors.required(key))
        elif len(value) > LENGTH_LIMIT:
            errs.append(errors.invalid(key, "", f"can have at most {LENGTH_LIMIT} characters"))
    if len(obj.get("message") or "") > NOTE_LIMIT:
        errs.append(errors.invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
    return errs
