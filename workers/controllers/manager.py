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

from apiserver.client import AsyncClient, load_kubeconfig
from apiserver.client.events import EventRecorder

from .deployment import DeploymentController
from .informers import SharedInformers
from .replicaset import REPLICA_SETS, REPLICATION_CONTROLLERS, ReplicaSetController

log = logging.getLogger("workers.controllers")

# upstream's controller names (--controllers), in the order they start
CONTROLLERS = {
    "deployment": lambda c, i, r: DeploymentController(c, i, r),
    "replicaset": lambda c, i, r: ReplicaSetController(c, i, r, REPLICA_SETS),
    "replicationcontroller": lambda c, i, r: ReplicaSetController(c, i, r,
                                                                   REPLICATION_CONTROLLERS),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="controller-manager")
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--controllers", default="*",
                   help="comma-separated controller names; * means all (upstream's flag)")
    return p.parse_args(argv)


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


async def run(kubeconfig: str, names: list[str], stop: asyncio.Event) -> None:
    async with AsyncClient(load_kubeconfig(kubeconfig)) as client:
        informers = SharedInformers(client)
        recorder_for = {n: EventRecorder(client, f"{n}-controller") for n in names}
        controllers = [CONTROLLERS[n](client, informers, recorder_for[n]) for n in names]
        informers.start()
        await informers.wait_synced()
        for c in controllers:
            c.start()
        log.info("controller-manager: running %s", ", ".join(names))
        await stop.wait()
        for c in controllers:
            await c.stop()
        await informers.close()


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = selected(args.controllers)

    async def go():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(args.kubeconfig, names, stop)
    asyncio.run(go())
