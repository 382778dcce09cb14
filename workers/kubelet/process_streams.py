"""Byte plumbing of the process runtime: non-blocking readers and writers on pipes and pty
masters, the per-attempt log file, and the two ``ContainerStream`` kinds (exec, attach).

* ``FdReader(fd, on_data, on_eof)`` reads ``fd`` on the event loop (``EIO`` from a pty
  whose slave closed is EOF) and can be paused; ``write_all(fd, data)`` writes all of
  ``data`` to a non-blocking fd.
* ``LogFile``: one container attempt's output in the CRI log format the kubelet reads
  (upstream pkg/kubelet/kuberuntime/logs/logs.go: ``TIMESTAMP STREAM F|P DATA``, one line
  per output line, ``P`` for a part of a line longer than ``MAX_LINE``), rotated once past
  ``MAX_LOG_SIZE`` (one older part kept as ``PATH.1``); ``read_log`` is the async iterator of
  ``LogLine`` behind ``Runtime.logs``, following the file (across rotations) until the
  attempt ended.
* ``ExecStream``: a command started for ``exec``; output queued (reading pauses while the
  client is slow, so memory stays bounded); ``close()`` kills its process group.
* ``AttachStream``: one attacher of a container's main process; output is fanned out by
  the container, and an attacher that falls ``ATTACH_BACKLOG`` chunks behind loses the
  oldest (the container is never blocked by its attachers).
"""
from __future__ import annotations

import asyncio
import collections
import errno
import fcntl
import os
import signal
import struct
import termios
import time

from .runtime import ContainerStream, LogLine

MAX_LINE = 16 * 1024
MAX_LOG_SIZE = 10 * 1024 * 1024
QUEUE_CHUNKS = 64
ATTACH_BACKLOG = 1024


def exit_code(returncode: int | None) -> int:
    """A process's exit status as container runtimes report it (128+N for signal N)."""
    if returncode is None:
        return 0
    return 128 - returncode if returncode < 0 else returncode


def rfc3339_nano(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def kill_group(pgid: int | None, sig: int) -> None:
    if not pgid:
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class FdReader:
    """See the module docstring."""

    def __init__(self, fd: int, on_data, on_eof=None):
        self.fd, self.on_data, self.on_eof = fd, on_data, on_eof
        self.loop = asyncio.get_running_loop()
        self.closed = asyncio.Event()
        self.paused = False
        os.set_blocking(fd, False)
        self.loop.add_reader(fd, self._ready)

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:                   # EIO: the pty's other side is closed
            data = b""
        if data:
            self.on_data(data)
        else:
            self.close()

    def pause(self) -> None:
        if not self.paused and not self.closed.is_set():
            self.paused = True
            self.loop.remove_reader(self.fd)

    def resume(self) -> None:
        if self.paused and not self.closed.is_set():
            self.paused = False
            self.loop.add_reader(self.fd, self._ready)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.loop.remove_reader(self.fd)
        try:
            os.close(self.fd)
        except OSError:
            pass
        if self.on_eof:
            self.on_eof()


async def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a non-blocking ``fd`` (waits while its buffer is full)."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except (BlockingIOError, InterruptedError):
            ready = loop.create_future()
            loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_writer(fd)


def set_winsize(fd: int | None, width: int, height: int) -> None:
    if fd is None:
        return
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(height, 0),
                                                          max(width, 0), 0, 0))
    except OSError:
        pass


class Queue:
    """Chunks from one ``FdReader``, read with ``read()``; pauses the reader when full."""

    def __init__(self):
        self.chunks: collections.deque = collections.deque()
        self.eof = False
        self.reader: FdReader | None = None
        self._wake = asyncio.Event()

    def put(self, data: bytes) -> None:
        self.chunks.append(data)
        self._wake.set()
        if self.reader is not None and len(self.chunks) >= QUEUE_CHUNKS:
            self.reader.pause()

    def end(self) -> None:
        self.eof = True
        self._wake.set()

    async def read(self) -> bytes:
        while not self.chunks and not self.eof:
            self._wake.clear()
            await self._wake.wait()
        if self.chunks:
            data = self.chunks.popleft()
            if self.reader is not None and len(self.chunks) < QUEUE_CHUNKS // 2:
                self.reader.resume()
            return data
        return b""


