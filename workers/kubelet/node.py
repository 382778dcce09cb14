"""Node registration and status, as upstream's kubelet_node_status.go and nodestatus/setters.go.

Pure parts (unit-tested): ``pod_cidr_for`` (a /24 of 10.244.0.0/16 from the node name),
``node_labels``, ``node_conditions`` (Ready, MemoryPressure, DiskPressure, PIDPressure with
upstream's reasons and messages; lastTransitionTime kept while a status is unchanged),
``initial_node`` (the object POSTed at registration), ``node_images`` (status.images from the
runtime's image list) and ``status_changed``.

``NodeStatusManager`` does the I/O: ``register()`` creates the Node (an existing one is
reused: its spec.podCIDR wins, its status is patched), then ``run()`` computes the status every
``node_status_update_frequency`` seconds and patches ``nodes/NAME/status`` only when it changed
or ``node_status_report_frequency`` passed (upstream with the NodeLease feature: the Lease is
the heartbeat, the status is posted on change or every 5 minutes).  The images come from the
runtime (when one is given) at each of those computations: they change only after a pull,
so a pull costs one status patch at the next update interval and nothing more.
"""
from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import platform
import time
import uuid

from apiserver.client import ApiError, AsyncClient

from .config import ROLE_LABEL_PREFIX, KubeletConfig
from .runtime import Image

log = logging.getLogger("workers.kubelet.node")

KUBELET_VERSION = "v1.32.0"
CLUSTER_POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
RUNTIME_VERSION = "simulated://1.0.0"
NODE_STATUS_MAX_IMAGES = 50           # upstream kubelet flag default (--node-status-max-images)
MAX_NAMES_PER_IMAGE = 5               # nodestatus.MaxNamesPerImageInNodeStatus

# (type, reason, message) when healthy: upstream nodestatus/setters.go
HEALTHY = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
)


def now_rfc3339(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def pod_cidr_for(name: str) -> str:
    """A deterministic /24 of 10.244.0.0/16 for a node name (first two bytes of SHA-256, as
    an index of the 256 subnets).  Distinct names may collide: ``up`` passes each node its
    own ``--pod-cidr``, as the node-ipam controller would assign it."""
    index = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big") % 256
    return str(list(CLUSTER_POD_CIDR.subnets(new_prefix=24))[index])


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def node_labels(cfg: KubeletConfig) -> dict:
    """Upstream's ``initialNode`` labels (well-known hostname/os/arch and their beta twins),
    the role labels asked for, then ``--node-labels``."""
    arch, os_ = _arch(), "linux"
    labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": os_,
              "kubernetes.io/arch": arch, "kubernetes.io/hostname": cfg.node_name,
              "kubernetes.io/os": os_}
    for role in cfg.node_roles:
        labels[ROLE_LABEL_PREFIX + role] = ""
    labels.update(cfg.node_labels)
    return labels


def node_conditions(previous: list | None, now: str) -> list[dict]:
    """The four kubelet conditions, healthy; ``lastHeartbeatTime`` is ``now``, and
    ``lastTransitionTime`` stays as in ``previous`` when status and reason are unchanged."""
    old = {c.get("type"): c for c in previous or ()}
    out = []
    for kind, reason, message in HEALTHY:
        status = "True" if kind == "Ready" else "False"
        prev = old.get(kind) or {}
        transition = prev.get("lastTransitionTime") if (
            prev.get("status") == status and prev.get("reason") == reason) else None
        out.append({"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": transition or now})
    return out


def resources(cfg: KubeletConfig) -> dict:
    return {"cpu": cfg.cpu, "memory": cfg.memory, "pods": cfg.pods,
            "ephemeral-storage": cfg.ephemeral_storage, "hugepages-1Gi": "0",
            "hugepages-2Mi": "0"}


def _os_image() -> str:
    """This machine's PRETTY_NAME (/etc/os-release), for a runtime that runs processes here."""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def node_info(cfg: KubeletConfig, boot_id: str) -> dict:
    machine = hashlib.md5(cfg.node_name.encode()).hexdigest()    # noqa: S324 (an id, not a secret)
    return {"machineID": machine, "systemUUID": str(uuid.UUID(machine)), "bootID": boot_id,
            "kernelVersion": platform.release(),
            "osImage": "Simulated Linux" if cfg.runtime == "simulated" else _os_image(),
            "containerRuntimeVersion": RUNTIME_VERSION.replace("simulated", cfg.runtime),
            "kubeletVersion": KUBELET_VERSION,
            "operatingSystem": "linux", "architecture": _arch()}


def node_images(images: list[Image], limit: int = NODE_STATUS_MAX_IMAGES) -> list[dict]:
    """``status.images`` as upstream's ``Images`` setter (pkg/kubelet/nodestatus/setters.go):
    largest first (ties: the larger id first, as sliceutils.ByImageSize), at most ``limit``
    (-1: all), each with its digests then tags as ``names`` (at most 5)."""
    ordered = sorted(images, key=lambda i: (i.size, i.id), reverse=True)
    if limit > -1:
        ordered = ordered[:limit]
    return [{"names": (list(i.repo_digests) + list(i.repo_tags))[:MAX_NAMES_PER_IMAGE],
             "sizeBytes": i.size} for i in ordered]


