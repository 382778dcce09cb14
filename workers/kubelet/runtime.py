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

Streaming (upstream's CRI Exec/Attach/PortForward and the container log files the kubelet
reads, pkg/kubelet/kuberuntime/logs/logs.go), used by the kubelet's API (``/exec``,
``/attach``, ``/portForward``, ``/containerLogs``):

* ``exec(cid, command, stdin=, tty=)`` → a started ``ContainerStream`` running ``command``
  inside the container's environment; ``attach(cid, stdin=, tty=)`` → a ``ContainerStream``
  joined to the container's own process.  Either raises ``StreamingUnsupported`` (with the
  message the caller shows) when this runtime cannot run commands, and
  ``ContainerNotRunning`` when ``cid`` is not running.
* ``logs(cid, follow=)`` → an async iterator of ``LogLine`` for one container attempt,
  oldest first: what it wrote so far, then (``follow``) what it writes until it ends.  The
  logs of an attempt stay readable after it exits, until ``remove_pod`` (``--previous``).
  The kubelet applies sinceSeconds/sinceTime/tailLines/limitBytes/timestamps itself.
* ``port_forward(pod, port)`` → ``(reader, writer)``: an open TCP stream to ``port`` of the
  pod (asyncio streams); ``StreamingUnsupported`` when the runtime has no network.

The base class answers every streaming call with ``StreamingUnsupported``.

``name`` prefixes container ids in statuses (``simulated://…``).  The simulated runtime
(``simulated.py``) is the default; ``process.py`` runs containers as local processes.
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


class CreateContainerConfigError(Exception):
    """The container's configuration cannot be built (a ConfigMap, Secret or key it
    references is missing); the message is the waiting state's (upstream
    kuberuntime ``ErrCreateContainerConfig``).  ``create_container`` may raise it; the pod
    worker retries."""


class StreamingUnsupported(Exception):
    """This runtime cannot do what was asked (the simulated runtime runs no commands); the
    message is what the client sees."""


class ContainerNotRunning(Exception):
    """The container named is not running (exec and attach need a running container)."""


@dataclass(frozen=True)
class LogLine:
    """One line a container wrote: when (epoch seconds, nanosecond precision kept as the
    RFC 3339 text ``time``), on which stream (``stdout``/``stderr``), and its bytes including
    the newline (a last partial line has none)."""
    time: str
    stream: str
    data: bytes


class ContainerStream(ABC):
    """One exec or attach session (CRI's streams).  ``tty`` sessions have one output
    (stdout; stderr is at EOF from the start) and honour ``resize``."""

    tty: bool = False

    @abstractmethod
    async def read_stdout(self) -> bytes:
        """The next bytes the process wrote to stdout; ``b""`` at EOF."""

    @abstractmethod
    async def read_stderr(self) -> bytes:
        """The next bytes written to stderr; ``b""`` at EOF (at once for a tty)."""

    @abstractmethod
    async def write_stdin(self, data: bytes) -> None:
        """Feed the process's stdin (ignored when the session has none)."""

    @abstractmethod
    async def close_stdin(self) -> None:
        """EOF on stdin (the client half-closed it)."""

    @abstractmethod
    def resize(self, width: int, height: int) -> None:
        """The terminal's new size (tty only; otherwise ignored)."""

    @abstractmethod
    async def wait(self) -> int:
        """The exit code: the command's for exec; the container's for attach."""

    @abstractmethod
    async def close(self) -> None:
        """The client went away: exec kills its command; attach only detaches."""


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

    async def post_start(self, cid: str) -> str | None:
        """Run the started container's ``lifecycle.postStart`` handler, if it has one: None
        when it succeeded (or there is none), else why it failed.  Only runtimes that run
        probes (``runs_probes``) are asked."""
        return None

    async def exec(self, cid: str, command: list[str], *, stdin: bool,
                   tty: bool) -> ContainerStream:
        raise StreamingUnsupported(f"the {self.name} runtime cannot run commands")

    async def attach(self, cid: str, *, stdin: bool, tty: bool) -> ContainerStream:
        raise StreamingUnsupported(f"the {self.name} runtime cannot attach to containers")

    def logs(self, cid: str, *, follow: bool):
        """An async iterator of ``LogLine`` (see the module docstring)."""
        raise StreamingUnsupported(f"the {self.name} runtime keeps no logs")

    async def port_forward(self, pod: dict, port: int):
        raise StreamingUnsupported(f"the {self.name} runtime cannot forward ports")


def normalize_image(image: str) -> str:
    """The fully qualified name runtimes report (``nginx`` → ``docker.io/library/nginx:latest``)."""
    name, digest = (image.split("@", 1) + [""])[:2]
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name
