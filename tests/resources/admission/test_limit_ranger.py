"""LimitRanger: container defaults and the annotation, min/max/ratio for Container, Pod and
PersistentVolumeClaim limits, with upstream's messages and quantity comparisons."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.admission.limit_ranger import pod_totals, ratio_constraint
from apiserver.runtime.quantity import parse_quantity
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("LimitRanger",))[0].stores


def limits(stores, *items, name="lr", namespace="ns1"):
    stores.store("", "v1", "limitranges").create(
        namespace, {"metadata": {"name": name}, "spec": {"limits": list(items)}},
        system_context("tests"))


def container(name="c", requests=None, limits=None):
    c = {"name": name, "image": "busybox"}
    if requests or limits:
        c["resources"] = {k: v for k, v in (("limits", limits), ("requests", requests)) if v}
    return c


def pod(*containers, name="p", init=()):
    spec = {"containers": list(containers) or [container()]}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": name}, "spec": spec}


def create(stores, ctx, obj, resource="pods"):
    return orjson.loads(stores.store("", "v1", resource).create("ns1", obj, ctx))


def refused(stores, ctx, obj, resource="pods") -> str:
    with pytest.raises(errors.Forbidden) as exc:
        create(stores, ctx, obj, resource)
    return exc.value.message


def test_container_defaults_and_annotation(stores, ctx):
    limits(stores, {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                    "defaultRequest": {"cpu": "100m"}})
    made = create(stores, ctx, pod(container("c"), container("d", requests={"cpu": "200m"}),
                                   init=[container("i", limits={"cpu": "1"})]))
    c, d = made["spec"]["containers"]
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                              "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert d["resources"]["requests"] == {"cpu": "200m", "memory": "256Mi"}
    assert made["spec"]["initContainers"][0]["resources"] == {
        "limits": {"cpu": "1", "memory": "256Mi"}, "requests": {"cpu": "1", "memory": "256Mi"}}
    assert made["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for "
        "container c; memory request for container d; cpu, memory limit for container d; "
        "memory request for init container i; memory limit for init container i")


def test_nothing_to_default_means_no_annotation(stores, ctx):
    made = create(stores, ctx, pod())
    assert "annotations" not in made["metadata"]
    assert not made["spec"]["containers"][0].get("resources")
    limits(stores, {"type": "Container", "default": {"cpu": "1"}})
    made = create(stores, ctx, pod(container(limits={"cpu": "2"}), name="q"))
    assert "annotations" not in made["metadata"]


def test_container_max_min_and_ratio(stores, ctx):
    limits(stores, {"type": "Container", "max": {"cpu": "500m"}, "min": {"memory": "100Mi"},
                    "maxLimitRequestRatio": {"cpu": "2"}})
    assert refused(stores, ctx, pod(container(limits={"cpu": "1", "memory": "1Gi"}))) == \
        'pods "p" is forbidden: maximum cpu usage per Container is 500m, but limit is 1'
    assert refused(stores, ctx, pod(container(limits={"cpu": "400m", "memory": "50Mi"}))) == \
        'pods "p" is forbidden: minimum memory usage per Container is 100Mi, but request is 50Mi'
    assert refused(stores, ctx, pod(container(requests={"cpu": "100m", "memory": "1Gi"},
                                              limits={"cpu": "300m", "memory": "1Gi"}))) == (
        'pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided '
        'ratio is 3.000000')
    create(stores, ctx, pod(container(limits={"cpu": "0.5", "memory": "100Mi"})))  # equal is fine


def test_aggregate_of_one_range(stores, ctx):
    limits(stores, {"type": "Container", "max": {"cpu": "500m"}, "min": {"memory": "100Mi"}})
    message = refused(stores, ctx, pod(container(limits={"cpu": "1", "memory": "50Mi"})))
    assert message == ('pods "p" is forbidden: [minimum memory usage per Container is 100Mi, '
                       'but request is 50Mi, maximum cpu usage per Container is 500m, but limit '
                       'is 1]')


def test_missing_values(stores, ctx):
    limits(stores, {"type": "Pod", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}})
    assert refused(stores, ctx, pod(container(limits={"memory": "1Gi"}))) == \
        'pods "p" is forbidden: maximum cpu usage per Pod is 2.  No limit is specified'
    assert refused(stores, ctx, pod(container(limits={"cpu": "1"}))) == \
        'pods "p" is forbidden: minimum memory usage per Pod is 1Mi.  No request is specified'


def test_pod_totals(stores, ctx):
    limits(stores, {"type": "Pod", "max": {"cpu": "1"}})
    assert refused(stores, ctx, pod(container("a", limits={"cpu": "600m"}),
                                    container("b", limits={"cpu": "600m"}))) == \
        'pods "p" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m'
    # an init container counts by itself: the larger of it and the containers' sum
    create(stores, ctx, pod(container("a", limits={"cpu": "400m"}),
                            init=[container("i", limits={"cpu": "1"})]))


def test_sidecar_totals():
    def c(cpu, **extra):
        return {"name": "x", "resources": {"requests": {"cpu": cpu}}, **extra}
    spec = {"containers": [c("100m")],
            "initContainers": [c("200m", restartPolicy="Always"), c("500m")]}
    # the sidecar adds to the containers (300m); the plain init container runs beside it (700m)
    assert str(pod_totals(spec, 0)["cpu"]) == "700m"
    assert pod_totals(spec, 1) == {}


def test_ratio_precision():
    q = parse_quantity
    assert ratio_constraint("Container", "cpu", q("1.5"), {"cpu": q("1")}, {"cpu": q("1500m")}) == ""
    assert ratio_constraint("Container", "cpu", q("1"), {"cpu": q("0")}, {"cpu": q("1")}) == (
        "cpu max limit to request ratio per Container is 1, but no request is specified or "
        "request is 0")
    assert ratio_constraint("Container", "cpu", q("1"), {"cpu": q("1")}, {}) == (
        "cpu max limit to request ratio per Container is 1, but no limit is specified or "
        "limit is 0")


def test_quantities_compare_by_value(stores, ctx):
    limits(stores, {"type": "Container", "max": {"memory": "1Gi"}})
    create(stores, ctx, pod(container(limits={"memory": "1073741824"})))
    assert refused(stores, ctx, pod(container(limits={"memory": "1073741825"}), name="q")) == \
        'pods "q" is forbidden: maximum memory usage per Container is 1Gi, but limit is 1073741825'


def claim(size, name="c"):
    return {"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                 "resources": {"requests": {"storage": size}}}}


def test_claims(stores, ctx):
    limits(stores, {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                    "max": {"storage": "10Gi"}})
    assert refused(stores, ctx, claim("20Gi"), "persistentvolumeclaims") == (
        'persistentvolumeclaims "c" is forbidden: maximum storage usage per '
        'PersistentVolumeClaim is 10Gi, but request is 20Gi')
    assert refused(stores, ctx, claim("500Mi"), "persistentvolumeclaims") == (
        'persistentvolumeclaims "c" is forbidden: minimum storage usage per '
        'PersistentVolumeClaim is 1Gi, but request is 500Mi')
    claims = stores.store("", "v1", "persistentvolumeclaims")
    made = create(stores, ctx, claim("5Gi"), "persistentvolumeclaims")
    made["status"] = {"phase": "Bound"}
    made = orjson.loads(claims.update("ns1", "c", made, ctx.for_subresource("status"))[0])
    made["spec"]["resources"]["requests"]["storage"] = "11Gi"
    with pytest.raises(errors.Forbidden) as exc:       # updates are checked too
        claims.update("ns1", "c", made, ctx)
    assert "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 11Gi" in \
        exc.value.message


def test_pod_updates_and_other_namespaces_are_left_alone(stores, ctx):
    made = create(stores, ctx, pod())
    limits(stores, {"type": "Container", "max": {"cpu": "1"}})
    made["metadata"]["labels"] = {"a": "b"}
    stores.store("", "v1", "pods").update("ns1", "p", made, ctx)        # no limit: not judged
    pods = stores.store("", "v1", "pods")
    pods.create("ns2", pod(container(limits={"cpu": "5"})), ctx)         # no range there


def test_over_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("LimitRanger",))
    client = ASGIClient(app)
    client.post("/api/v1/namespaces", {"metadata": {"name": "web"}})
    r = client.post("/api/v1/namespaces/web/limitranges", {
        "metadata": {"name": "lr"}, "spec": {"limits": [{"type": "Container",
                                                         "max": {"cpu": "500m"}}]}})
    assert r.status_code == 201, r.content
    r = client.post("/api/v1/namespaces/web/pods", pod())
    assert r.status_code == 201
    assert r.json()["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}   # default ← max, request ← default
    r = client.post("/api/v1/namespaces/web/pods", pod(container(limits={"cpu": "2"}), name="q"))
    assert r.status_code == 403
    assert r.json()["message"] == \
        'pods "q" is forbidden: maximum cpu usage per Container is 500m, but limit is 2'
