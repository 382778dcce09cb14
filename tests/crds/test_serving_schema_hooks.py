"""The serving layer's use of the schema API (``crds.schema``: prune, apply_defaults,
validate), with a stand-in implementation: which schema and which part of the object each
hook hands over, and what the Store makes of the answers (fieldValidation warnings and
Strict 400s for pruned fields, 422 for validation errors)."""
from __future__ import annotations

import types

import pytest

from apiserver.runtime import errors
from crds import serving_strategy
from tests.crds.test_serving_support import CRONTABS, GROUP, create_crd, crontab, serving_world

pytestmark = pytest.mark.django_db


class StandInSchemaAPI:
    """Prunes top-level and spec keys the schema does not list, defaults spec.image,
    refuses a negative spec.replicas; records every call."""

    def __init__(self):
        self.calls = []

    def prune(self, schema, obj):
        self.calls.append(("prune", sorted(obj)))
        removed = []
        props = schema.get("properties") or {}
        for key in list(obj):
            if key not in props:
                del obj[key]
                removed.append(key)
        spec_props = (props.get("spec") or {}).get("properties") or {}
        for key in list((obj.get("spec") or {})):
            if key not in spec_props:
                del obj["spec"][key]
                removed.append(f"spec.{key}")
        return removed

    def apply_defaults(self, schema, obj):
        self.calls.append(("default", sorted(obj)))
        if isinstance(obj.get("spec"), dict):
            obj["spec"].setdefault("image", "defaulted")

    def validate(self, schema, obj, old=None):
        self.calls.append(("validate", sorted(obj), old is not None))
        replicas = (obj.get("spec") or {}).get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            return [errors.invalid("spec.replicas", replicas, "should be greater than or equal to 0")]
        return []


@pytest.fixture
def api(monkeypatch):
    stand_in = StandInSchemaAPI()
    monkeypatch.setattr(serving_strategy, "schema_api", lambda: stand_in)
    return stand_in


@pytest.fixture
def client():
    completed, _, client = serving_world()
    create_crd(completed.storage)
    return client


def test_unknown_fields_are_pruned_with_warnings_or_refused_when_strict(api, client):
    body = crontab("a")
    body["spec"]["unknown"] = 1
    body["extra"] = True
    del body["spec"]["image"]
    made = client.post(CRONTABS, body)
    assert made.status_code == 201, made.content
    obj = made.json()
    assert "extra" not in obj and "unknown" not in obj["spec"]
    assert obj["spec"]["image"] == "defaulted"
    assert obj["metadata"]["labels"] == {"app": "a"}          # metadata is never handed over
    assert made.headers["warning"] == ('299 - "unknown field \\"extra\\"", '
                                      '299 - "unknown field \\"spec.unknown\\""')
    assert ("prune", ["extra", "spec"]) in api.calls          # no apiVersion/kind/metadata
    strict = client.post(CRONTABS, {**crontab("b"), "extra": 1},
                         query={"fieldValidation": "Strict"})
    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
        'unknown field "extra"')


def test_validation_errors_are_422_on_create_and_update(api, client):
    bad = client.post(CRONTABS, crontab("a", replicas=-1))
    assert bad.status_code == 422
    assert bad.json()["message"].startswith(f'CronTab.{GROUP} "a" is invalid: spec.replicas')
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    api.calls.clear()
    patched = client.patch(f"{CRONTABS}/a", {"spec": {"replicas": -2}},
                           "application/merge-patch+json")
    assert patched.status_code == 422
    # update: the whole object, with the old one
    assert ("validate", ["apiVersion", "kind", "metadata", "spec"], True) in api.calls


def test_a_non_storage_version_is_pruned_against_its_own_schema(api, client):
    beta = f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs"
    body = {**crontab("b"), "apiVersion": f"{GROUP}/v1beta1", "extra": 1}
    made = client.post(beta, body, query={"fieldValidation": "Strict"})
    assert made.status_code == 400
    assert 'CronTab in version "v1beta1"' in made.json()["message"]


def test_serving_works_without_the_schema_api(monkeypatch, client):
    monkeypatch.setattr(serving_strategy, "schema_api", lambda: None)
    made = client.post(CRONTABS, {**crontab("a"), "extra": 1})
    assert made.status_code == 201 and made.json()["extra"] == 1


def test_the_schema_api_is_found_only_when_complete(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "crds.schema", types.SimpleNamespace(prune=1))
    assert serving_strategy.schema_api() is None


def test_the_real_schema_api_is_used_when_present(client):
    """With ``crds.schema`` in place: pruning, defaults and validation of the CRD schema."""
    if serving_strategy.schema_api() is None:
        pytest.skip("crds.schema is not there yet")
    made = client.post(CRONTABS, {**crontab("a"), "extra": 1, "spec": {"replicas": "x"}})
    assert made.status_code == 422, made.content
    assert "spec.replicas" in made.json()["message"]
    made = client.post(CRONTABS, {**crontab("b"), "extra": 1})
    assert made.status_code == 201 and "extra" not in made.json()


def test_each_version_is_defaulted_and_validated_by_its_own_schema(monkeypatch):
    from tests.crds.test_serving_support import crd

    used = []

    class Recording(StandInSchemaAPI):
        def apply_defaults(self, schema, obj):
            used.append(("default", schema.get("description")))

        def validate(self, schema, obj, old=None):
            used.append(("validate", schema.get("description")))
            return []
    monkeypatch.setattr(serving_strategy, "schema_api", lambda: Recording())
    completed, _, client = serving_world()
    obj = crd()
    for version in obj["spec"]["versions"]:
        version["schema"] = {"openAPIV3Schema": {**version["schema"]["openAPIV3Schema"],
                                                 "description": version["name"]}}
    create_crd(completed.storage, obj)
    beta = f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs"
    assert client.post(beta, {**crontab("a"), "apiVersion": f"{GROUP}/v1beta1"}).status_code == 201
    assert set(used) == {("default", "v1beta1"), ("validate", "v1beta1")}
    used.clear()
    assert client.patch(f"{beta}/a", {"spec": {"replicas": 2}},
                        "application/merge-patch+json").status_code == 200
    assert set(used) == {("default", "v1beta1"), ("validate", "v1beta1")}
    used.clear()
    assert client.patch(f"{CRONTABS}/a", {"spec": {"replicas": 3}},
                        "application/merge-patch+json").status_code == 200
    assert set(used) == {("default", "v1"), ("validate", "v1")}
