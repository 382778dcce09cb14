"""A generic API test battery every stored built-in kind runs through the generic Store.

A kind's test subclasses :class:`KindBattery`, names its ``group``/``version``/``resource``
and supplies ``valid(name)`` (a minimal valid object) and ``invalid()`` (objects the kind's
validation must reject, each with the field path expected among the 422 causes).  The
battery then checks the verbs every stored kind shares: create/get/list, updates and their
resourceVersions, optimistic concurrency, AlreadyExists, validation, delete, dry-run and
the table columns.  (The idea follows netbox-community/netbox:netbox/utilities/testing/api.py.)

Create-only virtual kinds (``strategy.stored is False``: reviews, bindings) are not
subclassed: there is nothing stored to read back.
"""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.authentication.user import UserInfo
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme
from tests.apiserver.storage.support import ensure_revision_row


class KindBattery:
    """Subclass with ``group``, ``version``, ``resource`` and ``valid``/``invalid``."""

    group: str = ""
    version: str = "v1"
    resource: str = ""
    namespace: str = "default"      # used for namespaced kinds only

    # ---- what a kind supplies ------------------------------------------------------------
    def valid(self, name: str) -> dict:
        """A minimal valid object named ``name`` (no namespace needed)."""
        raise NotImplementedError

    def invalid(self) -> list[tuple[dict, str]]:
        """Objects the kind rejects, each with a field path expected in the 422 causes."""
        raise NotImplementedError

    def label_patch(self, obj: dict) -> dict:
        """The change the update tests make (a label); override if a kind needs more."""
        obj["metadata"].setdefault("labels", {})["battery"] = "updated"
        return obj

    # ---- derived from the Scheme ---------------------------------------------------------
    @property
    def strategy(self):
        s = scheme.strategy(self.group, self.version, self.resource)
        assert s is not None, f"{self.group}/{self.version}/{self.resource} is not registered"
        return s

    @property
    def namespaced(self) -> bool:
        return self.strategy.namespaced

    @property
    def ns(self) -> str | None:
        return self.namespace if self.namespaced else None

    # ---- fixtures ------------------------------------------------------------------------
    def setup_stores(self, stores) -> None:
        """Hook run before each test (e.g. to install an allocator)."""

    def teardown_stores(self) -> None:
        """Hook run after each test."""

    @pytest.fixture
    def store(self, stores):
        ensure_revision_row()
        self.setup_stores(stores)
        st = stores.store(self.group, self.version, self.resource)
        assert st is not None
        yield st
        self.teardown_stores()

    def _create(self, store, ctx, name: str = "battery") -> dict:
        return orjson.loads(store.create(self.ns, copy.deepcopy(self.valid(name)), ctx))

    # ---- the battery ---------------------------------------------------------------------
    def test_kind_is_stored(self):
        assert self.strategy.stored, "create-only virtual kinds are not for this battery"

    def test_create_fills_metadata(self, store, ctx):
        obj = self._create(store, ctx)
        s = self.strategy
        m = obj["metadata"]
        assert obj["apiVersion"] == s.api_version() and obj["kind"] == s.kind
        assert m["name"] == "battery"
        assert m["uid"] and m["creationTimestamp"]
        assert str(m["resourceVersion"]).isdigit() and int(m["resourceVersion"]) > 0
        if self.namespaced:
            assert m["namespace"] == self.namespace
        else:
            assert "namespace" not in m

    def test_get_returns_created_document(self, store, ctx):
        obj = self._create(store, ctx)
        assert orjson.loads(store.get(self.ns, "battery")) == obj

    def test_list_contains_object(self, store, ctx):
        obj = self._create(store, ctx)
        page = store.list(self.ns)
        items = [orjson.loads(doc) for doc in page["items"]]
        assert obj in items
        assert int(page["resourceVersion"]) >= int(obj["metadata"]["resourceVersion"])

    def test_label_update_bumps_resource_version(self, store, ctx):
        obj = self._create(store, ctx)
        doc, created = store.guaranteed_update(self.ns, "battery",
                                               lambda cur: self.label_patch(cur), ctx)
        new = orjson.loads(doc)
        assert created is False
        assert new["metadata"]["labels"]["battery"] == "updated"
        assert int(new["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])
        for key in ("uid", "creationTimestamp"):
            assert new["metadata"][key] == obj["metadata"][key]
        assert orjson.loads(store.get(self.ns, "battery")) == new

    def test_noop_update_keeps_resource_version(self, store, ctx):
        obj = self._create(store, ctx)
        doc, _ = store.update(self.ns, "battery", copy.deepcopy(obj), ctx)
        assert orjson.loads(doc)["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
        assert orjson.loads(store.get(self.ns, "battery")) == obj

    def test_stale_resource_version_conflicts(self, store, ctx):
        obj = self._create(store, ctx)
        store.guaranteed_update(self.ns, "battery", lambda cur: self.label_patch(cur), ctx)
        stale = copy.deepcopy(obj)
        stale["metadata"].setdefault("annotations", {})["battery"] = "stale"
        with pytest.raises(errors.Conflict) as exc:
            store.update(self.ns, "battery", stale, ctx)
        assert exc.value.code == 409
        got = orjson.loads(store.get(self.ns, "battery"))
        assert "battery" not in (got["metadata"].get("annotations") or {})

    def test_create_same_name_already_exists(self, store, ctx):
        self._create(store, ctx)
        with pytest.raises(errors.AlreadyExists) as exc:
            self._create(store, ctx)
        assert exc.value.code == 409

    def test_invalid_objects_are_422_with_field(self, store, ctx):
        cases = self.invalid()
        assert cases, "a kind must list at least one invalid object"
        for obj, path in cases:
            name = obj.get("metadata", {}).get("name", "")
            with pytest.raises(errors.Invalid) as exc:
                store.create(self.ns, copy.deepcopy(obj), ctx)
            fields = [c.field for c in exc.value.causes]
            assert exc.value.code == 422
            assert path in fields, f"{name}: expected a cause at {path!r}, got {exc.value.message}"
        names = {o.get("metadata", {}).get("name") for o, _ in cases}
        stored = {orjson.loads(d)["metadata"]["name"] for d in store.list(self.ns)["items"]}
        assert not names & stored

    def test_delete_removes(self, store, ctx):
        self._create(store, ctx)
        # Background: kinds whose default policy orphans (Jobs, ReplicationControllers in
        # v1) would wait for the garbage collector to take the orphan finalizer off
        store.delete(self.ns, "battery", {"propagationPolicy": "Background"}, ctx)
        with pytest.raises(errors.NotFound) as exc:
            store.get(self.ns, "battery")
        assert exc.value.code == 404
        assert all(orjson.loads(d)["metadata"]["name"] != "battery"
                   for d in store.list(self.ns)["items"])

    def test_dry_run_create_stores_nothing(self, store, ctx):
        before = store.list(self.ns)
        dry = RequestContext(user=UserInfo("tester", groups=("system:masters",)),
                             field_manager="tests", dry_run=True)
        obj = orjson.loads(store.create(self.ns, copy.deepcopy(self.valid("dry")), dry))
        assert obj["metadata"]["name"] == "dry" and obj["kind"] == self.strategy.kind
        with pytest.raises(errors.NotFound):
            store.get(self.ns, "dry")
        after = store.list(self.ns)
        assert after["items"] == before["items"]
        assert after["resourceVersion"] == before["resourceVersion"]

    def test_table_row_matches_columns(self, store, ctx):
        obj = self._create(store, ctx)
        row = self.strategy.table_row(obj)
        assert len(row) == len(self.strategy.columns)

    # ---- decoding: a 400, nothing stored --------------------------------------------------
    def _collection_url(self) -> str:
        s = self.strategy
        base = f"/apis/{s.group}/{s.version}" if s.group else f"/api/{s.version}"
        return base + (f"/namespaces/{self.namespace}" if self.namespaced else "") + f"/{s.plural}"

    def test_a_body_of_another_group_or_kind_is_400_and_stores_nothing(self, store):
        """An object of another group (same kind name) or of another kind, posted to this
        kind's collection (kubernetes/apiserver:pkg/endpoints/handlers/rest.go
        transformDecodeError)."""
        from tests.asgi import ASGIClient, in_process_app
        client = ASGIClient(in_process_app()[1])
        s = self.strategy
        other_group = "example.com/v1" if s.group != "example.com" else "example.org/v1"
        for api_version, kind, message in (
                (other_group, s.kind, f'{s.kind} in version "v1" cannot be handled as a '
                                      f'{s.kind}: no kind "{s.kind}" is registered for version '
                                      f'"{other_group}"'),
                (s.api_version(), "NoSuchKind", f'NoSuchKind in version "{s.version}" cannot be '
                                                f'handled as a {s.kind}')):
            body = {**copy.deepcopy(self.valid("decode")), "apiVersion": api_version, "kind": kind}
            resp = client.post(self._collection_url(), body)
            assert resp.status_code == 400, resp.json()
            status = resp.json()
            assert status["reason"] == "BadRequest" and status["message"].startswith(message)
        with pytest.raises(errors.NotFound):
            store.get(self.ns, "decode")

    def test_an_unsupported_content_type_is_415(self, store):
        from tests.asgi import ASGIClient, in_process_app
        client = ASGIClient(in_process_app()[1])
        resp = client.request("POST", self._collection_url(), orjson.dumps(self.valid("decode")),
                              {"content-type": "text/x-unknown"})
        assert resp.status_code == 415
        assert resp.json()["reason"] == "UnsupportedMediaType"
        assert resp.json()["message"] == (
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml, application/vnd.kubernetes.protobuf")
        with pytest.raises(errors.NotFound):
            store.get(self.ns, "decode")

    def test_a_field_of_the_wrong_type_is_400_and_stores_nothing(self, store, ctx):
        body = copy.deepcopy(self.valid("decode"))
        body["metadata"]["labels"] = "not-a-map"
        kind = self.strategy.kind
        with pytest.raises(errors.BadRequest) as exc:
            store.create(self.ns, body, ctx)
        assert exc.value.code == 400
        assert exc.value.message.startswith(
            f'{kind} in version "{self.version}" cannot be handled as a {kind}: json: cannot '
            "unmarshal string into Go struct field")
        with pytest.raises(errors.NotFound):
            store.get(self.ns, "decode")


def with_name(obj: dict, name: str) -> dict:
    obj["metadata"]["name"] = name
    return obj
