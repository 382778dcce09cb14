"""The kubelet's flags and the frozen ``KubeletConfig`` they describe.

``add_arguments(parser)`` declares the flags on any argparse parser (the Django command's and
``python -m workers.kubelet``'s); ``configs_from(namespace)`` turns the parsed values into one
``KubeletConfig`` per ``--node-name`` (several names run several kubelets in one process, as
kwok does, sharing one event loop; ``{node}`` in ``--kubeconfig`` is replaced by each name).

Defaults follow upstream's KubeletConfiguration (pkg/kubelet/apis/config/v1beta1/defaults.go:
nodeStatusUpdateFrequency 10 s, nodeStatusReportFrequency 5 min, nodeLeaseDurationSeconds 40,
renew interval a quarter of it) and kwok's default node (cpu 32, memory 256Gi, pods 110).
Standard library only.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass, field

RUNTIMES = ("simulated", "process")
ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$")
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class KubeletConfig:
    """Everything one kubelet needs; see ``add_arguments`` for each field's flag."""

    node_name: str
    kubeconfig: str
    runtime: str = "simulated"
    cpu: str = "32"
    memory: str = "256Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    node_labels: dict = field(default_factory=dict)
    node_roles: tuple = ()
    node_ip: str = "127.0.0.1"
    pod_cidr: str | None = None
    port: int = 10250                              # 0: any free port (reported as bound)
    tls_cert_file: str = ""                        # "": a self-signed pair is made
    tls_private_key_file: str = ""
    client_ca_file: str = ""                       # "": no client certificates accepted
    address: str = ""                              # "": node_ip
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    lease_duration: int = 40
    lease_renew_interval: float | None = None      # None: a quarter of lease_duration
    pull_delay: float = 0.2
    start_delay: float = 0.1
    watch_transport: str = "websocket"
    root_dir: str = ""                             # the process runtime's pod directories
    process_sandbox: str = "auto"                  # auto | unshare | none
    sync_frequency: float = 60.0                   # volumes of running pods rewritten

    @property
    def renew_interval(self) -> float:
        """upstream nodelease: renewInterval = 0.25 × leaseDuration."""
        if self.lease_renew_interval is not None:
            return self.lease_renew_interval
        return self.lease_duration * 0.25


def _labels(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"invalid label {part!r}: want key=value")
        out[key] = value
    return out


def _quantity(text: str) -> str:
    if not _QUANTITY.match(text or ""):
        raise argparse.ArgumentTypeError(f"invalid quantity {text!r}")
    return text


def add_arguments(parser) -> None:
    """The kubelet's flags (names as upstream's where upstream has one)."""
    parser.add_argument("--kubeconfig", required=True,
                        help="kubeconfig with the node's credentials; {node} is replaced by "
                             "the node name")
    parser.add_argument("--node-name", action="append", required=True, dest="node_name",
                        help="the Node's name; repeat to run several kubelets in this process")
    parser.add_argument("--runtime", "--node-runtime", choices=RUNTIMES, default="simulated",
                        dest="runtime",
                        help="container runtime: simulated (no processes) or process (each "
                             "container a local process group: only for trusted pods)")
    parser.add_argument("--root-dir", default="", dest="root_dir",
                        help="the process runtime's directory for pods (volumes, logs); "
                             "{node} is replaced by the node name (default: "
                             "TMPDIR/kubelet-{node})")
    parser.add_argument("--allow-process-runtime-on-non-loopback", action="store_true",
                        dest="allow_process_runtime_on_non_loopback",
                        help="accept --runtime process with a kubelet API address not on "
                             "loopback (exec and attach then reach this machine's processes "
                             "from the network, behind the API's authorization)")
    parser.add_argument("--sync-frequency", type=float, default=60.0, dest="sync_frequency",
                        help="seconds between rewrites of running pods' volumes (process "
                             "runtime; upstream's kubelet syncs them this often)")
    parser.add_argument("--process-sandbox", choices=("auto", "unshare", "none"),
                        default="auto", dest="process_sandbox",
                        help="the process runtime's sandbox: a PID namespace per container "
                             "with unshare (auto: when it works here), or none")
    parser.add_argument("--cpu", type=_quantity, default="32", help="cpu capacity")
    parser.add_argument("--memory", type=_quantity, default="256Gi", help="memory capacity")
    parser.add_argument("--pods", type=_quantity, default="110", help="pod capacity")
    parser.add_argument("--ephemeral-storage", type=_quantity, default="100Gi",
                        help="ephemeral-storage capacity")
    parser.add_argument("--node-labels", type=_labels, default={},
                        help="extra labels, key=value,… (kubernetes.io ones need rights the "
                             "NodeRestriction plugin gives no node)")
    parser.add_argument("--node-role", action="append", default=[], dest="node_roles",
                        help="adds the node-role.kubernetes.io/ROLE label (repeatable)")
    parser.add_argument("--node-ip", default="127.0.0.1", help="InternalIP and pods' hostIP")
    parser.add_argument("--pod-cidr", action="append", default=[], dest="pod_cidr",
                        help="the node's pod CIDR (default: a /24 of 10.244.0.0/16 chosen "
                             "from the node name); with several --node-name, one each, in "
                             "the same order")
    parser.add_argument("--port", type=int, default=10250,
                        help="the kubelet API's port (daemonEndpoints); with several "
                             "--node-name, the first's, the others counting up; 0: free ports")
    parser.add_argument("--address", default="", dest="address",
                        help="the kubelet API's bind address (default: --node-ip)")
    parser.add_argument("--tls-cert-file", default="",
                        help="serving certificate; {node} is replaced by the node name "
                             "(default: a self-signed one, as upstream)")
    parser.add_argument("--tls-private-key-file", default="", help="its key; {node} as above")
    parser.add_argument("--client-ca-file", default="",
                        help="CA bundle whose client certificates authenticate callers of the "
                             "kubelet API (without it, only bearer tokens do)")
    parser.add_argument("--node-status-update-frequency", type=float, default=10.0)
    parser.add_argument("--node-status-report-frequency", type=float, default=300.0)
    parser.add_argument("--node-lease-duration-seconds", type=int, default=40,
                        dest="lease_duration")
    parser.add_argument("--lease-renew-interval", type=float, default=None,
                        help="seconds between Lease renewals (default: a quarter of the "
                             "lease duration, 10 s)")
    parser.add_argument("--image-pull-delay", type=float, default=0.2, dest="pull_delay",
                        help="simulated image pull seconds")
    parser.add_argument("--container-start-delay", type=float, default=0.1, dest="start_delay",
                        help="simulated container creation seconds")
    parser.add_argument("--watch-transport", choices=("websocket", "http"), default="websocket")


