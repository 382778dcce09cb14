"""DefaultIngressClass: an Ingress without a class gets the default IngressClass (the newest
of several); an explicit class or the legacy annotation is kept."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import system_context
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server

DEFAULT = "ingressclass.kubernetes.io/is-default-class"


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("DefaultIngressClass",))[0].stores


def ingress_class(stores, name, annotations=None):
    stores.store("networking.k8s.io", "v1", "ingressclasses").create(None, {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"controller": "example.com/ingress"}}, system_context("tests"))


def ingress(name="i", annotations=None, **spec):
    spec.setdefault("defaultBackend", {"service": {"name": "s", "port": {"number": 80}}})
    return {"metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


def create(stores, ctx, obj):
    made = stores.store("networking.k8s.io", "v1", "ingresses").create("ns1", obj, ctx)
    return orjson.loads(made)["spec"].get("ingressClassName")


def test_no_default(stores, ctx):
    ingress_class(stores, "nginx", {DEFAULT: "True"})           # only "true" counts
    assert create(stores, ctx, ingress()) is None


def test_default_is_set_unless_a_class_is_named(stores, ctx):
    ingress_class(stores, "nginx", {DEFAULT: "true"})
    assert create(stores, ctx, ingress("a")) == "nginx"
    assert create(stores, ctx, ingress("b", ingressClassName="other")) == "other"
    assert create(stores, ctx, ingress("c", {"kubernetes.io/ingress.class": "legacy"})) is None


def test_over_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("DefaultIngressClass",))
    client = ASGIClient(app)
    client.post("/apis/networking.k8s.io/v1/ingressclasses", {
        "metadata": {"name": "nginx", "annotations": {DEFAULT: "true"}},
        "spec": {"controller": "example.com/ingress"}})
    client.post("/api/v1/namespaces", {"metadata": {"name": "web"}})
    r = client.post("/apis/networking.k8s.io/v1/namespaces/web/ingresses", ingress())
    assert r.status_code == 201, r.content
    assert r.json()["spec"]["ingressClassName"] == "nginx"
