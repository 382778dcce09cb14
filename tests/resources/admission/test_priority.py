"""Priority: a pod's class decides its priority and preemption policy (the global default
when none is named); only one class may be the global default; upstream's messages."""
from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.bootstrap_scheduling import ensure_system_priority_classes
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("Priority",))[0].stores


def klass(stores, name, value, ctx=None, **extra):
    return orjson.loads(stores.store("scheduling.k8s.io", "v1", "priorityclasses").create(
        None, {"metadata": {"name": name}, "value": value, **extra},
        ctx or system_context("tests")))


def pod(name="p", **spec):
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def create(stores, ctx, obj):
    return orjson.loads(stores.store("", "v1", "pods").create("ns1", obj, ctx))


def refused(stores, ctx, obj) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        create(stores, ctx, obj)
    return exc.value.message


def test_named_class(stores, ctx):
    klass(stores, "high", 1000, preemptionPolicy="Never")
    spec = create(stores, ctx, pod(priorityClassName="high"))["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "Never")
    assert refused(stores, ctx, pod(priorityClassName="nope")) == \
        'pods "p" is forbidden: no PriorityClass with name nope was found'


def test_system_classes(stores, ctx):
    ensure_system_priority_classes(SimpleNamespace(stores=stores))
    spec = create(stores, ctx, pod(priorityClassName="system-node-critical"))["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (2000001000, "PreemptLowerPriority")


def test_without_a_default_class(stores, ctx):
    spec = create(stores, ctx, pod())["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec
    assert refused(stores, ctx, pod("q", preemptionPolicy="Never")) == (
        'pods "q" is forbidden: the string value of PreemptionPolicy (Never) must not be '
        'provided in pod spec; priority admission controller computed PreemptLowerPriority '
        'from the given PriorityClass name')


def test_global_default_class(stores, ctx):
    klass(stores, "everyone", 7, globalDefault=True, preemptionPolicy="Never")
    spec = create(stores, ctx, pod())["spec"]
    assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == \
        ("everyone", 7, "Never")
    create(stores, ctx, pod("same", priority=7))                     # agreeing is fine
    assert refused(stores, ctx, pod("q", priority=5)) == (
        'pods "q" is forbidden: the integer value of priority (5) must not be provided in pod '
        'spec; priority admission controller computed 7 from the given PriorityClass name')


def test_only_one_global_default(stores, ctx):
    klass(stores, "first", 1, globalDefault=True)
    classes = stores.store("scheduling.k8s.io", "v1", "priorityclasses")
    with pytest.raises(errors.Forbidden) as exc:
        klass(stores, "second", 2, globalDefault=True)
    assert exc.value.message == (
        'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is '
        'already marked as default. Only one default can exist')
    assert exc.value.details == {"name": "second", "kind": "priorityclasses",
                                 "group": "scheduling.k8s.io"}
    other = klass(stores, "other", 3)
    other["globalDefault"] = True
    with pytest.raises(errors.Forbidden):                             # nor by an update
        classes.update(None, "other", other, ctx)
    first = orjson.loads(classes.get(None, "first"))
    first["description"] = "still the default"
    classes.update(None, "first", first, ctx)                         # the default itself may


def test_updates_keep_priority(stores, ctx):
    klass(stores, "high", 1000)
    made = create(stores, ctx, pod(priorityClassName="high"))
    del made["spec"]["priority"], made["spec"]["preemptionPolicy"]
    made["metadata"]["labels"] = {"x": "y"}
    pods = stores.store("", "v1", "pods")
    updated = orjson.loads(pods.update("ns1", "p", made, ctx)[0])
    assert (updated["spec"]["priority"], updated["spec"]["preemptionPolicy"]) == \
        (1000, "PreemptLowerPriority")


def test_over_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("Priority",))
    client = ASGIClient(app)
    client.post("/api/v1/namespaces", {"metadata": {"name": "web"}})
    r = client.post("/api/v1/namespaces/web/pods", pod(priorityClassName="missing"))
    assert r.status_code == 403
    assert r.json()["message"] == 'pods "p" is forbidden: no PriorityClass with name missing was found'
