"""ImageLocality (plugins/imagelocality/image_locality.go) and the node images the cache keeps."""
from __future__ import annotations

import random

from workers.scheduler import framework, scores
from workers.scheduler.framework import CycleState
from workers.scheduler.nodeinfo import image_node_counts, node_images
from workers.scheduler.scheduler import Scheduler

from .helpers import infos, node, pod

MB = 1024 * 1024


def with_images(n, *images):
    n["status"]["images"] = [{"names": names, "sizeBytes": size} for names, size in images]
    return n


def image_pod(*images, init=()):
    p = pod("p")
    p["spec"]["containers"] = [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]
    if init:
        p["spec"]["initContainers"] = [{"name": f"i{i}", "image": im}
                                       for i, im in enumerate(init)]
    return p


def locality(p, nodes):
    inf = infos(nodes)
    state = CycleState(p, inf)
    state.prescore(p, inf)
    return {name: scores.image_locality(p, info, state) for name, info in inf.items()}


BIG = (["registry.k8s.io/big@sha256:1", "registry.k8s.io/big:1"], 500 * MB)


def test_score_is_the_size_scaled_by_spread_between_the_thresholds():
    nodes = [with_images(node("n1"), BIG), with_images(node("n2"), BIG), node("n3")]
    s = locality(image_pod("registry.k8s.io/big:1"), nodes)
    # int(500 MB × 2/3) clamped to [23 MB, 1000 MB], scaled to 0..100
    expect = 100 * (int(500 * MB * 2 / 3) - 23 * MB) // (1000 * MB - 23 * MB)
    assert s == {"n1": expect, "n2": expect, "n3": 0} and expect == 31
    # the same image on a single node of three is worth less there (spread 1/3)
    s = locality(image_pod("registry.k8s.io/big:1"),
                 [with_images(node("n1"), BIG), node("n2"), node("n3")])
    assert s["n1"] == 100 * (int(500 * MB / 3) - 23 * MB) // (1000 * MB - 23 * MB)


def test_small_images_score_zero_and_the_ceiling_grows_with_containers():
    small = (["docker.io/library/tiny:1"], 10 * MB)
    assert locality(image_pod("docker.io/library/tiny:1"),
                    [with_images(node("n1"), small)]) == {"n1": 0}
    huge = (["registry.k8s.io/huge:1"], 3000 * MB)
    one = locality(image_pod("registry.k8s.io/huge:1"), [with_images(node("n1"), huge)])
    assert one == {"n1": 100}
    # two containers (one an init container): the ceiling is 2 × 1000 MB
    two = locality(image_pod("registry.k8s.io/huge:1", init=["registry.k8s.io/other:1"]),
                   [with_images(node("n1"), huge)])
    assert two == {"n1": 100 * (2000 * MB - 23 * MB) // (2000 * MB - 23 * MB)}
    half = locality(image_pod("x:1", init=["registry.k8s.io/big:1"]),
                    [with_images(node("n1"), BIG)])
    assert half == {"n1": 100 * (500 * MB - 23 * MB) // (2000 * MB - 23 * MB)}


def test_image_names_are_normalized_only_by_the_tag():
    assert scores.normalized_image_name("nginx") == "nginx:latest"
    assert scores.normalized_image_name("localhost:5000/app") == "localhost:5000/app:latest"
    assert scores.normalized_image_name("nginx:1.27") == "nginx:1.27"
    full = (["docker.io/library/nginx:latest"], 200 * MB)
    short = (["nginx:latest"], 200 * MB)
    # as upstream: the pod's "nginx" does not match the registry-qualified name
    assert locality(image_pod("nginx"), [with_images(node("n1"), full)]) == {"n1": 0}
    assert locality(image_pod("nginx"), [with_images(node("n1"), short)])["n1"] > 0
    assert locality(image_pod("docker.io/library/nginx"),
                    [with_images(node("n1"), full)])["n1"] > 0


def test_schedule_prefers_the_node_holding_the_image():
    nodes = [node("n1"), with_images(node("n2"), BIG), node("n3")]
    picks = {framework.schedule(image_pod("registry.k8s.io/big:1"), infos(nodes),
                                random.Random(seed)) for seed in range(20)}
    assert picks == {"n2"}


def test_node_images_and_counts():
    n = with_images(node("n1"), BIG, (["a:1", "a:latest"], 7))
    assert node_images(n) == {"registry.k8s.io/big@sha256:1": 500 * MB,
                              "registry.k8s.io/big:1": 500 * MB, "a:1": 7, "a:latest": 7}
    inf = infos([n, with_images(node("n2"), BIG), node("n3")])
    assert image_node_counts(inf, ["registry.k8s.io/big:1", "a:1", "b:1"]) == {
        "registry.k8s.io/big:1": 2, "a:1": 1, "b:1": 0}


def test_the_cache_refreshes_images_on_a_heartbeat_without_moving_pods():
    s = Scheduler(None)
    n = node("n1")
    s.on_node("ADDED", n, None)
    park(s, pod("parked"))
    s.on_node("MODIFIED", with_images(node("n1"), BIG), n)
    assert s.nodes["n1"].images["registry.k8s.io/big:1"] == 500 * MB
    assert s.queue.where["default/parked"] == "unschedulable"


def park(s, p):
    """Queue ``p`` and fail one attempt: it waits in ``unschedulable``."""
    s.queue.add(p)
    s.queue.done_unschedulable(s.queue.try_pop())
    assert s.queue.where[f"default/{p['metadata']['name']}"] == "unschedulable"
