"""Liveness probing (workers/kubelet/probes.py) through the simulated runtime, and the node's
status.images (node.node_images, from Runtime.list_images)."""
from __future__ import annotations

import asyncio

import pytest

from workers.kubelet import node as nd
from workers.kubelet import probes
from workers.kubelet.config import KubeletConfig
from workers.kubelet.runtime import Image
from workers.kubelet.simulated import (LIVENESS_FAIL_AFTER, SimulatedRuntime, failure_output,
                                       liveness_fail_after)


def pod(**annotations):
    return {"metadata": {"uid": "u1", "annotations": annotations}}


def test_probe_settings_defaults_and_values():
    assert probes.settings({}) == probes.ProbeSettings(0.0, 10.0, 1.0, 1, 3)
    s = probes.settings({"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3,
                         "failureThreshold": 1})
    assert (s.initial_delay, s.period, s.timeout, s.failure_threshold) == (5, 2, 3, 1)
    assert probes.kill_grace({}, {"spec": {}}) == 30
    assert probes.kill_grace({}, {"spec": {"terminationGracePeriodSeconds": 4}}) == 4
    assert probes.kill_grace({"terminationGracePeriodSeconds": 1},
                             {"spec": {"terminationGracePeriodSeconds": 4}}) == 1


def test_liveness_annotation():
    assert liveness_fail_after(pod()) is None
    assert liveness_fail_after(pod(**{LIVENESS_FAIL_AFTER: "2"})) == 2.0
    assert liveness_fail_after(pod(**{LIVENESS_FAIL_AFTER: "-1"})) is None
    assert liveness_fail_after(pod(**{LIVENESS_FAIL_AFTER: "later"})) is None


@pytest.mark.parametrize("probe, output", [
    ({"httpGet": {"path": "/healthz", "port": 8080}}, "HTTP probe failed with statuscode: 500"),
    ({"tcpSocket": {"port": 6379}}, "dial tcp 10.244.0.5:6379: connect: connection refused"),
    ({"grpc": {"port": 9000}}, 'service unhealthy (responded with "NOT_SERVING")'),
    ({"exec": {"command": ["true"]}}, f"simulated failure ({LIVENESS_FAIL_AFTER})"),
])
def test_failure_outputs_follow_the_handler(probe, output):
    assert failure_output(probe, "10.244.0.5") == output


def test_simulated_liveness_fails_only_after_the_annotated_delay():
    async def go():
        rt = SimulatedRuntime(pull_delay=0, start_delay=0)
        probe = {"httpGet": {"port": 80}}
        cid = await rt.create_container(pod(**{LIVENESS_FAIL_AFTER: "0.2"}), {"name": "c"}, 0)
        await rt.start_container(cid)
        assert (await rt.probe(cid, "liveness", probe, "10.0.0.1")).success
        await asyncio.sleep(0.25)
        result = await rt.probe(cid, "liveness", probe, "10.0.0.1")
        assert not result.success and "statuscode: 500" in result.output
        assert (await rt.probe(cid, "readiness", probe, "10.0.0.1")).success
        healthy = await rt.create_container(pod(), {"name": "c"}, 1)
        await rt.start_container(healthy)
        assert (await rt.probe(healthy, "liveness", probe, None)).success
        init = await rt.create_container(pod(**{LIVENESS_FAIL_AFTER: "0"}), {"name": "i"}, 0,
                                         init=True)
        await rt.start_container(init)
        assert (await rt.probe(init, "liveness", probe, None)).success
    asyncio.run(go())


