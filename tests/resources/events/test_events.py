"""events.k8s.io/v1 Event: one stored Event with core/v1, converted both ways; the strict
rules of a request through this group (paths naming the internal fields), the legacy ones
through core; field selectors in this group's labels; the printed row."""
from __future__ import annotations

import pytest

from resources.events.events import EventStrategy
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

V1 = "/apis/events.k8s.io/v1/namespaces/default/events"
CORE = "/api/v1/namespaces/default/events"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def event(name="e1", **extra):
    obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
           "metadata": {"name": name, "namespace": "default"},
           "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
           "reportingInstance": "i1", "action": "Pull", "reason": "Pulled", "type": "Normal",
           "note": "  pulled image  ",
           "regarding": {"kind": "Pod", "name": "p1", "namespace": "default"}}
    obj.update(extra)
    return obj


def core_event(name="c1", **extra):
    obj = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
           "involvedObject": {"kind": "Pod", "name": "p2", "namespace": "default"},
           "reason": "Started", "message": "started container", "type": "Normal",
           "source": {"component": "kubelet", "host": "node-1"},
           "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:05Z",
           "count": 2}
    obj.update(extra)
    return obj


@pytest.fixture
def client(db):
    ensure_revision_row()
    return ASGIClient(in_process_app()[1])


def causes(resp) -> list[str]:
    body = resp.json()
    assert resp.status_code == 422, body
    return [f"{c['field']}: {c['message']}" for c in body["details"]["causes"]]


def test_one_event_through_both_groups(client):
    created = client.post(V1, event())
    assert created.status_code == 201, created.json()
    core = client.get(CORE + "/e1").json()
    assert (core["apiVersion"], core["kind"]) == ("v1", "Event")
    assert core["involvedObject"] == {"kind": "Pod", "name": "p1", "namespace": "default"}
    assert core["message"] == "  pulled image  "
    assert core["reportingComponent"] == "example.com/ctl"
    assert "regarding" not in core and "note" not in core
    # a core event, as the components record them, read in the newer shape
    assert client.post(CORE, core_event()).status_code == 201
    v1 = client.get(V1 + "/c1").json()
    assert (v1["apiVersion"], v1["kind"]) == ("events.k8s.io/v1", "Event")
    assert v1["regarding"]["name"] == "p2" and v1["note"] == "started container"
    assert v1["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert (v1["deprecatedFirstTimestamp"], v1["deprecatedLastTimestamp"],
            v1["deprecatedCount"]) == ("2024-01-01T00:00:00Z", "2024-01-01T00:00:05Z", 2)
    assert v1["metadata"]["resourceVersion"] == \
        client.get(CORE + "/c1").json()["metadata"]["resourceVersion"]
    names = sorted(i["metadata"]["name"] for i in client.get(V1).json()["items"])
    assert names == ["c1", "e1"]
    assert client.delete(V1 + "/c1").status_code == 200
    assert client.get(CORE + "/c1").status_code == 404


def test_strict_rules_through_events_k8s_io_only(client):
    obj = event(type="Info", deprecatedCount=3)
    del obj["eventTime"], obj["action"]
    out = causes(client.post(V1, obj))
    assert out == ["eventTime: Required value", 'type: Invalid value: "": has invalid value: Info',
                   'count: Invalid value: "": needs to be unset']
    out = causes(client.post(V1, event(action="", reportingController="")))
    assert "reportingController: Required value" in out and "action: Required value" in out
    out = causes(client.post(V1, event(series={"count": 1})))
    assert out == ['series.count: Invalid value: "": should be at least 2',
                   "series.lastObservedTime: Required value"]
    # the same old-style event is fine through core/v1, which checks only the legacy rules
    assert client.post(CORE, core_event("legacy", type="Info")).status_code == 201
    out = causes(client.post(CORE, core_event("new", eventTime="2024-01-01T00:00:00.000000Z")))
    assert "reportingComponent: Required value" in out


def test_updates_through_events_k8s_io_keep_identifying_fields(client):
    client.post(V1, event())
    current = client.get(V1 + "/e1").json()
    current["series"] = {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"}
    updated = client.put(V1 + "/e1", current)
    assert updated.status_code == 200, updated.json()
    changed = updated.json()
    changed["note"] = "changed"
    out = causes(client.put(V1 + "/e1", changed))
    assert [c.split(":")[0] for c in out] == ["message"]


def test_field_selectors_use_this_groups_labels(client):
    client.post(V1, event("a"))
    client.post(V1, event("b", regarding={"kind": "Pod", "name": "other",
                                          "namespace": "default"}))
    listed = client.get(V1, query={"fieldSelector": "regarding.name=p1"}).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    listed = client.get(V1, query={"fieldSelector": "reportingController=example.com/ctl"})
    assert len(listed.json()["items"]) == 2
    refused = client.get(V1, query={"fieldSelector": "involvedObject.name=p1"})
    assert refused.status_code == 400
    assert refused.json()["message"] == "field label not supported: involvedObject.name"
    assert [i["metadata"]["name"] for i in client.get(
        CORE, query={"fieldSelector": "involvedObject.name=p1"}).json()["items"]] == ["a"]


def test_table_rows_like_kubectl_get_events(client):
    client.post(V1, event())
    table = client.get(V1 + "/e1", headers={"accept": TABLE}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
        "First Seen", "Count", "Name"]
    row = table["rows"][0]["cells"]
    assert row[1:] == ["Normal", "Pulled", "pod/p1", "", "example.com/ctl, i1", "pulled image",
                       row[7], 1, "e1"]
    assert row[0] != "<unknown>" and row[0] == row[7]          # microtime parsed
    s = EventStrategy()
    row = s.table_row(event(series={"count": 5, "lastObservedTime": "2024-01-01T00:01:00.000000Z"}))
    assert row[8] == 5
    assert EventStrategy.short_names == ("ev",) and EventStrategy.group == "events.k8s.io"
