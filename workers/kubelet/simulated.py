"""The simulated container runtime: no processes, only time (as kwok's fake kubelet).

* An image pull takes ``pull_delay`` seconds; images are then present on this node.
* Creating a container takes ``start_delay`` seconds.
* A started container runs until stopped, unless its pod carries the annotation
  ``sim.kubelet/exit-after-seconds: "N"``: it then exits N seconds after starting with
  ``sim.kubelet/exit-code`` (default 0).  Stopping exits 0 (a process that handles SIGTERM).
* Init containers exit 0 after ``init_run`` seconds (they always succeed here).
* Probes succeed, except liveness probes of a pod annotated
  ``sim.kubelet/liveness-fail-after-seconds: "N"``: they fail from N seconds after the
  container started (the kubelet then kills and restarts it per restartPolicy).
* ``list_images`` reports every image pulled, with the pull's size.
* Logs (``logs``) are the lines the runtime itself writes for a container: one on stdout
  when it starts and one when it exits; ``follow`` waits for the exit.  ``exec``,
  ``attach`` and ``port_forward`` are refused (``StreamingUnsupported``: no processes, no
  network), which the kubelet's API turns into a Status error saying so.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import time

from .runtime import (Image, ImageNeverPull, LogLine, ProbeResult, PullResult, Runtime,
                      normalize_image)

EXIT_AFTER = "sim.kubelet/exit-after-seconds"
EXIT_CODE = "sim.kubelet/exit-code"
LIVENESS_FAIL_AFTER = "sim.kubelet/liveness-fail-after-seconds"


def liveness_fail_after(pod: dict) -> float | None:
    """Seconds after its start from which a container's liveness probes fail (None: never);
    a bad or negative value is ignored."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(LIVENESS_FAIL_AFTER)
    try:
        after = float(raw) if raw is not None else None
    except ValueError:
        return None
    return after if after is not None and after >= 0 else None


def failure_output(probe: dict, host: str | None) -> str:
    """What a failing probe of this handler says (upstream pkg/probe/{http,tcp,grpc});
    an exec probe quotes the command's output, here a note naming the annotation."""
    if isinstance(probe.get("httpGet"), dict):
        return "HTTP probe failed with statuscode: 500"
    if isinstance(probe.get("tcpSocket"), dict):
        tcp = probe["tcpSocket"]
        return f"dial tcp {tcp.get('host') or host or ''}:{tcp.get('port')}: connect: " \
               "connection refused"
    if isinstance(probe.get("grpc"), dict):
        return 'service unhealthy (responded with "NOT_SERVING")'
    return f"simulated failure ({LIVENESS_FAIL_AFTER})"


