"""The process runtime (``kubelet --runtime process``): each container is a local process
group under the kubelet.  Isolation is the process's user and working directory only (and a
PID namespace where ``unshare`` works); pod processes share the host's network and
filesystem.  Opt-in, for trusted workloads on a developer's machine.

Per pod, a directory ``ROOT/pods/UID/`` holds ``volumes/NAME/`` (``volumes.py``; written
before each container start and every ``volume_sync`` seconds while the pod runs),
``containers/NAME/`` (the default working directory and ``HOME``) and
``logs/NAME/ATTEMPT.log`` (each attempt's output in the CRI log format, rotated past 10 MiB;
the previous attempt answers ``logs`` after a restart, until ``remove_pod``; older attempts
are forgotten).

A container's command line is ``command`` + ``args`` (``args`` alone when there is no
``command``), with ``env``/``envFrom`` and the downward API resolved (``process_env.py``),
``$(VAR)`` expanded and volume ``mountPath``s rewritten to their directories
(``volumes.rewrite``).  The environment is that alone plus ``PATH``, ``HOSTNAME`` (the pod's
name), ``HOME`` and ``KUBERNETES_SERVICE_HOST``/``_PORT`` (the API server's real address:
there is no service network) — nothing of the kubelet's own environment leaks in.  A
container with neither ``command`` nor ``args`` runs as the simulated runtime's do (no
process, ``sim.kubelet/exit-after-seconds`` and ``sim.kubelet/exit-code`` honoured); an
executable that cannot be found fails the attempt with exit code 128, the reason in its log.

``securityContext.runAsUser``/``runAsGroup`` are applied when the kubelet runs as root
(``setpriv``); otherwise a container may only run as the kubelet's own user.
``runAsNonRoot`` refuses a container that would run as root.

Sandbox (``sandbox="auto"``): when ``unshare --pid --fork --mount-proc`` works here (as
root, or with ``--user --map-root-user`` otherwise), each container gets its own PID (and
mount, for ``/proc``) namespace, so it sees and signals only its own processes; exec and
probes join it with ``nsenter``.  The main process is then PID 1 of its namespace and, as in
a real container, ignores SIGTERM unless it handles it.  ``sandbox="none"`` runs plain
process groups.

Stopping: the ``preStop`` hook, SIGTERM to the process group, SIGKILL after what is left of
the grace period; when the main
process exits, what is left of its group is killed (a container ends as a whole).  Exit
codes are the process's, 128+N for signal N.  Containers do not outlive their kubelet
(``PR_SET_PDEATHSIG``): a restarted kubelet finds its containers gone and reports them as
exited with 137.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import os
import pty
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from . import process_probe, volumes
from .process_env import Sources, command_line, environment
from .process_container import Container
from .process_exec import (CTTY_INSIDE, child_setup, chown_tree, first_child, group_usage,
                           probe_sandbox, spawn_exec)
from .process_streams import (AttachStream, FdReader, LogFile, exit_code,
                              kill_group, read_log)
from .runtime import (ContainerNotRunning, ContainerStream, CreateContainerConfigError, Image,
                      ImageNeverPull, ProbeResult, PullResult, Runtime, StreamingUnsupported,
                      normalize_image)
from .simulated import exit_plan

log = logging.getLogger("workers.kubelet.process")

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STOP_EXTRA = 5.0                 # seconds to wait for a SIGKILLed group
class ProcessRuntime(Runtime):
    """See the module docstring.  ``client``: the kubelet's API client (or set ``host``:
    anything with a ``client`` attribute, read when a container is created)."""

    name = "process"
    runs_probes = True               # the pod worker runs every probe through ``probe``

    def __init__(self, root_dir, *, client=None, host=None, sandbox: str = "auto",
                 allocatable: dict | None = None, volume_sync: float = 60.0):
        self.root = Path(root_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._client, self.host = client, host
        self.sandbox = probe_sandbox(sandbox)
        self.allocatable = allocatable or {}
        self.containers: dict[str, Container] = {}
        self.images: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self.volume_sync = volume_sync
        self._tokens: dict[str, dict] = {}          # pod uid → its token cache
        self._owners: dict[str, tuple] = {}         # pod uid → (uid, gid) of its files
        self._refreshers: dict[str, asyncio.Task] = {}

    @property
    def sandbox_name(self) -> str:
        return "unshare (PID and mount namespaces)" if self.sandbox else "none"

    @property
    def client(self):
        return self._client if self._client is not None else getattr(self.host, "client", None)

    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    # ---- images: nothing is pulled; an image is present once named ------------------------
    def has_image(self, image: str) -> bool:
        return normalize_image(image) in self.images

    async def pull_image(self, image: str, policy: str) -> PullResult:
        ref = normalize_image(image)
        present = ref in self.images
        if policy == "Never" and not present:
            raise ImageNeverPull(image)
        digest = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        self.images[ref] = ref.rsplit(":", 1)[0] + "@" + digest if "@" not in ref else ref
        return PullResult(self.images[ref], 0, 0.0, present and policy != "Always")

    async def list_images(self) -> list[Image]:
        return [Image(i.rsplit("@", 1)[-1], () if "@" in r else (r,), (i,), 0)
                for r, i in self.images.items()]

    # ---- containers -------------------------------------------------------------------------
    def _base_env(self, pod: dict, home: str) -> dict:
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": (pod.get("metadata") or {}).get("name", ""),
               "HOME": home}
        config = getattr(self.client, "config", None)
        server = urlsplit(getattr(config, "server", "") or "")
        if server.hostname:
            env["KUBERNETES_SERVICE_HOST"] = server.hostname
            env["KUBERNETES_SERVICE_PORT"] = str(server.port or 443)
            env["KUBERNETES_SERVICE_PORT_HTTPS"] = env["KUBERNETES_SERVICE_PORT"]
        return env

    async def _fresh(self, pod: dict) -> dict:
        """The pod as stored now when its status lacks the pod IP (the worker posts it just
        before starting containers; the downward API may quote it)."""
        if (pod.get("status") or {}).get("podIP") or self.client is None:
            return pod
        m = pod.get("metadata") or {}
        try:
            return await self.client.get(
                f"/api/v1/namespaces/{m.get('namespace')}/pods/{m.get('name')}")
        except Exception:                 # noqa: BLE001  (keep what we have)
            return pod

    def _user(self, pod: dict, spec: dict) -> tuple[int, int] | None:
        ctx = {**((pod.get("spec") or {}).get("securityContext") or {}),
               **{k: v for k, v in (spec.get("securityContext") or {}).items()
                  if v is not None}}
        uid, gid = ctx.get("runAsUser"), ctx.get("runAsGroup")
        if ctx.get("runAsNonRoot"):
            # upstream kuberuntime security_context_others.go verifyRunAsNonRoot; the
            # "image" user is the kubelet's own here
            m = pod.get("metadata") or {}
            who = f'(pod: "{m.get("name")}_{m.get("namespace")}({m.get("uid")})", ' \
                  f'container: {spec.get("name")})'
            if uid is not None and int(uid) == 0:
                raise CreateContainerConfigError(
                    f"container's runAsUser breaks non-root policy {who}")
            if uid is None and os.geteuid() == 0:
                raise CreateContainerConfigError(
                    f"container has runAsNonRoot and image will run as root {who}")
        if uid is None and gid is None:
            return None
        uid = os.geteuid() if uid is None else int(uid)
        gid = os.getegid() if gid is None else int(gid)
        if os.geteuid() != 0 and (uid, gid) != (os.geteuid(), os.getegid()):
            raise CreateContainerConfigError(
                f"runAsUser {uid}/runAsGroup {gid}: the process runtime runs as uid "
                f"{os.geteuid()} and cannot change user")
        return uid, gid

    async def create_container(self, pod: dict, container: dict, attempt: int, *,
                               init: bool = False) -> str:
        pod = await self._fresh(pod)
        meta = pod.get("metadata") or {}
        uid, name = meta.get("uid", ""), container.get("name", "")
        poddir = self.pod_dir(uid)
        home = poddir / "containers" / name
        home.mkdir(parents=True, exist_ok=True)
        user = self._user(pod, container)
        sources = Sources(self.client, meta.get("namespace") or "default")
        env = await environment(pod, container, self.client, self.allocatable, sources)
        paths = await self._write_volumes(pod, sources, user)
        mounts = volumes.mounts(container, paths)
        env = {k: volumes.rewrite(v, mounts) for k, v in env.items()}
        argv = command_line(container, env)
        if argv is not None:
            argv = [volumes.rewrite(a, mounts) for a in argv]
        cwd = str(home)
        if container.get("workingDir"):
            wanted = volumes.rewrite(container["workingDir"], mounts)
            if os.path.isdir(wanted):
                cwd = wanted
            else:                         # made inside the container's own directory
                cwd = str(home / "root" / wanted.lstrip("/"))
                os.makedirs(cwd, exist_ok=True)
        if user is not None and os.geteuid() == 0:
            chown_tree(home, user[0], user[1])
        seed = f"{uid}/{name}/{attempt}/{next(self._ids)}/{os.getpid()}"
        cid = hashlib.sha256(seed.encode()).hexdigest()
        logs = poddir / "logs" / name
        logs.mkdir(parents=True, exist_ok=True)
        c = Container(cid, uid, name, container, init, argv,
                       {**self._base_env(pod, str(home)), **env}, cwd,
                       str(logs / f"{attempt}.log"), user)
        if argv is None:
            c.plan = (0.1, 0) if init else exit_plan(pod)
        c.pod, c.mounts = pod, mounts
        self._forget_old_attempts(uid, name)
        self.containers[cid] = c
        return cid

    def _forget_old_attempts(self, uid: str, name: str) -> None:
        """Keep one ended attempt of a container besides the new one (its logs answer
        ``--previous``); older ones and their logs go, as upstream's container garbage
        collection keeps one dead container per container."""
        ended = [c for c in self.containers.values()
                 if c.uid == uid and c.name == name and c.done.is_set()]
        for old in ended[:-1]:
            del self.containers[old.cid]
            for path in (old.log_path, old.log_path + ".1"):
                try:
                    os.unlink(path)
                except OSError:
                    pass

    async def _write_volumes(self, pod: dict, sources, user) -> dict:
        """Write the pod's volumes (``volumes.materialise``, its token cache kept here); with
        a container user (the kubelet being root) the files become that user's, fsGroup as
        their group, as upstream's volume ownership management does."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        poddir = self.pod_dir(uid)
        paths = await volumes.materialise(pod, poddir, sources, self.client, self.allocatable,
                                          self._tokens.setdefault(uid, {}))
        if user is not None:
            self._owners[uid] = user
        owner = self._owners.get(uid)
        if owner is not None and os.geteuid() == 0:
            group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
            chown_tree(poddir / "volumes", owner[0],
                        owner[1] if group is None else int(group))
        return paths

    async def _refresh_volumes(self, uid: str, pod: dict) -> None:
        """Every ``volume_sync`` seconds while a container of the pod runs: its volumes
        written again from the pod and objects as stored now (a failure keeps the files)."""
        try:
            while True:
                await asyncio.sleep(self.volume_sync)
                if not any(c.uid == uid and c.running for c in self.containers.values()):
                    return
                m = pod.get("metadata") or {}
                try:
                    if self.client is not None:
                        pod = await self.client.get(
                            f"/api/v1/namespaces/{m.get('namespace')}/pods/{m.get('name')}")
                    await self._write_volumes(
                        pod, Sources(self.client, m.get("namespace") or "default"), None)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:          # noqa: BLE001  (retried next period)
                    log.info("pod %s: volumes not refreshed: %s", m.get("name"), exc)
        finally:
            if self._refreshers.get(uid) is asyncio.current_task():
                del self._refreshers[uid]

    def _executable(self, c: Container, exe: str | None = None) -> str | None:
        exe = c.argv[0] if exe is None else exe
        if "/" in exe:
            path = exe if os.path.isabs(exe) else os.path.join(c.cwd, exe)
            return path if os.access(path, os.X_OK) else None
        return shutil.which(exe, path=c.env.get("PATH", DEFAULT_PATH))

    def _wrap(self, argv: list[str], user, tty: bool = False) -> list[str]:
        """Sandbox (and, for a tty, its controlling terminal) and user switch around a
        command line."""
        prefix = list(self.sandbox) + (CTTY_INSIDE if self.sandbox and tty else [])
        if user is not None and os.geteuid() == 0:
            prefix += ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}",
                       "--clear-groups", "--"]
        return prefix + argv

    async def start_container(self, cid: str) -> None:
        c = self.containers[cid]
        c.log = LogFile(c.log_path)
        c.started = True
        if c.uid not in self._refreshers and c.pod is not None:
            self._refreshers[c.uid] = asyncio.get_running_loop().create_task(
                self._refresh_volumes(c.uid, c.pod))
        if c.argv is None:
            self._spawn_task(self._virtual(c))
            return
        if self._executable(c) is None:
            c.log.feed("stderr", f'exec: "{c.argv[0]}": executable file not found in $PATH\n'
                       .encode())
            c.finish(128)
            return
        fds_to_close = []
        if c.tty:
            master, slave = pty.openpty()
            stdin = stdout = stderr = slave
            fds_to_close.append(slave)
            c.master = master
            if c.wants_stdin:
                c.stdin_fd = master
        else:
            stdin = subprocess.DEVNULL
            if c.wants_stdin:
                r, w = os.pipe()
                stdin, c.stdin_fd = r, w
                os.set_blocking(w, False)
                fds_to_close.append(r)
            out_r, stdout = os.pipe()
            err_r, stderr = os.pipe()
            fds_to_close += [stdout, stderr]
        try:
            c.proc = await asyncio.create_subprocess_exec(
                *self._wrap(c.argv, c.user, c.tty), stdin=stdin, stdout=stdout, stderr=stderr,
                cwd=c.cwd, env=c.env, start_new_session=True,
                preexec_fn=child_setup(c.tty and not self.sandbox))
        except (OSError, subprocess.SubprocessError) as exc:
            for fd in ([] if c.tty else [out_r, err_r]) + [x for x in (c.master,) if x]:
                os.close(fd)
            c.master = None
            if c.stdin_fd is not None and not c.tty:
                os.close(c.stdin_fd)
            c.stdin_fd = None
            c.log.feed("stderr", f"failed to start {c.argv[0]!r}: {exc}\n".encode())
            c.finish(128)
            return
        finally:
            for fd in fds_to_close:
                os.close(fd)
        c.pgid = c.proc.pid
        if c.tty:
            c.readers = [FdReader(os.dup(c.master), lambda d: c.output("stdout", d))]
        else:
            c.readers = [FdReader(out_r, lambda d: c.output("stdout", d)),
                         FdReader(err_r, lambda d: c.output("stderr", d))]
        self._spawn_task(self._reap(c))

    def _spawn_task(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _virtual(self, c: Container) -> None:
        after, code = c.plan
        try:
            await asyncio.wait_for(c.stop_requested.wait(), after)
            c.finish(0)
        except asyncio.TimeoutError:
            c.finish(code)

    async def _reap(self, c: Container) -> None:
        code = exit_code(await c.proc.wait())
        kill_group(c.pgid, signal.SIGKILL)          # the container ends as a whole
        try:
            await asyncio.wait_for(asyncio.gather(*(r.closed.wait() for r in c.readers)), 2)
        except asyncio.TimeoutError:
            pass
        for r in c.readers:
            r.close()
        if c.master is not None:
            try:
                os.close(c.master)
            except OSError:
                pass
            c.stdin_fd = None if c.stdin_fd == c.master else c.stdin_fd
        c.finish(code)

    async def wait_container(self, cid: str) -> int:
        c = self.containers.get(cid)
        if c is None:                     # a previous kubelet's: its processes died with it
            log.info("container %s is unknown to this kubelet: reported as exited", cid[:12])
            return 137
        return await c.wait()

    async def post_start(self, cid: str) -> str | None:
        c = self.containers.get(cid)
        return await process_probe.container_post_start(self, c) if c is not None else None

    async def stop_container(self, cid: str, grace: float) -> int:
        c = self.containers.get(cid)
        if c is None:
            return 0
        if not c.started:
            c.started = True
            c.finish(0)
        if c.done.is_set():
            return c.code or 0
        hook = ((c.spec.get("lifecycle") or {}).get("preStop"))
        if isinstance(hook, dict) and grace > 0 and c.running:
            # upstream kuberuntime_container.go killContainer: the hook runs within the
            # grace period, what is left of it (at least 2 s) is SIGTERM's
            started = asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(process_probe.pre_stop(self, cid, hook, c.spec), grace)
            except asyncio.TimeoutError:
                log.info("preStop hook of %s did not finish within %.0fs", c.name, grace)
            except Exception as exc:          # noqa: BLE001  (a failed hook: stop anyway)
                log.info("preStop hook of %s failed: %s", c.name, exc)
            grace = max(grace - (asyncio.get_running_loop().time() - started), 2.0)
        c.stop_requested.set()
        if c.proc is not None:
            kill_group(c.pgid, signal.SIGTERM)
            if self.sandbox and c.tty:       # its own session inside (CTTY_INSIDE)
                kill_group(first_child(c.pgid), signal.SIGTERM)
            try:
                await asyncio.wait_for(c.done.wait(), max(grace, 0))
            except asyncio.TimeoutError:
                kill_group(c.pgid, signal.SIGKILL)
                try:
                    await asyncio.wait_for(c.done.wait(), STOP_EXTRA)
                except asyncio.TimeoutError:
                    c.finish(137)
        await c.done.wait()
        return c.code or 0

    async def remove_pod(self, uid: str) -> None:
        refresher = self._refreshers.pop(uid, None)
        if refresher is not None:
            refresher.cancel()
        self._tokens.pop(uid, None)
        self._owners.pop(uid, None)
        mine = [c for c in self.containers.values() if c.uid == uid]
        await asyncio.gather(*(self.stop_container(c.cid, 0) for c in mine),
                             return_exceptions=True)
        for c in mine:
            self.containers.pop(c.cid, None)
        shutil.rmtree(self.pod_dir(uid), ignore_errors=True)

    # ---- probes, usage ----------------------------------------------------------------------
    async def probe(self, cid: str, kind: str, probe: dict, host: str | None) -> ProbeResult:
        c = self.containers.get(cid)
        if c is None or not c.running:
            raise ContainerNotRunning(cid)
        return await process_probe.run(self, cid, probe, c.spec)

    def container_usage(self, cid: str) -> tuple[float, int] | None:
        """(CPU core-seconds, resident bytes) of the container's process group, read from
        /proc (exited children's time is in their parents' cumulative fields); None when
        it has no process."""
        c = self.containers.get(cid)
        if c is None or c.pgid is None or not c.running:
            return None
        return group_usage(c.pgid)

    # ---- streaming ----------------------------------------------------------------------------
    def _running(self, cid: str) -> Container:
        c = self.containers.get(cid)
        if c is None or not c.running:
            raise ContainerNotRunning(f"container {cid[:12]} is not running")
        return c

    def _enter(self, c: Container) -> list[str]:
        """nsenter into a sandboxed container's PID and mount namespaces."""
        if not self.sandbox or c.pgid is None:
            return []
        inner = first_child(c.pgid)
        if inner is None:
            return []
        flags = ["--pid", "--mount"] + (["--user", "--preserve-credentials"]
                                        if "--user" in self.sandbox else [])
        return ["nsenter", f"--target={inner}", *flags, f"--wd={c.cwd}", "--"]

    async def exec(self, cid: str, command: list[str], *, stdin: bool,
                   tty: bool) -> ContainerStream:
        c = self._running(cid)
        command = [volumes.rewrite(str(a), c.mounts) for a in command]
        if not command or self._executable(c, command[0]) is None:
            raise StreamingUnsupported(
                f'exec: "{command[0] if command else ""}": executable file not found in $PATH')
        enter = self._enter(c)
        if enter and tty:
            enter += CTTY_INSIDE
        argv = enter + ([] if c.user is None or os.geteuid() != 0 else [
            "setpriv", f"--reuid={c.user[0]}", f"--regid={c.user[1]}", "--clear-groups",
            "--"]) + list(command)
        return await spawn_exec(argv, c.cwd, c.env, stdin=stdin, tty=tty,
                                spawn_task=self._spawn_task, name=command[0],
                                ctty=not enter)

    async def attach(self, cid: str, *, stdin: bool, tty: bool) -> ContainerStream:
        c = self._running(cid)
        if c.proc is None:
            raise StreamingUnsupported(f"container {c.name} has no process to attach to "
                                       "(it has no command)")
        return AttachStream(c, stdin, tty and c.tty)

    def logs(self, cid: str, *, follow: bool):
        c = self.containers.get(cid)
        if c is None:
            return _empty()
        return read_log(c.log_path, c.log, follow)

    async def port_forward(self, pod: dict, port: int):
        return await asyncio.open_connection("127.0.0.1", int(port))


async def _empty():
    return
    yield
