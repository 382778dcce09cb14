"""``manage.py up --data-dir DIR [--nodes N]``: the all-in-one start, like ``k3s server``.

Migrates, creates the PKI, reconciles bootstrap objects, writes DIR/admin.kubeconfig
(cluster-admin by client certificate) and serves HTTPS until SIGTERM/SIGINT, authorizing
with Node,RBAC unless ``--authorization-mode`` says otherwise.

It also runs the controller manager (``manage.py controller-manager --kubeconfig
DIR/controller-manager.kubeconfig --leader-elect``, CN=system:kube-controller-manager), as
k3s always runs kube-controller-manager: without its garbage collector a Foreground delete
would never finish.  With ``--nodes N`` it runs the other workers too, all as supervised
child processes once the server listens: N simulated kubelets named node-1 … node-N
(``python -m workers.kubelet``, up to ``--kubelets-per-process`` of them sharing one
process, as kwok does; each with its own client certificate CN=system:node:NAME
O=system:nodes, DIR/kubelets/NAME.kubeconfig and the podCIDR 10.244.<i>.0/24), and
``manage.py scheduler --kubeconfig DIR/scheduler.kubeconfig --leader-elect``
(CN=system:kube-scheduler), and the metrics server (``metrics_addon``: ``kubectl top``).
A child that dies is started again (1 s back-off doubling to
30 s); SIGTERM/SIGINT stop the children first, then the server.  Their logs go to
DIR/logs/.  ``--no-workers`` starts none.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.core.management.base import CommandError

from apiserver.management.commands.apiserver import Command as ApiserverCommand
from apiserver.management.commands.apiserver import start, with_data_dir_defaults
from apiserver.management import metrics_addon
from apiserver.pki import PKI
from apiserver.server import lifecycle

REPO_ROOT = Path(__file__).resolve().parents[3]
RESTART_BACKOFF = (1.0, 30.0)
STOP_TIMEOUT = 5.0
MAX_NODES = 256                     # one /24 of 10.244.0.0/16 each


class Child:
    """One supervised worker process."""

    def __init__(self, name: str, argv: list[str], log_path: Path):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.restarts = 0
        self.delay = RESTART_BACKOFF[0]
        self.next_start = 0.0


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervising thread's process dies
    (Linux PR_SET_PDEATHSIG), so a SIGKILLed ``up`` leaves no orphans."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Supervisor:
    """Starts the children, restarts those that exit, stops them all on ``stop()``.  All
    processes are spawned from its one thread (PR_SET_PDEATHSIG is per thread)."""

    def __init__(self, children: list[Child], env: dict, log=print):
        self.children, self.env, self.log = children, env, log
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="worker supervisor",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _spawn(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(child.log_path, "ab") as out:
            child.proc = subprocess.Popen(
                child.argv, cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        child.started = time.monotonic()

    def _loop(self) -> None:
        for child in self.children:
            self._spawn(child)
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            for child in self.children:
                proc = child.proc
                if proc is not None and proc.poll() is None:
                    continue
                if proc is not None:                     # it just exited: schedule a restart
                    if now - child.started > 60:
                        child.delay = RESTART_BACKOFF[0]
                    self.log(f"{child.name} exited with {proc.returncode}; restarting in "
                             f"{child.delay:.0f}s (log: {child.log_path})")
                    child.proc, child.next_start = None, now + child.delay
                    child.delay = min(child.delay * 2, RESTART_BACKOFF[1])
                elif now >= child.next_start and not self.stopping.is_set():
                    child.restarts += 1
                    self._spawn(child)

    def signal_all(self) -> None:
        """Begin stopping (safe from a signal handler): no restarts, SIGTERM to each."""
        self.stopping.set()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                try:
                    child.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every child, wait up to ``timeout`` s, then SIGKILL what remains."""
        self.signal_all()
        self._thread.join(timeout=2)
        deadline = time.monotonic() + timeout
        for child in self.children:
            proc = child.proc
            if proc is None:
                continue
            try:
                proc.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def worker_children(directory: Path, pki: PKI, server: str, nodes: int, per_process: int,
                    runtime: str, kubelet_args: list[str],
                    manager_args: list[str] = ()) -> list[Child]:
    """The kubelet processes and the scheduler's (only with ``nodes``) and the controller
    manager's (always), with their certificates and kubeconfigs written."""
    logs = directory / "logs"
    kube_dir = directory / "kubelets"
    kube_dir.mkdir(parents=True, exist_ok=True)
    names = [f"node-{i}" for i in range(1, nodes + 1)]
    for name in names:
        cert, key = pki.ensure_client(f"kubelet-{name}", f"system:node:{name}", ["system:nodes"])
        pki.write_kubeconfig(kube_dir / f"{name}.kubeconfig", server, cert, key,
                             f"system:node:{name}")
        # the kubelet API's serving pair, for its name and address (the metrics server
        # verifies it with the cluster CA)
        pki.ensure_serving(f"kubelet-serving-{name}", name, [name, "127.0.0.1"])
    children = []
    for start_at in range(0, len(names), per_process):
        group = names[start_at:start_at + per_process]
        argv = [sys.executable, "-m", "workers.kubelet", "--runtime", runtime,
                "--kubeconfig", str(kube_dir / "{node}.kubeconfig"),
                # free ports: several clusters may run on one machine; each Node reports
                # the port its kubelet bound in daemonEndpoints
                "--port", "0", "--client-ca-file", str(pki.ca_cert),
                "--tls-cert-file", str(pki.dir / "kubelet-serving-{node}.crt"),
                "--tls-private-key-file", str(pki.dir / "kubelet-serving-{node}.key")]
        if runtime == "process":
            argv += ["--root-dir", str(kube_dir / "{node}")]
        for offset, name in enumerate(group):
            argv += ["--node-name", name, "--pod-cidr", f"10.244.{start_at + offset}.0/24"]
        label = group[0] if len(group) == 1 else f"{group[0]}..{group[-1]}"
        children.append(Child(f"kubelet {label}", argv + list(kubelet_args),
                              logs / f"kubelet-{group[0]}.log"))
    commands = [("scheduler", "system:kube-scheduler")] if nodes else []
    commands.append(("controller-manager", "system:kube-controller-manager"))
    for command, user in commands:
        cert, key = pki.ensure_client(command, user)
        kubeconfig = directory / f"{command}.kubeconfig"
        pki.write_kubeconfig(kubeconfig, server, cert, key, user)
        argv = [sys.executable, "manage.py", command]
        if command == "controller-manager":
            # upstream's --root-ca-file: the bundle published as kube-root-ca.crt
            argv += ["--root-ca-file", str(pki.ca_cert)]
        argv += ["--kubeconfig", str(kubeconfig), "--leader-elect"]
        if command == "controller-manager":
            argv += list(manager_args)
        children.append(Child(command, argv, logs / f"{command}.log"))
    return children


