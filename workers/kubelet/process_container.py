"""One container attempt of the process runtime: its command line, environment and
working directory, its process and file descriptors, its log and its attachers."""
from __future__ import annotations

import asyncio
import os

from .process_streams import AttachStream, FdReader, LogFile


class Container:
    """One attempt of one container."""

    def __init__(self, cid, uid, name, spec, init, argv, env, cwd, log_path, user):
        self.cid, self.uid, self.name, self.spec, self.init = cid, uid, name, spec, init
        self.argv, self.env, self.cwd, self.log_path, self.user = argv, env, cwd, log_path, user
        self.tty, self.stdin_once = bool(spec.get("tty")), bool(spec.get("stdinOnce"))
        self.wants_stdin = bool(spec.get("stdin"))
        self.log: LogFile | None = None
        self.proc = None
        self.pgid: int | None = None
        self.stdin_fd: int | None = None
        self.master: int | None = None
        self.attachers: set[AttachStream] = set()
        self.started = False
        self.code: int | None = None
        self.done = asyncio.Event()
        self.stop_requested = asyncio.Event()
        self.plan = (None, 0)             # virtual containers: (exit after, exit code)
        self.readers: list[FdReader] = []
        self.pod: dict | None = None
        self.mounts: list = []            # (mountPath, host dir): exec commands are rewritten too

    @property
    def running(self) -> bool:
        return self.started and not self.done.is_set()

    def close_stdin(self) -> None:
        fd, self.stdin_fd = self.stdin_fd, None
        if fd is not None and fd != self.master:
            try:
                os.close(fd)
            except OSError:
                pass

    def output(self, stream: str, data: bytes) -> None:
        if self.log is not None:
            self.log.feed(stream, data)
        for a in list(self.attachers):
            a.deliver(stream, data)

    async def wait(self) -> int:
        await self.done.wait()
        return self.code or 0

    def finish(self, code: int) -> None:
        if self.done.is_set():
            return
        self.code = code
        if self.log is not None:
            self.log.close()
        self.close_stdin()
        for a in list(self.attachers):
            a.end()
        self.done.set()
