"""Flags and ``main`` of the scheduler process (upstream cmd/kube-scheduler/app/server.go).

``main(argv)`` returns the exit code: 0 after SIGTERM/SIGINT (the lease released), 1 when
leadership was lost (upstream exits: another instance has taken over and this one must not
bind any more), 2 for bad flags or an unusable kubeconfig.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import socket
import sys
import uuid

from apiserver.client import AsyncClient, ConfigError, load_kubeconfig

from apiserver.client import leaderelection
from workers.scheduler.queue import SchedulingQueue
from workers.scheduler.scheduler import DEFAULT_SCHEDULER_NAME, Scheduler

log = logging.getLogger("workers.scheduler")


def duration(text: str) -> float:
    """A Go-style duration (``15s``, ``500ms``, ``1m``) or plain seconds."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)?\s*", str(text))
    if not m:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the scheduler's identity")
    parser.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER_NAME,
                        help="schedule pods whose spec.schedulerName is this")
    parser.add_argument("--leader-elect", action="store_true",
                        help="hold the Lease kube-system/kube-scheduler before scheduling")
    parser.add_argument("--leader-elect-lease-duration", type=duration,
                        default=leaderelection.LEASE_DURATION)
    parser.add_argument("--leader-elect-renew-deadline", type=duration,
                        default=leaderelection.RENEW_DEADLINE)
    parser.add_argument("--leader-elect-retry-period", type=duration,
                        default=leaderelection.RETRY_PERIOD)
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system")
    parser.add_argument("--leader-elect-resource-name", default="kube-scheduler")
    parser.add_argument("--pod-initial-backoff", type=duration, default=1.0)
    parser.add_argument("--pod-max-backoff", type=duration, default=10.0)
    parser.add_argument("--identity", default=None,
                        help="leader-election identity (default: hostname_<uuid>)")
    parser.add_argument("--watch-transport", choices=("websocket", "http"), default="websocket")


def setup_logging(verbosity: int = 1) -> None:
    logging.basicConfig(level=logging.DEBUG if verbosity > 1 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


async def run(args) -> int:
    cfg = load_kubeconfig(args.kubeconfig)
    cfg.user_agent = f"kube-scheduler/{args.scheduler_name}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    async with AsyncClient(cfg) as client:
        queue = SchedulingQueue(args.pod_initial_backoff, args.pod_max_backoff)
        sched = Scheduler(client, name=args.scheduler_name, queue=queue,
                          transport=args.watch_transport)
        sched.start_informers()       # caches warm while we wait for the lease
        elector = None
        stopper = asyncio.ensure_future(stop.wait())
        if args.leader_elect:
            identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
            elector = leaderelection.LeaderElector(
                client, identity, args.leader_elect_resource_namespace,
                args.leader_elect_resource_name, args.leader_elect_lease_duration,
                args.leader_elect_renew_deadline, args.leader_elect_retry_period)
            acquiring = asyncio.ensure_future(elector.acquire())
            await asyncio.wait([acquiring, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not acquiring.done():
                acquiring.cancel()
                await _bounded_stop(sched)
                return 0
        loop_task = sched.start()
        waits = [stopper, loop_task]
        holding = asyncio.ensure_future(elector.hold()) if elector else None
        if holding:
            waits.append(holding)
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        lost = holding is not None and holding.done()
        if holding and not holding.done():
            holding.cancel()
        await _bounded_stop(sched)
        if loop_task.done() and not loop_task.cancelled() and loop_task.exception():
            log.error("scheduling loop died: %r", loop_task.exception())
            return 1
        if lost:
            return 1
        if elector:
            await elector.release()
        log.info("scheduler %s stopped (%d pods bound)", args.scheduler_name, sched.bound)
        return 0


STOP_GRACE = 5.0


async def _bounded_stop(sched) -> None:
    """Stop within ``STOP_GRACE`` seconds even when the server is overloaded or gone (events
    still being retried, connections that do not close): a scheduler that lost its lease
    must exit so a fresh one can take over, as upstream's does at once."""
    try:
        await asyncio.wait_for(sched.stop(), STOP_GRACE)
    except asyncio.TimeoutError:
        log.warning("scheduler: not stopped cleanly within %.0f s; exiting", STOP_GRACE)


def main(argv: list[str] | None = None, verbosity: int = 1) -> int:
    parser = argparse.ArgumentParser(prog="scheduler", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(verbosity)
    if not os.path.exists(args.kubeconfig):
        log.error("kubeconfig %s does not exist", args.kubeconfig)
        return 2
    try:
        return asyncio.run(run(args))
    except ConfigError as exc:
        log.error("kubeconfig %s: %s", args.kubeconfig, exc)
        return 2
