"""Process plumbing of the process runtime: the child set-up (die with the kubelet, a pty as
controlling terminal), the sandbox probe (``unshare``), ``spawn_exec`` (a command started for
``exec`` or an exec probe, as an ``ExecStream``), and usage read from /proc.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import pty
import shutil
import signal
import subprocess

from .process_streams import ExecStream, FdReader, Queue, kill_group
from .runtime import StreamingUnsupported

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


# A tty process in a PID namespace takes its pty as controlling terminal itself: were it
# taken by the process the kubelet starts (outside), the shell would see a foreground
# process group of another namespace (pgid 0) and fail to give the terminal back when it
# exits (dash: "Cannot set tty process group", exit 2).
CTTY_INSIDE = ["setsid", "--ctty"]


def child_setup(tty: bool):
    """preexec: die with the kubelet; when ``tty``, the pty on stdin becomes the controlling
    terminal (only where no ``CTTY_INSIDE`` does it within the sandbox)."""
    def setup():
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if tty:
            import fcntl
            import termios
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    return setup


def probe_sandbox(mode: str = "auto") -> list[str]:
    """The command prefix that puts a process in its own PID namespace, or [] (none)."""
    if mode == "none" or not shutil.which("unshare"):
        if mode == "unshare":
            raise ValueError("--process-sandbox unshare: unshare is not installed")
        return []
    prefix = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        prefix[1:1] = ["--user", "--map-root-user"]
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok and mode == "unshare":
        raise ValueError("--process-sandbox unshare: unshare cannot create namespaces here")
    return prefix if ok else []


async def spawn_exec(argv: list[str], cwd: str, env: dict, *, stdin: bool, tty: bool,
                     spawn_task, name: str = "", ctty: bool = True) -> ExecStream:
    """Start ``argv`` in its own process group (a pty when ``tty``, made its controlling
    terminal here when ``ctty``); ``spawn_task`` runs the coroutine that reaps it.  A command that cannot start raises
    ``StreamingUnsupported`` with the reason."""
    out, err = Queue(), (None if tty else Queue())
    close, stdin_fd, master = [], None, None
    if tty:
        master, slave = pty.openpty()
        fin = fout = ferr = slave
        close.append(slave)
        stdin_fd = master if stdin else None
    else:
        fin = subprocess.DEVNULL
        if stdin:
            r, stdin_fd = os.pipe()
            os.set_blocking(stdin_fd, False)
            fin = r
            close.append(r)
        out_r, fout = os.pipe()
        err_r, ferr = os.pipe()
        close += [fout, ferr]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd, env=env,
            start_new_session=True, preexec_fn=child_setup(tty and ctty))
    except (OSError, subprocess.SubprocessError) as exc:
        mine = [master] if tty else [out_r, err_r] + ([stdin_fd] if stdin_fd else [])
        for fd in mine:
            os.close(fd)
        raise StreamingUnsupported(f'exec: "{name or argv[0]}": {exc}') from None
    finally:
        for fd in close:
            os.close(fd)
    if tty:
        out.reader = FdReader(os.dup(master), out.put, out.end)
    else:
        out.reader = FdReader(out_r, out.put, out.end)
        err.reader = FdReader(err_r, err.put, err.end)
    stream = ExecStream(proc, tty, stdin_fd, out, err, master)

    async def reap():
        await proc.wait()
        kill_group(proc.pid, signal.SIGKILL)
        if master is not None:      # EIO ends the output once the slave is closed
            try:
                await asyncio.wait_for(out.reader.closed.wait(), 2)
            except asyncio.TimeoutError:
                out.reader.close()
            try:
                os.close(master)
            except OSError:
                pass
    spawn_task(reap())
    return stream


def first_child(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def group_usage(pgid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) summed over the live processes of process group ``pgid``."""
    ticks = rss = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[0] is field 3 (state): pgrp is 5, utime..cstime 14..17, rss 24
        if int(fields[2]) != pgid:
            continue
        ticks += sum(int(x) for x in fields[11:15])
        rss += int(fields[21]) * _PAGE
    return ticks / _TICKS, rss


def chown_tree(root, uid: int, gid: int) -> None:
    """Give every file and directory under ``root`` to ``uid``:``gid`` (links not followed)."""
    for base, dirs, files in os.walk(root):
        for name in [base] + [os.path.join(base, n) for n in dirs + files]:
            try:
                os.lchown(name, uid, gid)
            except OSError:
                pass