def configs_from(values) -> list[KubeletConfig]:
    """One config per node name; raises ``ValueError`` with a message for bad values."""
    o = vars(values) if not isinstance(values, dict) else values
    names = o["node_name"]
    if isinstance(names, str):
        names = [names]
    if len(set(names)) != len(names):
        raise ValueError("--node-name: each name may be given once")
    labels = dict(o.get("node_labels") or {})
    common = {k: o[k] for k in (
        "runtime", "cpu", "memory", "pods", "ephemeral_storage", "node_ip", "port",
        "node_status_update_frequency", "node_status_report_frequency", "lease_duration",
        "lease_renew_interval", "pull_delay", "start_delay", "watch_transport",
        "client_ca_file", "process_sandbox", "sync_frequency") if k in o}
    cidrs = o.get("pod_cidr") or []
    if isinstance(cidrs, str):
        cidrs = [cidrs]
    if cidrs and len(cidrs) != len(names):
        raise ValueError("--pod-cidr: give one per --node-name, in the same order")
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ValueError(f"--pod-cidr {cidr!r}: not a CIDR") from None
        if net.num_addresses < 4:
            raise ValueError(f"--pod-cidr {cidr!r}: too small for pods")
    if o["runtime"] == "process" and not o.get("allow_process_runtime_on_non_loopback"):
        address = o.get("address") or o.get("node_ip") or "127.0.0.1"
        try:
            loopback = ipaddress.ip_address(address).is_loopback
        except ValueError:
            loopback = address == "localhost"
        if not loopback:
            raise ValueError(f"--runtime process runs pods' commands on this machine; the "
                             f"kubelet API would listen on {address}. Use a loopback "
                             "address, or --allow-process-runtime-on-non-loopback to accept "
                             "the risk")
    port = int(o.get("port", 10250))
    if not 0 <= port <= 65535 or port + len(names) - 1 > 65535:
        raise ValueError(f"--port {port}: not a port for {len(names)} kubelet(s)")
    if bool(o.get("tls_cert_file")) != bool(o.get("tls_private_key_file")):
        raise ValueError("--tls-cert-file and --tls-private-key-file go together")
    out = []
    for i, name in enumerate(names):
        if not _NODE_NAME.match(name) or len(name) > 253:
            raise ValueError(f"--node-name {name!r}: a node name must be a lowercase RFC 1123 "
                             "subdomain")
        out.append(KubeletConfig(
            node_name=name, kubeconfig=o["kubeconfig"].replace("{node}", name),
            node_labels=labels, node_roles=tuple(o.get("node_roles") or ()),
            pod_cidr=cidrs[i] if cidrs else None,
            tls_cert_file=(o.get("tls_cert_file") or "").replace("{node}", name),
            tls_private_key_file=(o.get("tls_private_key_file") or "").replace("{node}", name),
            address=o.get("address") or "",
            root_dir=(o.get("root_dir") or os.path.join(tempfile.gettempdir(),
                                                         "kubelet-{node}")).replace("{node}", name),
            **{**common, "port": port + i if port else 0}))
    return out
