"""A kind served in two versions through one stored object (apiserver/registry/conversion.py):
writes in either version land in the storage version's row, reads come back in the version
asked for, both share resourceVersions, and watch events are converted too."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.scheme import Scheme
from apiserver.storage.watch_cache import Event
from apiserver.storage.base import ChangeRecord
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server


class WidgetV2(Strategy):
    group, version, kind, plural = "example.com", "v2", "Widget", "widgets"

    def validate(self, ctx, obj):
        size = (obj.get("spec") or {}).get("size", 0)
        return [] if size >= 0 else [errors.invalid("spec.size", size, "must be non-negative")]


class WidgetV1(Strategy):
    """v1 calls the field ``count``."""

    group, version, kind, plural = "example.com", "v1", "Widget", "widgets"
    storage_version = ("example.com", "v2")

    def convert_to_storage(self, obj):
        spec = obj.get("spec") or {}
        if "count" in spec:
            spec["size"] = spec.pop("count")
        return obj

    def convert_from_storage(self, obj):
        spec = obj.get("spec") or {}
        if "size" in spec:
            spec["count"] = spec.pop("size")
        return obj


@pytest.fixture
def widgets(db):
    ensure_revision_row()
    kinds = Scheme()
    kinds.register(WidgetV1)       # registered first: the server installs v2 before it anyway
    kinds.register(WidgetV2)
    stores = build_server(scheme=kinds)[0].stores
    return stores.store("example.com", "v1", "widgets"), stores.store("example.com", "v2", "widgets")


def body(version, **spec):
    return {"apiVersion": f"example.com/{version}", "kind": "Widget",
            "metadata": {"name": "w"}, "spec": spec}


def test_a_v1_write_is_stored_as_v2_and_read_back_in_either(widgets, ctx):
    v1, v2 = widgets
    created = orjson.loads(v1.create("default", body("v1", count=3), ctx))
    assert created["apiVersion"] == "example.com/v1" and created["spec"] == {"count": 3}
    stored = orjson.loads(v2.get("default", "w"))
    assert stored["apiVersion"] == "example.com/v2" and stored["spec"] == {"size": 3}
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert v1.storage is v2.storage and v1.resource == v2.resource
    row = v2.storage.get(v2.resource, "default", "w")[0]
    assert orjson.loads(row)["spec"] == {"size": 3}                     # one row, v2 form


def test_updates_in_one_version_show_in_the_other(widgets, ctx):
    v1, v2 = widgets
    v1.create("default", body("v1", count=1), ctx)

    def grow(cur):
        cur["spec"]["size"] = 5
        return cur
    doc, _ = v2.guaranteed_update("default", "w", grow, ctx)
    assert orjson.loads(v1.get("default", "w"))["spec"] == {"count": 5}

    def shrink(cur):            # a transform through v1 sees and writes v1
        assert cur["spec"] == {"count": 5}
        cur["spec"]["count"] = 2
        return cur
    out, _ = v1.guaranteed_update("default", "w", shrink, ctx)
    assert orjson.loads(out)["spec"] == {"count": 2}
    assert orjson.loads(v2.get("default", "w"))["spec"] == {"size": 2}
    assert [orjson.loads(d)["spec"] for d in v1.list("default")["items"]] == [{"count": 2}]


def test_the_storage_versions_rules_apply_to_both(widgets, ctx):
    v1, _ = widgets
    with pytest.raises(errors.Invalid) as exc:
        v1.create("default", body("v1", count=-1), ctx)
    assert exc.value.causes[0].field == "spec.size"


def test_watch_events_are_converted(widgets, ctx):
    v1, v2 = widgets
    doc = v2.create("default", body("v2", size=7), ctx)
    event = Event(ChangeRecord(1, v2.resource, "default", "w", "ADDED", doc))
    line = orjson.loads(v1.event_line("ADDED", event))
    assert line["object"]["apiVersion"] == "example.com/v1"
    assert line["object"]["spec"] == {"count": 7}
    assert orjson.loads(v2.event_line("ADDED", event))["object"]["spec"] == {"size": 7}


def test_delete_through_v1_answers_v1(widgets, ctx):
    v1, v2 = widgets
    v2.create("default", body("v2", size=1), ctx)
    doc, gone = v1.delete("default", "w", {}, ctx)
    assert gone is True and orjson.loads(doc)["spec"] == {"count": 1}
    with pytest.raises(errors.NotFound):
        v2.get("default", "w")
