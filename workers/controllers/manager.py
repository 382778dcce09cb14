"""``manage.py controller-manager --kubeconfig F``: the controllers of this package in one
process, as kube-controller-manager runs them — one shared informer per kind, each
controller with its own work queue and workers, all talking to the API server over HTTPS
with the manager's identity (``system:kube-controller-manager`` when ``up`` starts it).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import uuid

from apiserver.client import AsyncClient, leaderelection, load_kubeconfig
from apiserver.client.events import EventRecorder

from .cronjob import CronJobController
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpoints import EndpointsController
from .endpointslice import EndpointSliceController
from .endpointslicemirroring import EndpointSliceMirroringController
from .garbagecollector import GarbageCollector
from .horizontalpodautoscaler import HorizontalPodAutoscalerController
from .hpa_util import add_arguments as add_hpa_arguments
from .informers import SharedInformers
from .job import JobController
from .namespace import NamespaceController
from .nodelifecycle import NodeLifecycleController
from .pvbinder import PersistentVolumeBinder
from .replicaset import REPLICA_SETS, REPLICATION_CONTROLLERS, ReplicaSetController
from .resourcequota import ResourceQuotaController
from .resourcequota import add_arguments as add_resourcequota_arguments
from .rootcacertpublisher import RootCACertPublisher, root_ca_bundle
from .statefulset import StatefulSetController
from .ttlafterfinished import TTLAfterFinishedController

log = logging.getLogger("workers.controllers")
SHUTDOWN_GRACE = 5.0        # seconds a stop waits for a clean end (lease released)

# upstream's controller names (--controllers), in the order they start
CONTROLLERS = {
    "deployment": lambda c, i, r, a: DeploymentController(c, i, r),
    "replicaset": lambda c, i, r, a: ReplicaSetController(c, i, r, REPLICA_SETS),
    "replicationcontroller": lambda c, i, r, a: ReplicaSetController(c, i, r,
                                                                      REPLICATION_CONTROLLERS),
    "node-lifecycle": lambda c, i, r, a: NodeLifecycleController(
        c, i, r, grace_period=a.node_monitor_grace_period, monitor_period=a.node_monitor_period),
    "garbagecollector": lambda c, i, r, a: GarbageCollector(c, i, r),
    "namespace": lambda c, i, r, a: NamespaceController(c, i, r),
    "job": lambda c, i, r, a: JobController(c, i, r),
    "cronjob": lambda c, i, r, a: CronJobController(c, i, r),
    "ttl-after-finished": lambda c, i, r, a: TTLAfterFinishedController(c, i, r),
    "daemonset": lambda c, i, r, a: DaemonSetController(c, i, r),
    "statefulset": lambda c, i, r, a: StatefulSetController(c, i, r),
    "disruption": lambda c, i, r, a: DisruptionController(c, i, r),
    "horizontalpodautoscaling": lambda c, i, r, a: HorizontalPodAutoscalerController(
        c, i, r, sync_period=a.horizontal_pod_autoscaler_sync_period,
        downscale_stabilization=a.horizontal_pod_autoscaler_downscale_stabilization,
        tolerance=a.horizontal_pod_autoscaler_tolerance,
        cpu_initialization_period=a.horizontal_pod_autoscaler_cpu_initialization_period,
        initial_readiness_delay=a.horizontal_pod_autoscaler_initial_readiness_delay,
        workers=a.concurrent_horizontal_pod_autoscaler_syncs),
    "endpoint": lambda c, i, r, a: EndpointsController(c, i, r),
    "endpointslice": lambda c, i, r, a: EndpointSliceController(
        c, i, r, max_per_slice=getattr(a, "max_endpoints_per_slice", 100)),
    "endpointslice-mirroring": lambda c, i, r, a: EndpointSliceMirroringController(
        c, i, r, max_per_subset=getattr(a, "mirroring_max_endpoints_per_subset", 1000)),
    "root-ca-certificate-publisher": lambda c, i, r, a: RootCACertPublisher(
        c, i, r, root_ca_bundle(getattr(a, "root_ca_file", None), c.config)),
    "persistentvolume-binder": lambda c, i, r, a: PersistentVolumeBinder(
        c, i, r, resync=getattr(a, "pvclaimbinder_sync_period", 15.0),
        enable_host_path_provisioner=getattr(a, "enable_hostpath_provisioner", False)),
    "resourcequota": lambda c, i, r, a: ResourceQuotaController(
        c, i, r, sync_period=getattr(a, "resource_quota_sync_period", 300.0),
        workers=getattr(a, "concurrent_resource_quota_syncs", 5)),
}
RECORDER_NAMES = {"node-lifecycle": "node-controller",
                  "garbagecollector": "garbage-collector-controller",
                  # upstream's disruption controller records as the manager itself
                  "disruption": "controllermanager",
                  "horizontalpodautoscaling": "horizontal-pod-autoscaler",
                  "persistentvolume-binder": "persistentvolume-controller",
                  "endpointslice": "endpoint-slice-controller",
                  "endpointslice-mirroring": "endpoint-slice-mirroring-controller"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="controller-manager")
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--controllers", default="*",
                   help="comma-separated controller names; * means all (upstream's flag)")
    add_lifecycle_arguments(p)
    return p.parse_args(argv)


def add_lifecycle_arguments(p) -> None:
    """Flags shared with ``manage.py controller-manager`` (upstream's names and defaults)."""
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="seconds without a kubelet heartbeat before its node is Unknown")
    p.add_argument("--node-monitor-period", type=float, default=5.0,
                   help="seconds between node health checks")
    p.add_argument("--leader-elect", action="store_true",
                   help="run only while holding the kube-system/kube-controller-manager Lease")
    p.add_argument("--leader-elect-lease-duration", type=float,
                   default=leaderelection.LEASE_DURATION)
    p.add_argument("--leader-elect-renew-deadline", type=float,
                   default=leaderelection.RENEW_DEADLINE)
    p.add_argument("--leader-elect-retry-period", type=float,
                   default=leaderelection.RETRY_PERIOD)
    p.add_argument("--root-ca-file", default=None,
                   help="the CA bundle published as kube-root-ca.crt in every namespace; "
                        "default: the certificate authority of --kubeconfig")
    p.add_argument("--enable-hostpath-provisioner", action="store_true",
                   help="provision kubernetes.io/host-path claims under /tmp/hostpath_pv "
                        "(single-node testing only, as upstream)")
    p.add_argument("--pvclaimbinder-sync-period", type=float, default=15.0,
                   help="seconds between re-syncs of every claim and volume")
    p.add_argument("--max-endpoints-per-slice", type=int, default=100,
                   help="the most endpoints the endpointslice controller puts in one slice")
    p.add_argument("--mirroring-max-endpoints-per-subset", type=int, default=1000,
                   help="the most addresses of one Endpoints subset mirrored to a slice")
    add_hpa_arguments(p)
    add_resourcequota_arguments(p)


