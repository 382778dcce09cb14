"""The container runtime interface the pod workers drive (a small cut of upstream's CRI,
staging/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto, and kubecontainer.Runtime).

A runtime owns containers only; the pod worker (``pods.py``) owns the pod lifecycle
(ordering, restarts, back-off, status, events).  Contract, all coroutines:

* ``pull_image(image, policy)`` → ``PullResult``: the image reference and size, the seconds
  the pull took, and whether it was already present (no pull done, for ``IfNotPresent`` and
  ``Never``).  ``Never`` with an absent image raises ``ImageNeverPull``.
* ``has_image(image)`` (not a coroutine): the image is present on the node.
* ``create_container(pod, container, attempt, init=False)`` → container id (unique per
  attempt); ``init`` marks an init container.
* ``start_container(cid)``; then ``wait_container(cid)`` returns the exit code when the
  container ends on its own or was stopped.
* ``stop_container(cid, grace)`` stops it within ``grace`` seconds (SIGTERM, then SIGKILL
  for a real runtime) and returns the exit code; stopping a stopped container is a no-op.
* ``remove_pod(uid)`` forgets every container of a pod.
* ``list_images()`` → the ``Image``s present on the node (CRI ListImages), in any order;
  the node status reports them (``node.node_images``).
* ``probe(cid, kind, probe, host)`` → ``ProbeResult``: runs one ``kind`` (``liveness``,
  ``readiness`` or ``startup``) probe of the v1.Probe ``probe`` against the container, within
  the probe's ``timeoutSeconds``; ``host`` is the pod IP, the default host of ``httpGet`` and
  ``tcpSocket`` probes (upstream pkg/kubelet/prober/prober.go ``runProbe``).  ``output`` is
  what the kubelet's ``Unhealthy`` event quotes.  Raising means "probe errored": the
  result is thrown away, as upstream's worker does.

``name`` prefixes container ids in statuses (``simulated://…``).  The simulated runtime
(``simulated.py``) is the default; the streaming issue adds one that runs real processes.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


class ImageNeverPull(Exception):
    """imagePullPolicy Never and the image is not present (upstream ErrImageNeverPull)."""


@dataclass(frozen=True)
class PullResult:
    image_ref: str              # what containerStatuses[].imageID reports
    size: int                   # bytes
    seconds: float              # time the pull took
    already_present: bool


@dataclass(frozen=True)
class Image:
    """One image on the node (kubecontainer.Image): its id, the names it is known by and
    its size in bytes."""
    id: str
    repo_tags: tuple = ()
    repo_digests: tuple = ()
    size: int = 0


@dataclass(frozen=True)
class ProbeResult:
    success: bool
    output: str = ""


class Runtime(ABC):
    name = "runtime"

    @abstractmethod
    async def pull_image(self, image: str, policy: str) -> PullResult: ...

    @abstractmethod
    def has_image(self, image: str) -> bool:
        """Whether the image is present on the node (no pull needed for IfNotPresent)."""

    @abstractmethod
    async def create_container(self, pod: dict, container: dict, attempt: int, *,
                               init: bool = False) -> str: ...

    @abstractmethod
    async def start_container(self, cid: str) -> None: ...

    @abstractmethod
    async def wait_container(self, cid: str) -> int: ...

    @abstractmethod
    async def stop_container(self, cid: str, grace: float) -> int: ...

    @abstractmethod
    async def remove_pod(self, uid: str) -> None: ...

    @abstractmethod
    async def list_images(self) -> list[Image]: ...

    @abstractmethod
    async def probe(self, cid: str, kind: str, probe: dict, host: str | None) -> ProbeResult: ...


def normalize_image(image: str) -> str:
    """The fully qualified name runtimes report (``nginx`` → ``docker.io/library/nginx:latest``)."""
    name, digest = (image.split("@", 1) + [""])[:2]
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name
