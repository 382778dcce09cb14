"""AlwaysPullImages: every container pulls Always; updates that bring a new image too."""
from __future__ import annotations

import copy

import pytest

from apiserver.admission.base import Attributes
from resources.admission.always_pull_images import AlwaysPullImages
from resources.admission.refusals import PlainError
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


def pod(policy="IfNotPresent", image="nginx"):
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {
        "initContainers": [{"name": "i", "image": "init", "imagePullPolicy": policy}],
        "containers": [{"name": "c", "image": image, "imagePullPolicy": policy},
                       {"name": "d", "image": "side", "imagePullPolicy": "Never"}],
        "ephemeralContainers": [{"name": "e", "image": "debug", "imagePullPolicy": policy}]}}


def attrs(obj, op="CREATE", old=None, subresource="", resource="pods"):
    return Attributes(operation=op, group="", version="v1", kind="Pod", resource=resource,
                      subresource=subresource, namespace="ns", name="p", obj=obj, old=old)


def policies(obj):
    spec = obj["spec"]
    return [c["imagePullPolicy"] for key in ("initContainers", "containers",
                                             "ephemeralContainers") for c in spec[key]]


def test_create_sets_always_on_every_container():
    plugin = AlwaysPullImages()
    assert plugin.handles("CREATE") and plugin.handles("UPDATE") and not plugin.handles("DELETE")
    obj = pod()
    plugin.admit(attrs(obj))
    assert policies(obj) == ["Always"] * 4
    plugin.validate(attrs(obj))


def test_update_only_when_an_image_is_new():
    plugin = AlwaysPullImages()
    old = pod()
    same = copy.deepcopy(old)
    plugin.admit(attrs(same, "UPDATE", old))
    assert policies(same) == policies(old)            # no new image: left alone
    plugin.validate(attrs(same, "UPDATE", old))       # and not checked either
    changed = pod(image="nginx:2")
    plugin.admit(attrs(changed, "UPDATE", old))
    assert policies(changed) == ["Always"] * 4


def test_subresources_and_other_kinds_are_ignored():
    plugin = AlwaysPullImages()
    obj = pod()
    plugin.admit(attrs(obj, subresource="status"))
    plugin.admit(attrs(obj, resource="podtemplates"))
    assert policies(obj) == ["IfNotPresent", "IfNotPresent", "Never", "IfNotPresent"]


def test_validation_refuses_other_policies_with_upstreams_aggregate():
    plugin = AlwaysPullImages()
    one = pod(policy="Always")
    one["spec"]["containers"][1]["imagePullPolicy"] = "Always"
    one["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    with pytest.raises(PlainError) as exc:
        plugin.validate(attrs(one))
    assert exc.value.code == 500 and exc.value.reason == ""
    assert exc.value.message == (
        'pods "p" is forbidden: spec.containers[0].imagePullPolicy: Unsupported value: '
        '"IfNotPresent": supported values: "Always"')
    with pytest.raises(PlainError) as exc:
        plugin.validate(attrs(pod()))
    assert exc.value.message == (
        '[pods "p" is forbidden: spec.initContainers[0].imagePullPolicy: Unsupported value: '
        '"IfNotPresent": supported values: "Always", '
        'pods "p" is forbidden: spec.containers[0].imagePullPolicy: Unsupported value: '
        '"IfNotPresent": supported values: "Always", '
        'pods "p" is forbidden: spec.containers[1].imagePullPolicy: Unsupported value: '
        '"Never": supported values: "Always", '
        'pods "p" is forbidden: spec.ephemeralContainers[0].imagePullPolicy: Unsupported '
        'value: "IfNotPresent": supported values: "Always"]')


def test_http_create(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("AlwaysPullImages",))
    client = ASGIClient(app)
    resp = client.post("/api/v1/namespaces/default/pods", {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}],
                 "initContainers": [{"name": "i", "image": "busybox"}]}})
    assert resp.status_code == 201, resp.content
    spec = resp.json()["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    assert spec["initContainers"][0]["imagePullPolicy"] == "Always"
