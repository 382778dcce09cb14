"""One kubelet: the composition of node status, lease, pod watch and pod workers.

``Kubelet(cfg).run(stop)``:

1. builds its ``AsyncClient`` from ``cfg.kubeconfig`` (the node's identity,
   system:node:NAME) and its runtime;
2. serves its API over HTTPS (``server.py``: healthz, pods, stats and resource metrics) on
   ``cfg.port`` (0: a free one), which the Node's ``daemonEndpoints`` report;
3. registers the Node, retrying with back-off until the server answers (a refusal such as a
   Forbidden label is logged with the server's message and retried too, as upstream);
4. runs the Lease renewer, the node status loop and an ``Informer`` on pods with
   ``fieldSelector=spec.nodeName=NAME`` over the websocket watch (the only pods the Node
   authorizer lets it list), handing each pod to its ``PodWorker`` (keyed by uid);
5. on ``stop``: ends its tasks and closes its connections; pods keep running as far as the
   API is concerned (a restarted kubelet adopts them), as upstream's kubelet does.

``run_kubelets(configs)`` runs several in one process on one event loop (kwok's model) until
SIGTERM/SIGINT.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import signal

from apiserver.client import ApiError, AsyncClient, Informer, load_kubeconfig
from workers.serving.delegated import DelegatedAuthenticator, DelegatedAuthorizer
from workers.serving.https import HttpsServer

from .config import KubeletConfig
from .events import EventRecorder
from .ipam import PodIPs
from .lease import LeaseController
from .node import NodeStatusManager, now_rfc3339
from .pods import PodWorker
from .runtime import Runtime
from .server import KubeletServer
from .simulated import SimulatedRuntime
from .usage import Stats

log = logging.getLogger("workers.kubelet")

REGISTER_BACKOFF = (0.2, 7.0)


def make_runtime(cfg: KubeletConfig, host=None) -> Runtime:
    """The configured runtime; ``host`` (the kubelet) gives the process runtime its API
    client once it exists."""
    if cfg.runtime == "simulated":
        return SimulatedRuntime(cfg.pull_delay, cfg.start_delay)
    if cfg.runtime == "process":
        from .process import ProcessRuntime
        rt = ProcessRuntime(cfg.root_dir, host=host, sandbox=cfg.process_sandbox,
                            volume_sync=cfg.sync_frequency,
                            allocatable={"cpu": cfg.cpu, "memory": cfg.memory,
                                         "ephemeral-storage": cfg.ephemeral_storage})
        log.info("kubelet %s: process runtime in %s, sandbox: %s", cfg.node_name,
                 cfg.root_dir, rt.sandbox_name)
        return rt
    raise ValueError(f"unknown runtime {cfg.runtime!r}")


class Kubelet:
    """See the module docstring.  Attributes used by ``PodWorker`` (its ``host``):
    ``client``, ``runtime``, ``events``, ``node_name``, ``node_ip``, ``ips``, ``now``."""

    def __init__(self, cfg: KubeletConfig, client: AsyncClient | None = None,
                 runtime: Runtime | None = None):
        self.cfg = cfg
        self.client = client
        self.runtime = runtime or make_runtime(cfg, self)
        self.node_name, self.node_ip = cfg.node_name, cfg.node_ip
        self.now = now_rfc3339
        self.workers: dict[str, PodWorker] = {}
        self.events: EventRecorder | None = None
        self.ips: PodIPs | None = None
        self.node: NodeStatusManager | None = None
        self.lease: LeaseController | None = None
        self.informer: Informer | None = None
        self.server: HttpsServer | None = None
        self.stats = Stats()
        self.registered = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        own_client = self.client is None
        if own_client:
            config = load_kubeconfig(self.cfg.kubeconfig)
            config.user_agent = "kubelet/v1.32.0"     # the field manager of its writes
            self.client = AsyncClient(config)
        self.events = EventRecorder(self.client, self.node_name, self.now)
        tasks: list[asyncio.Task] = []
        try:
            await self._serve()
            self.node = NodeStatusManager(self.client, self.cfg, self.runtime)
            if not await self._register(stop):
                return
            self.ips = PodIPs(self.node.pod_cidr)
            self.lease = LeaseController(self.client, self.node_name, self.cfg.lease_duration,
                                         self.cfg.renew_interval, lambda: self.node.uid)
            self.informer = Informer(
                self.client, "/api/v1/pods", {"fieldSelector": f"spec.nodeName={self.node_name}"},
                self._on_pod, transport=self.cfg.watch_transport, name=f"pods@{self.node_name}")
            tasks = [asyncio.create_task(self.lease.run(), name=f"lease {self.node_name}"),
                     asyncio.create_task(self.node.run(), name=f"status {self.node_name}"),
                     self.informer.start()]
            log.info("kubelet %s running (podCIDR %s)", self.node_name, self.node.pod_cidr)
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for w in list(self.workers.values()):
                if w.task:
                    w.task.cancel()
            pending = tasks + [w.task for w in self.workers.values() if w.task]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            if self.events:
                await self.events.flush(1.0)
            if self.server is not None:
                await self.server.stop()
            if own_client:
                await self.client.close()

    async def _serve(self) -> None:
        """Start the kubelet API (``server.py``) and note the port it bound in ``cfg``, which
        the Node's ``daemonEndpoints`` report."""
        cfg = self.cfg
        cert, key = cfg.tls_cert_file, cfg.tls_private_key_file
        if not cert:
            from workers.serving.selfsigned import self_signed    # cryptography: only here
            cert, key = self_signed(cfg.node_name, [cfg.node_ip])
        # upstream KubeletConfiguration defaults (pkg/kubelet/apis/config/v1beta1/
        # defaults.go): tokens cached 2 min, allowed reviews 5 min, denied 30 s — so the
        # metrics server's scrape every 15 s asks the API server once per 5 minutes
        authn = DelegatedAuthenticator(self.client, cfg.client_ca_file, token_ttl=120.0)
        # the kubelet asks about every request, /healthz and system:masters included
        # (its webhook authorizer has no always-allow lists)
        authz = DelegatedAuthorizer(self.client, always_allow_paths=(), always_allow_groups=(),
                                    allow_ttl=300.0, deny_ttl=30.0)
        app = KubeletServer(self, authn, authz)
        self.server = HttpsServer(app, cfg.address or cfg.node_ip, cfg.port, cert, key,
                                  [cfg.client_ca_file], name=f"kubelet {cfg.node_name}")
        await self.server.start()
        self.cfg = dataclasses.replace(cfg, port=self.server.port)
        log.info("kubelet %s: API on %s:%d", cfg.node_name, cfg.address or cfg.node_ip,
                 self.server.port)

    async def _register(self, stop: asyncio.Event) -> bool:
        delay, ceiling = REGISTER_BACKOFF
        while not stop.is_set():
            try:
                await self.node.register()
                self.registered.set()
                return True
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                log.warning("node %s: unable to register: %s", self.node_name, exc)
            except (OSError, asyncio.TimeoutError) as exc:
                log.info("node %s: API server not reachable (%s); retrying", self.node_name,
                         type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), delay * random.uniform(0.8, 1.2))
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, ceiling)
        return False

    async def _on_pod(self, kind: str, pod: dict, old: dict | None) -> None:
        uid = (pod.get("metadata") or {}).get("uid")
        if not uid:
            return
        worker = self.workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                del self.workers[uid]
                await worker.forget()
            return
        if worker is None:
            worker = self.workers[uid] = PodWorker(self, pod)
            worker.start()
        else:
            worker.update(pod)


async def run_kubelets(configs: list[KubeletConfig], stop: asyncio.Event | None = None) -> None:
    """Run every kubelet until ``stop`` (default: SIGTERM or SIGINT)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    kubelets = [Kubelet(cfg) for cfg in configs]
    results = await asyncio.gather(*(k.run(stop) for k in kubelets), return_exceptions=True)
    for k, r in zip(kubelets, results):
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
            log.error("kubelet %s failed: %s: %s", k.node_name, type(r).__name__, r)


def main(argv=None) -> int:
    """``python -m workers.kubelet``: the same flags as ``manage.py kubelet``, no Django."""
    import argparse

    from .config import add_arguments, configs_from

    parser = argparse.ArgumentParser(prog="kubelet", description="a simulated kubelet, or "
                                     "one running containers as local processes")
    add_arguments(parser)
    parser.add_argument("-v", "--verbosity", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        configs = configs_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    setup_logging(args.verbosity)
    asyncio.run(run_kubelets(configs))
    return 0


def setup_logging(verbosity: int = 1) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