def exit_plan(pod: dict) -> tuple[float | None, int]:
    """(seconds until exit or None, exit code) from the pod's annotations; bad values are
    ignored (the container runs until stopped, exit code 0)."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        after = float(ann[EXIT_AFTER]) if EXIT_AFTER in ann else None
        if after is not None and after < 0:
            after = None
    except ValueError:
        after = None
    try:
        code = int(ann.get(EXIT_CODE, 0))
    except ValueError:
        code = 0
    return after, code


def _rfc3339_nano(ns: int) -> str:
    secs, frac = divmod(ns, 10 ** 9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class _Container:
    __slots__ = ("uid", "exit_after", "exit_code", "stopped", "done", "task", "started",
                 "liveness_fail_after", "name", "image", "log", "ended")

    def __init__(self, uid: str, exit_after: float | None, exit_code: int,
                 liveness_fail_after: float | None = None, name: str = "", image: str = ""):
        self.uid, self.exit_after, self.exit_code = uid, exit_after, exit_code
        self.stopped = asyncio.Event()
        self.done: int | None = None
        self.started: float | None = None          # loop time of start_container
        self.liveness_fail_after = liveness_fail_after
        self.name, self.image = name, image
        self.log: list[LogLine] = []
        self.ended = asyncio.Event()                # set once ``done`` is known

    def write(self, text: str) -> None:
        self.log.append(LogLine(_rfc3339_nano(time.time_ns()), "stdout",
                                (text + "\n").encode()))

    def finish(self, code: int) -> int:
        if self.done is None:
            self.done = code
        if not self.ended.is_set():
            if self.started is not None:
                self.write(f"simulated container {self.name} exited with code {self.done}")
            self.ended.set()
        return self.done


class SimulatedRuntime(Runtime):
    name = "simulated"

    def __init__(self, pull_delay: float = 0.2, start_delay: float = 0.1,
                 init_run: float = 0.1):
        self.pull_delay, self.start_delay, self.init_run = pull_delay, start_delay, init_run
        self.images: set[str] = set()
        self.pulled: dict[str, tuple[str, int]] = {}     # ref → (imageID, size)
        self.containers: dict[str, _Container] = {}
        self._ids = itertools.count(1)

    def has_image(self, image: str) -> bool:
        return normalize_image(image) in self.images

    async def pull_image(self, image: str, policy: str) -> PullResult:
        ref = normalize_image(image)
        digest = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        image_id = ref.rsplit(":", 1)[0] + "@" + digest if "@" not in ref else ref
        size = 1_000_000 + int(digest[7:13], 16) % 100_000_000
        present = ref in self.images
        if policy == "Never" and not present:
            raise ImageNeverPull(image)
        if present and policy != "Always":
            return PullResult(image_id, size, 0.0, True)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(self.pull_delay)
        self.images.add(ref)
        self.pulled[ref] = (image_id, size)
        return PullResult(image_id, size, loop.time() - started, False)

    async def create_container(self, pod: dict, container: dict, attempt: int, *,
                               init: bool = False) -> str:
        await asyncio.sleep(self.start_delay)
        uid = (pod.get("metadata") or {}).get("uid", "")
        seed = f"{uid}/{container.get('name')}/{attempt}/{next(self._ids)}"
        cid = hashlib.sha256(seed.encode()).hexdigest()
        if init:
            after, code = self.init_run, 0
        else:
            after, code = exit_plan(pod)
        self.containers[cid] = _Container(uid, after, code,
                                          None if init else liveness_fail_after(pod),
                                          container.get("name", ""),
                                          normalize_image(container.get("image") or ""))
        return cid

    async def start_container(self, cid: str) -> None:
        if cid not in self.containers:
            raise KeyError(cid)
        c = self.containers[cid]
        c.started = asyncio.get_running_loop().time()
        c.write(f"simulated container {c.name} started (image {c.image})")

    async def wait_container(self, cid: str) -> int:
        c = self.containers[cid]
        if c.done is not None:
            return c.finish(c.done)
        try:
            await asyncio.wait_for(c.stopped.wait(), c.exit_after)
        except asyncio.TimeoutError:
            return c.finish(c.exit_code)
        return c.finish(c.done if c.done is not None else 0)

    async def stop_container(self, cid: str, grace: float) -> int:
        c = self.containers.get(cid)
        if c is None:
            return 0
        code = c.finish(0)
        c.stopped.set()
        return code

    async def remove_pod(self, uid: str) -> None:
        for cid in [k for k, c in self.containers.items() if c.uid == uid]:
            c = self.containers.pop(cid)
            c.stopped.set()
            c.ended.set()

    def logs(self, cid: str, *, follow: bool):
        """The container's synthesised lines; ``follow`` ends when it exits (or is
        removed).  An unknown container has no lines."""
        c = self.containers.get(cid)

        async def lines():
            if c is None:
                return
            sent = 0
            while True:
                while sent < len(c.log):
                    yield c.log[sent]
                    sent += 1
                if not follow or c.ended.is_set():
                    if sent == len(c.log):
                        return
                    continue
                await c.ended.wait()
        return lines()

    async def list_images(self) -> list[Image]:
        out = []
        for ref, (image_id, size) in self.pulled.items():
            digest = image_id.rsplit("@", 1)[-1]
            tags = () if "@" in ref else (ref,)
            out.append(Image(digest, tags, (image_id,), size))
        return out

    async def probe(self, cid: str, kind: str, probe: dict, host: str | None) -> ProbeResult:
        c = self.containers.get(cid)
        if kind != "liveness" or c is None or c.liveness_fail_after is None or \
                c.started is None:
            return ProbeResult(True)
        if asyncio.get_running_loop().time() - c.started < c.liveness_fail_after:
            return ProbeResult(True)
        return ProbeResult(False, failure_output(probe, host))