def node_status(cfg: KubeletConfig, previous: dict | None, boot_id: str, now: str,
                images: list[dict] | None = None) -> dict:
    """The status a kubelet reports: capacity = allocatable (nothing reserved), conditions,
    addresses, daemon endpoint, nodeInfo and, when known, the images (``node_images``; an
    empty list is left out, as Go's omitempty does)."""
    out = {
        "capacity": resources(cfg), "allocatable": resources(cfg),
        "conditions": node_conditions((previous or {}).get("conditions"), now),
        "addresses": [{"type": "InternalIP", "address": cfg.node_ip},
                      {"type": "Hostname", "address": cfg.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.port}},
        "nodeInfo": node_info(cfg, boot_id),
    }
    if images:
        out["images"] = images
    return out


def initial_node(cfg: KubeletConfig, boot_id: str, now: str) -> dict:
    cidr = cfg.pod_cidr or pod_cidr_for(cfg.node_name)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": cfg.node_name, "labels": node_labels(cfg),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach":
                                         "true"}},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": node_status(cfg, None, boot_id, now),
    }


def _comparable(status: dict) -> dict:
    conditions = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                  for c in status.get("conditions") or ()]
    return {**status, "conditions": conditions}


def status_changed(old: dict | None, new: dict) -> bool:
    """Whether ``new`` differs from ``old`` in more than heartbeat times (upstream
    ``nodeStatusHasChanged``)."""
    if not old:
        return True
    keys = ("capacity", "allocatable", "conditions", "addresses", "daemonEndpoints", "nodeInfo",
            "images")
    a, b = _comparable(old), _comparable(new)
    return any(a.get(k) != b.get(k) for k in keys)


class NodeStatusManager:
    """Registers the Node and keeps its status current; see the module docstring."""

    def __init__(self, client: AsyncClient, cfg: KubeletConfig, runtime=None):
        self.client, self.cfg, self.runtime = client, cfg, runtime
        self.boot_id = str(uuid.uuid4())
        self.node: dict | None = None
        self._last_post = 0.0

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{self.cfg.node_name}"

    @property
    def pod_cidr(self) -> str:
        spec = (self.node or {}).get("spec") or {}
        return spec.get("podCIDR") or self.cfg.pod_cidr or pod_cidr_for(self.cfg.node_name)

    @property
    def uid(self) -> str | None:
        return ((self.node or {}).get("metadata") or {}).get("uid")

    async def register(self) -> dict:
        """Create the Node, or adopt the existing one (upstream ``tryRegisterWithAPIServer``:
        an existing node keeps its spec; its status is brought up to date)."""
        try:
            self.node = await self.client.create("/api/v1/nodes",
                                                 initial_node(self.cfg, self.boot_id,
                                                              now_rfc3339()))
            self._last_post = time.monotonic()
            log.info("node %s registered", self.cfg.node_name)
            return self.node
        except ApiError as exc:
            if exc.status != 409:
                raise
        self.node = await self.client.get(self.path)
        await self.post_status(force=True)
        log.info("node %s already registered; status updated", self.cfg.node_name)
        return self.node

    async def post_status(self, force: bool = False) -> bool:
        """Patch the status if it changed or the report interval passed; True if posted.

        The comparison is with the Node as the server has it now (upstream
        ``tryUpdateNodeStatus`` GETs it with resourceVersion 0 each time), so a status
        someone else changed — the node-lifecycle controller's Ready=Unknown while this
        kubelet was hung — is put right at the next update, not at the next report."""
        try:
            self.node = await self.client.get(self.path, {"resourceVersion": "0"})
        except ApiError as exc:
            if exc.status == 404:
                raise
        old = (self.node or {}).get("status") or {}
        images = None
        if self.runtime is not None:
            images = node_images(await self.runtime.list_images())
        new = node_status(self.cfg, old, self.boot_id, now_rfc3339(), images)
        if images is not None and not images and old.get("images"):
            new["images"] = None      # none left (a restarted simulated node): remove them
        due = time.monotonic() - self._last_post >= self.cfg.node_status_report_frequency
        if not (force or due or status_changed(old, new)):
            return False
        self.node = await self.client.patch(f"{self.path}/status", {"status": new},
                                            "application/strategic-merge-patch+json")
        self._last_post = time.monotonic()
        return True

    async def run(self) -> None:
        """Every update interval: post the status when due; failures are retried next time."""
        while True:
            await asyncio.sleep(self.cfg.node_status_update_frequency)
            try:
                await self.post_status()
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.status == 404:         # the Node was deleted: register again
                    log.warning("node %s was deleted; registering again", self.cfg.node_name)
                    await self._reregister()
                else:
                    log.warning("node %s: status update failed: %s", self.cfg.node_name, exc)
            except (OSError, asyncio.TimeoutError) as exc:
                log.warning("node %s: status update failed: %s", self.cfg.node_name, exc)

    async def _reregister(self) -> None:
        self.node = None
        try:
            await self.register()
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.warning("node %s: registration failed: %s", self.cfg.node_name, exc)
