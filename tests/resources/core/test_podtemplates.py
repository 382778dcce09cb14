"""PodTemplate: template defaults, validation under ``template``, generation, and the row.

Upstream: kubernetes/kubernetes:pkg/apis/core/validation/validation.go (ValidatePodTemplate),
pkg/registry/core/podtemplate/strategy.go and printPodTemplate in
pkg/printers/internalversion/printers.go.
"""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.runtime import errors
from resources.core.podtemplates import PodTemplateStrategy
from tests.apiserver.storage.support import ensure_revision_row

S = PodTemplateStrategy()


def template(name="tpl", **labels):
    return {"metadata": {"name": name},
            "template": {"metadata": {"labels": labels or {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.25"},
                                                 {"name": "side", "image": "busybox"}]}}}


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store("", "v1", "podtemplates")


def test_defaults_and_generation(store, ctx):
    got = orjson.loads(store.create("default", template(), ctx))
    spec = got["template"]["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert got["template"]["metadata"]["creationTimestamp"] is None
    assert got["metadata"]["generation"] == 1
    changed = copy.deepcopy(got)
    changed["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert orjson.loads(store.update("default", "tpl", changed, ctx)[0])["metadata"]["generation"] == 2
    labelled = orjson.loads(store.get("default", "tpl"))
    labelled["metadata"]["labels"] = {"x": "y"}
    assert orjson.loads(store.update("default", "tpl", labelled, ctx)[0])["metadata"]["generation"] == 2


def test_missing_template_is_invalid(store, ctx):
    with pytest.raises(errors.Invalid) as exc:
        store.create("default", {"metadata": {"name": "empty"}}, ctx)
    assert exc.value.message == ('PodTemplate "empty" is invalid: '
                                 'template.spec.containers: Required value')


def test_ephemeral_containers_refused():
    obj = template()
    obj["template"]["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox"}]
    S.default(obj)
    texts = [e.error_text() for e in S.validate(None, obj)]
    assert "template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template" in texts


def test_table_row():
    assert [c.name for c in S.columns] == ["Name", "Containers", "Images", "Pod Labels"]
    assert S.table_row(template(app="web", tier="fe")) == [
        "tpl", "app,side", "nginx:1.25,busybox", "app=web,tier=fe"]
    bare = {"metadata": {"name": "b"}, "template": {"spec": {"containers": []}}}
    assert S.table_row(bare) == ["b", "", "", "<none>"]