def selected(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if names in ([], ["*"]):
        return list(CONTROLLERS)
    unknown = [n.lstrip("-") for n in names if n.lstrip("-") not in CONTROLLERS and n != "*"]
    if unknown:
        raise SystemExit(f"unknown controllers: {', '.join(unknown)}; known: "
                         f"{', '.join(CONTROLLERS)}")
    on = set(CONTROLLERS) if "*" in names else set()
    for n in names:
        if n.startswith("-"):
            on.discard(n[1:])
        elif n != "*":
            on.add(n)
    return [n for n in CONTROLLERS if n in on]


async def run(args, names: list[str], stop: asyncio.Event) -> int:
    """Run until ``stop``; 1 when leadership was lost (the process must exit, as upstream)."""
    config = load_kubeconfig(args.kubeconfig)
    # upstream's agent, whose first segment is the field manager of its writes
    config.user_agent = "kube-controller-manager/v1.32.0"
    async with AsyncClient(config) as client:
        elector = None
        if args.leader_elect:
            elector = leaderelection.LeaderElector(
                client, f"{socket.gethostname()}_{uuid.uuid4()}", "kube-system",
                "kube-controller-manager", args.leader_elect_lease_duration,
                args.leader_elect_renew_deadline, args.leader_elect_retry_period)
            acquiring = asyncio.ensure_future(elector.acquire())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([acquiring, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not acquiring.done():
                acquiring.cancel()
                return 0
            stopping.cancel()
        informers = SharedInformers(client)
        controllers = [CONTROLLERS[n](client, informers, EventRecorder(
            client, RECORDER_NAMES.get(n, f"{n}-controller")), args) for n in names]
        informers.start()
        await informers.wait_synced()
        for c in controllers:
            c.start()
        log.info("controller-manager: running %s", ", ".join(names))
        waits = [asyncio.ensure_future(stop.wait())]
        if elector is not None:
            waits.append(asyncio.ensure_future(elector.hold()))
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        lost = elector is not None and waits[1] in done
        for c in controllers:
            await c.stop()
        await informers.close()
        if elector is not None and not lost:
            await elector.release()
        return 1 if lost else 0


async def until_stopped(work, stop: asyncio.Event, grace: float = SHUTDOWN_GRACE) -> int:
    """Run ``work``; once ``stop`` is set give it ``grace`` seconds to end cleanly, then
    cancel it.  A stop must end the process even while ``work`` waits on a server that is
    gone (informers that never sync, a lease release that cannot be sent), as upstream's
    context cancellation does."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        try:
            return await asyncio.wait_for(task, grace)
        except asyncio.TimeoutError:
            log.warning("controller-manager: not stopped within %.0f s; exiting", grace)
            return 0
    return task.result()


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = selected(args.controllers)

    async def go():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await until_stopped(run(args, names, stop), stop)
    code = asyncio.run(go())
    if code:
        raise SystemExit(code)
