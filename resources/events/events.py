"""events.k8s.io/v1 Event.

Upstream stores these with core/v1 Events and converts between the two shapes
(``regarding``↔``involvedObject``, ``note``↔``message``, ``deprecated*``↔the old fields); here
they are their own resource, ``events.events.k8s.io``, validated and printed as upstream does
for a request in this group: ``ValidateEventCreate`` / ``ValidateEventUpdate``
(``pkg/apis/core/validation/events.go``, whose field paths name the *internal* fields) and
``printEvent`` (the same columns as core events).
"""
from __future__ import annotations

import re

from apiserver.registry import printers
from apiserver.registry.strategy import Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_dns1123_subdomain, validate_immutable
from resources.core.events import reporting_errors
from resources.core.columns import doc

_CORE = "io.k8s.api.core.v1.Event"


def since(value) -> str:
    """Age of a Time or MicroTime (``2024-01-01T00:00:00.000000Z``) as kubectl prints it."""
    return printers.since(re.sub(r"\.\d+Z$", "Z", value) if isinstance(value, str) else value)


def _regarding(field):
    return lambda o: str((o.get("regarding") or {}).get(field) or "")


class EventStrategy(Strategy):
    group = "events.k8s.io"
    kind = "Event"
    plural = "events"
    # the same REST storage as core/v1 Event serves this group (kubernetes/kubernetes:
    # pkg/registry/events/rest/storage_events.go uses eventstore.NewREST), short name and all
    short_names = ("ev",)
    schema_name = "io.k8s.api.events.v1.Event"
    # the field labels upstream's events.k8s.io/v1 conversion accepts
    selectable_fields = {
        **{f"regarding.{f}": _regarding(f) for f in
           ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": lambda o: o.get("reason") or "",
        "reportingController": lambda o: o.get("reportingController") or "",
        "type": lambda o: o.get("type") or "",
    }
    columns = (Column("Last Seen", description=doc(_CORE, "lastTimestamp")),
               Column("Type", description=doc(_CORE, "type")),
               Column("Reason", description=doc(_CORE, "reason")),
               Column("Object", description=doc(_CORE, "involvedObject")),
               Column("Subobject", priority=1,
                      description=doc("io.k8s.api.core.v1.ObjectReference", "fieldPath")),
               Column("Source", priority=1, description=doc(_CORE, "source")),
               Column("Message", description=doc(_CORE, "message")),
               Column("First Seen", priority=1, description=doc(_CORE, "firstTimestamp")),
               Column("Count", priority=1, description=doc(_CORE, "count")),
               Column("Name", "string", "name", priority=1,
                      description="Name must be unique within a namespace. Cannot be updated."))

    def validate(self, ctx, obj):
        """``ValidateEventCreate`` for events.k8s.io/v1: the legacy checks, then the strict
        ones (eventTime required, type Normal/Warning, deprecated fields unset)."""
        errs = _legacy(obj) + _series(obj)
        if not obj.get("eventTime"):
            errs.append(errors.required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            errs.append(errors.invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
        for key in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"):
            if obj.get(key):
                errs.append(errors.invalid(key, "", "needs to be unset"))
        source = obj.get("deprecatedSource") or {}
        if source.get("component") or source.get("host"):
            errs.append(errors.invalid("deprecatedSource", "", "needs to be unset"))
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateEventUpdate``: legacy checks, a changed series re-checked, and the
        identifying fields immutable (paths as upstream names them internally)."""
        errs = _legacy(new)
        if new.get("series") != old.get("series"):
            errs += _series(new)
        for key, path in (("regarding", "involvedObject"), ("reason", "reason"),
                          ("note", "message"), ("deprecatedSource", "source"),
                          ("deprecatedFirstTimestamp", "firstTimestamp"),
                          ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
                          ("type", "type"), ("eventTime", "eventTime"), ("action", "action"),
                          ("related", "related"), ("reportingController", "reportingController"),
                          ("reportingInstance", "reportingInstance")):
            errs += validate_immutable(new.get(key), old.get(key), path)
        return errs

    def table_row(self, obj):
        """``printEvent`` on the converted object (server tables are always wide)."""
        first = obj.get("deprecatedFirstTimestamp")
        first_seen = since(first) if first else since(obj.get("eventTime"))
        last = obj.get("deprecatedLastTimestamp")
        last_seen = since(last) if last else first_seen
        count = obj.get("deprecatedCount") or 0
        series = obj.get("series")
        if series:
            last_seen, count = since(series.get("lastObservedTime")), series.get("count", 0)
        elif not count:
            count = 1
        regarding = obj.get("regarding") or {}
        kind = (regarding.get("kind") or "").lower()
        target = f"{kind}/{regarding['name']}" if regarding.get("name") else kind
        source = obj.get("deprecatedSource") or {}
        component = source.get("component") or obj.get("reportingController") or ""
        instance = source.get("host") or obj.get("reportingInstance") or ""
        return [last_seen, obj.get("type", ""), obj.get("reason", ""), target,
                regarding.get("fieldPath", ""), f"{component}, {instance}" if instance else component,
                (obj.get("note") or "").strip(), first_seen, count, obj["metadata"]["name"]]


def _legacy(obj: dict) -> list:
    """``legacyValidateEvent`` for an event with eventTime (the v1-group shape)."""
    errs = []
    namespace = obj["metadata"].get("namespace") or ""
    regarding = obj.get("regarding") or {}
    if not obj.get("eventTime"):
        involved = regarding.get("namespace") or ""
        if (involved and involved != namespace) or (not involved and namespace not in ("", "default")):
            errs.append(errors.invalid("involvedObject.namespace", involved, "does not match event.namespace"))
    else:
        if not regarding.get("namespace") and namespace not in ("default", "kube-system"):
            errs.append(errors.invalid("involvedObject.namespace", "", "does not match event.namespace"))
        errs += reporting_errors(obj, "reportingController", "note")
    errs += [errors.invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace)]
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
