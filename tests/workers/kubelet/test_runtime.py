"""The simulated runtime, pod IPs, leases and events as objects."""
from __future__ import annotations

import asyncio

import pytest

from workers.kubelet.events import container_path, event_object
from workers.kubelet.ipam import PodIPs
from workers.kubelet.lease import NAMESPACE, lease_object, micro_time
from workers.kubelet.runtime import ImageNeverPull, normalize_image
from workers.kubelet.simulated import SimulatedRuntime, exit_plan


@pytest.mark.parametrize("image, full", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("nginx@sha256:abc", "docker.io/library/nginx@sha256:abc"),
])
def test_normalize_image(image, full):
    assert normalize_image(image) == full


def pod(**annotations):
    return {"metadata": {"uid": "u1", "annotations": annotations}}


def test_exit_plan_from_annotations():
    assert exit_plan(pod()) == (None, 0)
    assert exit_plan(pod(**{"sim.kubelet/exit-after-seconds": "2.5"})) == (2.5, 0)
    assert exit_plan(pod(**{"sim.kubelet/exit-after-seconds": "1",
                            "sim.kubelet/exit-code": "3"})) == (1.0, 3)
    assert exit_plan(pod(**{"sim.kubelet/exit-after-seconds": "soon"})) == (None, 0)


def test_simulated_containers_pull_run_and_exit():
    async def go():
        rt = SimulatedRuntime(pull_delay=0.01, start_delay=0.0)
        first = await rt.pull_image("nginx", "IfNotPresent")
        assert not first.already_present and first.image_ref.startswith(
            "docker.io/library/nginx@sha256:")
        assert rt.has_image("nginx")
        assert (await rt.pull_image("nginx", "IfNotPresent")).already_present
        assert not (await rt.pull_image("nginx", "Always")).already_present
        with pytest.raises(ImageNeverPull):
            await rt.pull_image("absent", "Never")
        quick = await rt.create_container(
            pod(**{"sim.kubelet/exit-after-seconds": "0.05", "sim.kubelet/exit-code": "4"}),
            {"name": "c"}, 0)
        await rt.start_container(quick)
        assert await asyncio.wait_for(rt.wait_container(quick), 2) == 4
        forever = await rt.create_container(pod(), {"name": "c"}, 1)
        waiter = asyncio.ensure_future(rt.wait_container(forever))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        assert await rt.stop_container(forever, 30) == 0
        assert await asyncio.wait_for(waiter, 1) == 0
        init = await rt.create_container(pod(), {"name": "i"}, 0, init=True)
        assert await asyncio.wait_for(rt.wait_container(init), 2) == 0
        assert len({quick, forever, init}) == 3
        await rt.remove_pod("u1")
        assert rt.containers == {}
    asyncio.run(go())


def test_pod_ips_come_from_the_cidr_and_are_reused_after_release():
    ips = PodIPs("10.244.3.0/30")           # .1 is the bridge, .2 the only pod address
    assert ips.allocate("a") == "10.244.3.2"
    assert ips.allocate("a") == "10.244.3.2"
    assert ips.allocate("b") is None
    ips.release("a")
    assert ips.allocate("b") == "10.244.3.2"
    big = PodIPs("10.244.4.0/24")
    assert big.reserve("x", "10.244.4.9") and not big.reserve("y", "10.244.4.9")
    assert not big.reserve("z", "10.1.1.1")
    assert big.allocate("w") == "10.244.4.2"


def test_lease_object():
    lease = lease_object("node-1", 40, "uid-1", "2026-01-01T00:00:00.000000Z")
    assert lease["metadata"] == {"name": "node-1", "namespace": NAMESPACE, "ownerReferences": [
        {"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "uid-1"}]}
    assert lease["spec"] == {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:00.000000Z"}
    assert "ownerReferences" not in lease_object("n", 40, None, "t")["metadata"]
    assert micro_time().endswith("Z") and "." in micro_time()


def test_event_object():
    p = {"metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "7"}}
    e = event_object(p, "node-1", "Normal", "Pulling", 'Pulling image "nginx"',
                     container_path("nginx"), "t", 1)
    assert e["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "name": "web",
                                   "namespace": "ns", "uid": "u", "resourceVersion": "7",
                                   "fieldPath": "spec.containers{nginx}"}
    assert e["source"] == {"component": "kubelet", "host": "node-1"}
    assert (e["reason"], e["type"], e["count"]) == ("Pulling", "Normal", 1)
    assert e["metadata"]["name"].startswith("web.") and e["metadata"]["namespace"] == "ns"
    assert container_path("i", init=True) == "spec.initContainers{i}"