def _loopback(address: str) -> bool:
    """Whether the API server's bind address is on loopback only (0.0.0.0 and :: are not)."""
    import ipaddress
    try:
        return ipaddress.ip_address(address or "0.0.0.0").is_loopback
    except ValueError:
        return address == "localhost"


class Command(ApiserverCommand):
    help = ("Start everything: the API server and the controller manager, and with --nodes "
            "the scheduler and kubelets.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--nodes", type=int, default=0,
                            help="simulated nodes to run (kubelets), with the scheduler")
        parser.add_argument("--node-runtime", choices=("simulated", "process"),
                            default="simulated",
                            help="the kubelets' container runtime: simulated, or process "
                                 "(pods' commands run as local processes of this user: "
                                 "trusted workloads only)")
        parser.add_argument("--allow-process-runtime-on-non-loopback", action="store_true",
                            help="accept --node-runtime process with --bind-address not on "
                                 "loopback (anyone who can create a pod runs commands here)")
        parser.add_argument("--kubelets-per-process", type=int, default=10,
                            help="simulated kubelets sharing one process (kwok-style)")
        parser.add_argument("--kubelet-arg", action="append", default=[],
                            help="an extra flag for every kubelet (e.g. "
                                 "--kubelet-arg=--lease-renew-interval=2)")
        parser.add_argument("--kube-controller-manager-arg", action="append", default=[],
                            help="an extra flag for the controller manager, as k3s's (e.g. "
                                 "--kube-controller-manager-arg=--controllers=*,-cronjob)")
        parser.add_argument("--metrics-server-arg", action="append", default=[],
                            help="an extra flag for the metrics server (e.g. "
                                 "--metrics-server-arg=--metric-resolution=5s)")
        parser.add_argument("--no-workers", action="store_true", help="start no workers")
        # as k3s and kubeadm clusters: kubelets by the Node authorizer, everyone else by RBAC
        # (``apiserver`` keeps kube-apiserver's flag default, AlwaysAllow)
        parser.set_defaults(authorization_mode="Node,RBAC")

    def handle(self, *args, **o):
        nodes = 0 if o["no_workers"] else o["nodes"]
        if not 0 <= nodes <= MAX_NODES:
            raise CommandError(f"--nodes must be between 0 and {MAX_NODES}")
        if o["kubelets_per_process"] < 1:
            raise CommandError("--kubelets-per-process must be at least 1")
        options = self.options_from(o)
        if nodes and o["node_runtime"] == "process" and \
                not o["allow_process_runtime_on_non_loopback"] and \
                not _loopback(options.bind_address):
            raise CommandError(
                f"--node-runtime process runs every pod's command on this machine; with "
                f"--bind-address {options.bind_address} the API is reachable from other "
                "hosts. Bind to 127.0.0.1, or pass --allow-process-runtime-on-non-loopback "
                "to accept the risk")
        directory = lifecycle.data_dir(o["data_dir"])
        options = with_data_dir_defaults(options, directory)
        lifecycle.migrate()
        pki = PKI(directory).ensure(hosts=["127.0.0.1", "localhost"])
        options = kubelet_client_defaults(options, pki)
        cert, key, ca = self.tls_files(options, directory)
        host = "127.0.0.1" if options.bind_address in ("0.0.0.0", "::") else options.bind_address
        server = f"https://{host}:{options.secure_port}"
        kubeconfig = directory / "admin.kubeconfig"
        pki.write_kubeconfig(kubeconfig, server)
        supervisor = metrics_port = None
        if not o["no_workers"]:
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            children = worker_children(directory, pki, server, nodes, o["kubelets_per_process"],
                                       o["node_runtime"], o["kubelet_arg"],
                                       o["kube_controller_manager_arg"])
            if nodes:
                argv, metrics_port = metrics_addon.metrics_server_child(
                    directory, pki, server, o["metrics_server_arg"])
                children.append(Child("metrics-server", argv,
                                      directory / "logs" / "metrics-server.log"))
            supervisor = Supervisor(children, env,
                                    log=lambda m: (self.stderr.write(m), sys.stderr.flush()))

        def started():
            self.stdout.write(f"serving on https://{host}:{options.secure_port}\n"
                              f"export KUBECONFIG={kubeconfig}")
            if supervisor is not None:
                _stop_workers_first(supervisor)
                supervisor.start()
                if metrics_port:
                    # its APIService, Service and RBAC, applied as the admin once serving
                    threading.Thread(target=lambda: asyncio.run(metrics_addon.register(
                        kubeconfig, metrics_port, pki.ca_cert.read_bytes())),
                        name="metrics-server registration", daemon=True).start()
                self.stdout.write(f"started {nodes} node(s) and the controller manager: "
                                  f"logs in {directory / 'logs'}")
            sys.stdout.flush()
        if supervisor is not None:
            # uvicorn re-raises a captured SIGTERM once it has drained, under the handler
            # that was there before it: make that an orderly exit, so the workers are
            # waited for below instead of orphaned by an immediate death
            signal.signal(signal.SIGTERM, _exit_quietly)
        try:
            start(options, cert, key, ca, on_started=started)
        finally:
            if supervisor is not None:
                supervisor.stop()