class LogFile:
    """See the module docstring.  ``feed(stream, data)`` as output arrives; ``close()`` at
    the attempt's end (a last partial line is written as ``P``)."""

    def __init__(self, path, max_size: int = MAX_LOG_SIZE):
        self.path = str(path)
        self.file = open(self.path, "ab", buffering=0)
        self.size = self.file.tell()
        self.max_size = max_size
        self.generation = 0               # counts rotations: readers then reopen the path
        self.partial = {"stdout": b"", "stderr": b""}
        self.ended = False
        self._waiters: set[asyncio.Future] = set()

    def _line(self, stream: str, tag: str, data: bytes) -> None:
        line = f"{rfc3339_nano()} {stream} {tag} ".encode() + data + b"\n"
        if self.size + len(line) > self.max_size and self.size:
            # upstream's containerLogMaxSize/MaxFiles (10Mi, here one rotated file kept)
            self.file.close()
            os.replace(self.path, self.path + ".1")
            self.file = open(self.path, "ab", buffering=0)
            self.size = 0
            self.generation += 1
        self.file.write(line)
        self.size += len(line)

    def feed(self, stream: str, data: bytes) -> None:
        if self.ended:
            return
        buf = self.partial[stream] + data
        *lines, rest = buf.split(b"\n")
        for line in lines:
            while len(line) > MAX_LINE:
                self._line(stream, "P", line[:MAX_LINE])
                line = line[MAX_LINE:]
            self._line(stream, "F", line)
        while len(rest) > MAX_LINE:
            self._line(stream, "P", rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self.partial[stream] = rest
        self._notify()

    def close(self) -> None:
        if self.ended:
            return
        for stream, rest in self.partial.items():
            if rest:
                self._line(stream, "P", rest)
        self.ended = True
        self.file.close()
        self._notify()

    def _notify(self) -> None:
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters.clear()

    def changed(self) -> asyncio.Future:
        """A future done at the next write or at the end (registered at once, so a write
        between this call and the await is not missed)."""
        w = asyncio.get_running_loop().create_future()
        self._waiters.add(w)
        return w


def parse_log_line(raw: bytes) -> LogLine | None:
    try:
        stamp, stream, tag, data = raw.split(b" ", 3)
    except ValueError:
        return None
    if data.endswith(b"\n"):
        data = data[:-1]
    if tag == b"F":
        data += b"\n"
    return LogLine(stamp.decode(), stream.decode(), data)


async def read_log(path: str, log: LogFile | None, follow: bool):
    """Every line of the attempt's log (its rotated part first), then (``follow``, while
    ``log`` is still being written) the new ones as they come, across rotations."""
    for part in (path + ".1", path):
        try:
            f = open(part, "rb")
        except FileNotFoundError:
            continue
        generation = log.generation if log is not None else 0
        pending = b""
        try:
            while True:
                live = part == path and follow and log is not None and not log.ended
                waiting = log.changed() if live else None
                chunk = f.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for raw in lines:
                        line = parse_log_line(raw)
                        if line is not None:
                            yield line
                if waiting is None:
                    break
                if chunk:
                    waiting.cancel()
                    continue
                if log.generation != generation:      # rotated: on to the new file
                    waiting.cancel()
                    f.close()
                    f = open(path, "rb")
                    generation, pending = log.generation, b""
                    continue
                await waiting
        finally:
            f.close()


class ExecStream(ContainerStream):
    """See the module docstring."""

    def __init__(self, proc, tty: bool, stdin_fd: int | None, out: Queue, err: Queue | None,
                 master: int | None = None):
        self.proc, self.tty, self.stdin_fd = proc, tty, stdin_fd
        self.out, self.err, self.master = out, err, master

    async def read_stdout(self) -> bytes:
        return await self.out.read()

    async def read_stderr(self) -> bytes:
        return b"" if self.err is None else await self.err.read()

    async def write_stdin(self, data: bytes) -> None:
        if self.stdin_fd is not None and data:
            try:
                await write_all(self.stdin_fd, data)
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                    raise

    async def close_stdin(self) -> None:
        fd, self.stdin_fd = self.stdin_fd, None
        if fd is None:
            return
        if self.tty:                      # the pty stays (it is the output too): send EOF
            try:
                await write_all(fd, b"\x04")
            except OSError:
                pass
            return
        try:
            os.close(fd)
        except OSError:
            pass

    def resize(self, width: int, height: int) -> None:
        if self.tty:
            set_winsize(self.master, width, height)

    async def wait(self) -> int:
        return exit_code(await self.proc.wait())

    async def close(self) -> None:
        if self.proc.returncode is None:
            kill_group(self.proc.pid, signal.SIGKILL)
        await self.close_stdin()


class AttachStream(ContainerStream):
    """See the module docstring; ``container`` is the runtime's record of the process."""

    def __init__(self, container, stdin: bool, tty: bool):
        self.container, self.tty = container, tty
        self.stdin = stdin and container.stdin_fd is not None
        self.out, self.err = Queue(), Queue()
        if tty:
            self.err.end()
        container.attachers.add(self)

    def deliver(self, stream: str, data: bytes) -> None:
        q = self.err if stream == "stderr" and not self.tty else self.out
        if len(q.chunks) >= ATTACH_BACKLOG:
            q.chunks.popleft()
        q.put(data)

    def end(self) -> None:
        self.out.end()
        self.err.end()

    async def read_stdout(self) -> bytes:
        return await self.out.read()

    async def read_stderr(self) -> bytes:
        return await self.err.read()

    async def write_stdin(self, data: bytes) -> None:
        fd = self.container.stdin_fd
        if self.stdin and fd is not None and data:
            try:
                await write_all(fd, data)
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                    raise

    async def close_stdin(self) -> None:
        # stdinOnce: the first attacher to close stdin closes the container's (upstream
        # CRI semantics); otherwise the stream stays open for the next attacher
        if self.stdin and self.container.stdin_once:
            self.container.close_stdin()
        self.stdin = False

    def resize(self, width: int, height: int) -> None:
        if self.tty:
            set_winsize(self.container.master, width, height)

    async def wait(self) -> int:
        return await self.container.wait()

    async def close(self) -> None:
        self.container.attachers.discard(self)
        self.end()
