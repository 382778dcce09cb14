"""Deployments through the real Store and SQL storage: generation and /scale."""
from __future__ import annotations

import orjson
import pytest

from apiserver.endpoints import scale
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row


@pytest.fixture
def deployments(stores):
    ensure_revision_row()
    return stores.store("apps", "v1", "deployments")


def deployment(name="web"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def test_create_sets_generation_and_defaults(deployments, ctx):
    obj = orjson.loads(deployments.create("default", deployment(), ctx))
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["replicas"] == 1 and obj["status"] == {}
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_generation_bumps_on_spec_change_only(deployments, ctx):
    deployments.create("default", deployment(), ctx)

    def gen():
        return orjson.loads(deployments.get("default", "web"))["metadata"]["generation"]

    def change(fn, context=ctx):
        def transform(cur):
            fn(cur)
            return cur
        deployments.guaranteed_update("default", "web", transform, context)

    change(lambda o: o["metadata"].setdefault("labels", {}).update(x="y"))
    assert gen() == 1
    status_ctx = RequestContext(user=ctx.user, field_manager="tests", subresource="status")
    change(lambda o: o.__setitem__("status", {"replicas": 1, "readyReplicas": 1}), status_ctx)
    assert gen() == 1
    assert orjson.loads(deployments.get("default", "web"))["status"]["readyReplicas"] == 1
    change(lambda o: o["spec"].__setitem__("replicas", 4))
    assert gen() == 2
    change(lambda o: o["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:2"))
    assert gen() == 3


def test_main_resource_write_keeps_status(deployments, ctx):
    deployments.create("default", deployment(), ctx)
    status_ctx = RequestContext(user=ctx.user, field_manager="tests", subresource="status")
    deployments.guaranteed_update("default", "web", lambda o: {**o, "status": {"replicas": 2}}, status_ctx)
    deployments.guaranteed_update("default", "web", lambda o: {**o, "status": {"replicas": 9}}, ctx)
    assert orjson.loads(deployments.get("default", "web"))["status"] == {"replicas": 2}


def test_scale_subresource(deployments, ctx):
    deployments.create("default", deployment(), ctx)
    current = orjson.loads(deployments.get("default", "web"))
    view = scale.to_scale(deployments.strategy.scale_spec(), current)
    assert view["spec"] == {"replicas": 1}
    assert view["status"] == {"replicas": 0, "selector": "app=web"}
    doc, _ = deployments.guaranteed_update(
        "default", "web",
        lambda cur: scale.apply_scale(deployments.strategy.scale_spec(), cur, {"spec": {"replicas": 3}}), ctx)
    obj = orjson.loads(doc)
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["generation"] == 2
    assert scale.to_scale(deployments.strategy.scale_spec(), obj)["spec"] == {"replicas": 3}


def test_invalid_deployment_is_422(deployments, ctx):
    bad = deployment()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(errors.Invalid) as exc:
        deployments.create("default", bad, ctx)
    assert exc.value.code == 422
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("spec.template.metadata.labels",
         'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`')]


def test_selector_change_is_rejected(deployments, ctx):
    deployments.create("default", deployment(), ctx)

    def transform(cur):
        cur["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
        cur["spec"]["template"]["metadata"]["labels"]["v"] = "2"
        return cur
    with pytest.raises(errors.Invalid) as exc:
        deployments.guaranteed_update("default", "web", transform, ctx)
    assert [c.field for c in exc.value.causes] == ["spec.selector"]
