"""events.k8s.io/v1 Event: the core/v1 Events, in the newer shape.

As upstream (pkg/registry/events/rest/storage_events.go serves the core event store), one
stored Event is read and written through both groups: this strategy declares core/v1 as its
storage version and converts (pkg/apis/events/v1/conversion.go: ``regarding`` ↔
``involvedObject``, ``note`` ↔ ``message``, ``reportingController`` ↔ ``reportingComponent``,
``deprecatedSource``/``deprecatedFirstTimestamp``/``deprecatedLastTimestamp``/
``deprecatedCount`` ↔ ``source``/``firstTimestamp``/``lastTimestamp``/``count``), so
``kubectl get events.v1.events.k8s.io`` lists what the components recorded through core/v1.
Validation is the core strategy's, which applies the strict rules of a request through this
group (``ValidateEventCreate``/``ValidateEventUpdate`` with the request version; their
field paths name the internal fields).  Field selectors use this group's labels
(``regarding.name`` …), converted to core's.  Printed as ``printEvent``.
"""
from __future__ import annotations

import re

from apiserver.registry import printers
from apiserver.registry.strategy import Column, Strategy
from resources.core.columns import doc

_CORE = "io.k8s.api.core.v1.Event"


def since(value) -> str:
    """Age of a Time or MicroTime (``2024-01-01T00:00:00.000000Z``) as kubectl prints it."""
    return printers.since(re.sub(r"\.\d+Z$", "Z", value) if isinstance(value, str) else value)


# events.k8s.io/v1 field → core/v1 field (the others have one name in both)
TO_CORE = {"regarding": "involvedObject", "note": "message",
           "reportingController": "reportingComponent", "deprecatedSource": "source",
           "deprecatedFirstTimestamp": "firstTimestamp",
           "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count"}
FROM_CORE = {v: k for k, v in TO_CORE.items()}


class EventStrategy(Strategy):
    group = "events.k8s.io"
    kind = "Event"
    plural = "events"
    # the same REST storage as core/v1 Event serves this group (kubernetes/kubernetes:
    # pkg/registry/events/rest/storage_events.go uses eventstore.NewREST), short name and all
    short_names = ("ev",)
    schema_name = "io.k8s.api.events.v1.Event"
    storage_version = ("", "v1")
    # upstream's events.k8s.io/v1 field label conversions
    field_label_conversions = {
        **{f"regarding.{f}": f"involvedObject.{f}" for f in
           ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": "reason", "reportingController": "reportingComponent", "type": "type",
        "metadata.namespace": "metadata.namespace", "metadata.name": "metadata.name"}
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

    def convert_to_storage(self, obj: dict) -> dict:
        """events.k8s.io/v1 → core/v1 (upstream pkg/apis/events/v1/conversion.go)."""
        return {TO_CORE.get(k, k): v for k, v in obj.items()}

    def convert_from_storage(self, obj: dict) -> dict:
        """core/v1 → events.k8s.io/v1; unset deprecated fields are left out."""
        out = {}
        for key, value in obj.items():
            name = FROM_CORE.get(key, key)
            if name.startswith("deprecated") and not value:
                continue
            out[name] = value
        return out

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

