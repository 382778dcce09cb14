"""events.k8s.io/v1 Event."""
from __future__ import annotations

import copy

from resources.events.events import EventStrategy
from apiserver.registry.context import RequestContext


def event(**extra):
    obj = {"metadata": {"name": "e1", "namespace": "default"},
           "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
           "reportingInstance": "i1", "action": "Pull", "reason": "Pulled", "type": "Normal",
           "note": "  pulled image  ", "regarding": {"kind": "Pod", "name": "p1", "namespace": "default"}}
    obj.update(extra)
    return obj


def texts(errs):
    return [e.error_text() for e in errs]


def test_valid_event():
    assert texts(EventStrategy().validate(RequestContext(), event())) == []


def test_strict_create_rules():
    obj = event(type="Info", deprecatedCount=3)
    del obj["eventTime"], obj["action"]
    out = texts(EventStrategy().validate(RequestContext(), obj))
    assert "eventTime: Required value" in out
    assert 'type: Invalid value: "": has invalid value: Info' in out
    assert 'deprecatedCount: Invalid value: "": needs to be unset' in out
    out = texts(EventStrategy().validate(RequestContext(), event(action="", reportingController="")))
    assert "reportingController: Required value" in out and "action: Required value" in out
    out = texts(EventStrategy().validate(RequestContext(), event(series={"count": 1})))
    assert out == ['series.count: Invalid value: "": should be at least 2',
                   "series.lastObservedTime: Required value"]


def test_update_immutables():
    old = event()
    new = copy.deepcopy(old)
    new["series"] = {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"}
    assert texts(EventStrategy().validate_update(RequestContext(), new, old)) == []
    new["note"] = "changed"
    assert [e.field for e in EventStrategy().validate_update(RequestContext(), new, old)] == ["message"]


def test_table_row_like_kubectl_get_events():
    s = EventStrategy()
    assert [c.name for c in s.columns] == ["Last Seen", "Type", "Reason", "Object", "Subobject",
                                           "Source", "Message", "First Seen", "Count", "Name"]
    row = s.table_row(event())
    assert row[1:] == ["Normal", "Pulled", "pod/p1", "", "example.com/ctl, i1", "pulled image",
                       row[7], 1, "e1"]
    assert row[0] != "<unknown>" and row[0] == row[7]          # microtime parsed
    row = s.table_row(event(series={"count": 5, "lastObservedTime": "2024-01-01T00:01:00.000000Z"}))
    assert row[8] == 5
    assert EventStrategy.short_names == ("ev",) and EventStrategy.group == "events.k8s.io"
