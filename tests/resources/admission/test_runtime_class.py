"""RuntimeClass: the class must exist; its overhead becomes the pod's (a different one is
refused); its node selector and tolerations are merged into the pod's; upstream's
messages."""
from __future__ import annotations

import orjson
import pytest

from apiserver.admission.base import Attributes
from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.admission.runtime_class import merge_tolerations
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server


@pytest.fixture
def stores(db):
    ensure_revision_row()
    stores = build_server(admission_plugins=("RuntimeClass",))[0].stores
    classes = stores.store("node.k8s.io", "v1", "runtimeclasses")
    ctx = system_context("tests")
    classes.create(None, {"metadata": {"name": "kata"}, "handler": "kata",
                          "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
                          "scheduling": {"nodeSelector": {"sandbox": "kata"}, "tolerations": [
                              {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}},
                   ctx)
    classes.create(None, {"metadata": {"name": "plain"}, "handler": "runc"}, ctx)
    return stores


def pod(name="p", **spec):
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def create(stores, ctx, obj):
    return orjson.loads(stores.store("", "v1", "pods").create("ns1", obj, ctx))["spec"]


def refused(stores, ctx, obj) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        create(stores, ctx, obj)
    return exc.value.message


def test_overhead_and_scheduling_from_the_class(stores, ctx):
    spec = create(stores, ctx, pod(runtimeClassName="kata", nodeSelector={"zone": "a"},
                                   tolerations=[{"key": "sandbox", "operator": "Equal",
                                                 "value": "x", "effect": "NoSchedule"}]))
    assert spec["overhead"] == {"cpu": "250m", "memory": "120Mi"}
    assert spec["nodeSelector"] == {"zone": "a", "sandbox": "kata"}
    # the class's Exists toleration covers the pod's Equal one
    assert spec["tolerations"] == [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]
    same = create(stores, ctx, pod("q", runtimeClassName="kata",
                                   overhead={"cpu": "0.25", "memory": "120Mi"}))
    assert same["nodeSelector"] == {"sandbox": "kata"}


def test_refusals(stores, ctx):
    assert refused(stores, ctx, pod(runtimeClassName="gone")) == \
        'pods "p" is forbidden: pod rejected: RuntimeClass "gone" not found'
    assert refused(stores, ctx, pod(runtimeClassName="kata", overhead={"cpu": "1"})) == \
        "pods \"p\" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's " \
        "defined Overhead"
    assert refused(stores, ctx, pod(runtimeClassName="kata", nodeSelector={"sandbox": "gvisor"})) \
        == ('pods "p" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = '
            'kata; pod.spec.nodeSelector[sandbox] = gvisor')
    for spec in ({"runtimeClassName": "plain"}, {}):
        assert refused(stores, ctx, pod(overhead={"cpu": "1"}, **spec)) == (
            'pods "p" is forbidden: pod rejected: Pod Overhead set without corresponding '
            'RuntimeClass defined Overhead')


def test_class_without_extras_changes_nothing(stores, ctx):
    spec = create(stores, ctx, pod(runtimeClassName="plain"))
    assert "overhead" not in spec and "nodeSelector" not in spec


def test_merge_tolerations():
    exists_all = {"operator": "Exists"}
    t1 = {"key": "a", "operator": "Equal", "value": "1", "effect": "NoExecute",
          "tolerationSeconds": 10}
    t2 = {"key": "a", "operator": "Equal", "value": "1", "effect": "NoExecute",
          "tolerationSeconds": 20}
    assert merge_tolerations([t1], [t2]) == [t2]            # the longer grace covers
    assert merge_tolerations([t1, dict(t1)], []) == [t1]    # of equals the first is kept
    assert merge_tolerations([t1], [exists_all]) == [exists_all]
    other = {"key": "b", "operator": "Exists"}
    assert merge_tolerations([t1], [other]) == [t1, other]


def test_only_pod_creates(stores):
    plugin = stores.admission.plugins[0]
    assert plugin.handles("CREATE") and not plugin.handles("UPDATE")
    obj = pod(runtimeClassName="gone")
    plugin.admit(Attributes("CREATE", "", "v1", "Pod", "pods", "status", "ns1", "p", obj, None))


def test_over_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("RuntimeClass",))
    client = ASGIClient(app)
    client.post("/api/v1/namespaces", {"metadata": {"name": "web"}})
    r = client.post("/api/v1/namespaces/web/pods", pod(runtimeClassName="nope"))
    assert r.status_code == 403
    assert r.json()["message"] == 'pods "p" is forbidden: pod rejected: RuntimeClass "nope" not found'