def kubelet_client_defaults(options, pki: PKI):
    """The API server's identity towards kubelets, as kubeadm sets it up: a client
    certificate of the cluster CA for kube-apiserver-kubelet-client in system:masters (the
    kubelets' delegated authorization allows nodes/proxy for it), the kubelets' serving
    certificates checked against that CA, and InternalIP before Hostname (node names
    here are not resolvable host names)."""
    changes = {}
    if not options.kubelet_client_certificate:
        cert, key = pki.ensure_client("apiserver-kubelet-client",
                                      "kube-apiserver-kubelet-client", ["system:masters"])
        changes.update(kubelet_client_certificate=str(cert), kubelet_client_key=str(key))
    if not options.kubelet_certificate_authority:
        changes["kubelet_certificate_authority"] = str(pki.ca_cert)
    if options.kubelet_preferred_address_types == type(options)().kubelet_preferred_address_types:
        changes["kubelet_preferred_address_types"] = ("InternalIP", "ExternalIP", "Hostname")
    return dataclasses.replace(options, **changes)


def _exit_quietly(signum, frame):
    raise SystemExit(0)


def _stop_workers_first(supervisor: Supervisor) -> None:
    """Chain the server's SIGTERM/SIGINT handlers so the workers are told to stop first:
    they close their watches before the server drains, and no restart races the shutdown."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum, frame, previous=previous):
            supervisor.signal_all()
            previous(signum, frame)
        signal.signal(sig, handler)