def test_watch_liveness_reports_each_failure_and_returns_at_the_threshold():
    async def go():
        rt = SimulatedRuntime(pull_delay=0, start_delay=0)
        cid = await rt.create_container(pod(**{LIVENESS_FAIL_AFTER: "0"}), {"name": "c"}, 0)
        await rt.start_container(cid)
        seen = []
        out = await asyncio.wait_for(probes.watch_liveness(
            rt, cid, {"tcpSocket": {"port": 80}, "failureThreshold": 1}, delay=0.05,
            host=lambda: "10.1.1.1", alive=lambda: True, on_failure=seen.append), 3)
        assert out == "dial tcp 10.1.1.1:80: connect: connection refused" and seen == [out]
        # an attempt that ended is not probed any more
        seen.clear()
        assert await asyncio.wait_for(probes.watch_liveness(
            rt, cid, {"tcpSocket": {"port": 80}}, delay=0, host=lambda: None,
            alive=lambda: False, on_failure=seen.append), 3) is None
        assert seen == []
    asyncio.run(go())


def test_watch_liveness_waits_for_failure_threshold_probes_one_period_apart():
    async def go():
        rt = SimulatedRuntime(pull_delay=0, start_delay=0)
        cid = await rt.create_container(pod(**{LIVENESS_FAIL_AFTER: "0"}), {"name": "c"}, 0)
        await rt.start_container(cid)
        seen, loop = [], asyncio.get_running_loop()
        began = loop.time()
        out = await asyncio.wait_for(probes.watch_liveness(
            rt, cid, {"exec": {"command": ["x"]}, "periodSeconds": 1, "failureThreshold": 2},
            delay=0, host=lambda: None, alive=lambda: True, on_failure=seen.append), 5)
        assert seen == [out, out] and 1.0 <= loop.time() - began < 2.0
    asyncio.run(go())


def test_runtime_lists_pulled_images_with_their_sizes():
    async def go():
        rt = SimulatedRuntime(pull_delay=0, start_delay=0)
        assert await rt.list_images() == []
        a = await rt.pull_image("nginx", "IfNotPresent")
        await rt.pull_image("nginx", "IfNotPresent")           # present: listed once
        b = await rt.pull_image("registry.k8s.io/pause:3.10", "IfNotPresent")
        images = {i.repo_tags[0]: i for i in await rt.list_images()}
        assert set(images) == {"docker.io/library/nginx:latest", "registry.k8s.io/pause:3.10"}
        nginx = images["docker.io/library/nginx:latest"]
        assert nginx.repo_digests == (a.image_ref,) and nginx.size == a.size
        assert nginx.id == a.image_ref.rsplit("@", 1)[1]
        assert images["registry.k8s.io/pause:3.10"].size == b.size
    asyncio.run(go())


def test_node_images_are_largest_first_limited_and_named_digest_then_tag():
    images = [Image("sha256:a", ("r/a:1",), ("r/a@sha256:a",), 10),
              Image("sha256:b", ("r/b:1", "r/b:2"), ("r/b@sha256:b",), 30),
              Image("sha256:c", (), ("r/c@sha256:c",), 10),
              Image("sha256:d", tuple(f"r/d:{i}" for i in range(6)), (), 5)]
    out = nd.node_images(images)
    assert out[0] == {"names": ["r/b@sha256:b", "r/b:1", "r/b:2"], "sizeBytes": 30}
    assert [o["names"][0] for o in out[1:3]] == ["r/c@sha256:c", "r/a@sha256:a"]  # ties: id desc
    assert out[3]["names"] == [f"r/d:{i}" for i in range(5)]                        # at most 5
    assert len(nd.node_images(images, limit=2)) == 2
    assert len(nd.node_images([Image(f"sha256:{i}", (f"i:{i}",), (), i)
                               for i in range(60)])) == nd.NODE_STATUS_MAX_IMAGES


def test_node_status_carries_images_and_a_new_image_is_a_change():
    cfg = KubeletConfig("node-1", "k")
    before = nd.node_status(cfg, None, "boot", "t1")
    assert "images" not in before
    images = nd.node_images([Image("sha256:a", ("r/a:1",), ("r/a@sha256:a",), 10)])
    after = nd.node_status(cfg, before, "boot", "t2", images)
    assert after["images"] == images
    assert nd.status_changed(before, after)
    assert not nd.status_changed(after, nd.node_status(cfg, after, "boot", "t3", images))
