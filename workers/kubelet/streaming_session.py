"""What an exec, attach or port-forward session does once its transport is up, the same
over websockets and SPDY (upstream pkg/kubelet/cri/streaming/remotecommand/{exec,attach}.go
and cri/streaming/portforward/{websocket,httpstream}.go, with the runtime's CRI calls).

A transport hands ``RemoteCommand.run`` a ``CommandIO``: coroutine functions reading the
client's stdin and resize streams (``b""`` at EOF), writing stdout and stderr, and writing
the final ``Status`` (the transport encodes it for its protocol version), plus an event set
when the client goes away.  ``run`` starts the runtime session, copies the streams until
the command (or, for attach, the container) ends and its output is drained, then writes
Success, NonZeroExitCode or InternalError.  The transport closes the connection after.

``PortForwarder.forward`` joins one client data stream to one TCP connection into the pod
and returns the error text the transport writes on that port's error stream (or None).
"""
from __future__ import annotations

import asyncio
import collections
import errno
import json
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from .runtime import ContainerNotRunning, StreamingUnsupported
from .streaming import CommandOptions, exit_failure, internal_error, success

log = logging.getLogger("workers.kubelet.streaming")

COPY_SIZE = 64 * 1024


class Pipe:
    """Bytes the client sent for one stream, read in order by one reader: bounded (a writer
    waits while ``limit`` chunks are queued), ``close()`` is EOF once what is queued is
    read."""

    def __init__(self, limit: int = 64):
        self._items: collections.deque[bytes] = collections.deque()
        self._limit, self._eof = limit, False
        self._readable, self._writable = asyncio.Event(), asyncio.Event()
        self._writable.set()

    async def put(self, data: bytes) -> None:
        while len(self._items) >= self._limit and not self._eof:
            self._writable.clear()
            await self._writable.wait()
        if data and not self._eof:
            self._items.append(data)
            self._readable.set()

    def close(self) -> None:
        self._eof = True
        self._readable.set()
        self._writable.set()

    async def read(self) -> bytes:
        while not self._items:
            if self._eof:
                return b""
            self._readable.clear()
            await self._readable.wait()
        self._writable.set()
        return self._items.popleft()


Reader = Callable[[], Awaitable[bytes]]
Writer = Callable[[bytes], Awaitable[None]]


@dataclass
class CommandIO:
    """One transport's side of a session; a stream the client did not ask for is None."""
    write_status: Callable[[dict], Awaitable[None]]
    stdin: Reader | None = None
    stdout: Writer | None = None
    stderr: Writer | None = None
    resize: Reader | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)


async def _copy_out(read: Reader, write: Writer | None) -> None:
    """Runtime output to the client until EOF; once the client cannot take more, the rest
    is still read (a process must never block on a full pipe nobody drains)."""
    while data := await read():
        if write is None:
            continue
        try:
            await write(data)
        except Exception:              # noqa: BLE001  (the transport's error: client gone)
            write = None


async def _copy_in(read: Reader, stream) -> None:
    while data := await read():
        await stream.write_stdin(data)
    await stream.close_stdin()


async def _resize(read: Reader, stream) -> None:
    """Channel 4 / the resize stream: JSON ``{"Width":…,"Height":…}`` objects one after
    another (client-go tools/remotecommand resize.go); a malformed one ends resizing, as
    the kubelet's decoder loop does."""
    decoder, buf = json.JSONDecoder(), ""
    while data := await read():
        buf += data.decode("utf-8", "replace")
        while True:
            buf = buf.lstrip()
            if not buf:
                break
            try:
                size, end = decoder.raw_decode(buf)
            except ValueError:
                if buf.startswith("{") and "}" not in buf:
                    break                   # the rest of the object is still coming
                return
            buf = buf[end:]
            if isinstance(size, dict):
                try:
                    stream.resize(int(size.get("Width") or 0), int(size.get("Height") or 0))
                except (TypeError, ValueError):
                    return


class RemoteCommand:
    """One exec (``command``) or attach of container ``cid``; see the module docstring."""

    def __init__(self, runtime, kind: str, cid: str, command: list[str],
                 opts: CommandOptions):
        self.runtime, self.kind, self.cid = runtime, kind, cid
        self.command, self.opts = list(command), opts

    async def _start(self):
        if self.kind == "exec":
            if not self.command:
                raise StreamingUnsupported("no command given")
            return await self.runtime.exec(self.cid, self.command, stdin=self.opts.stdin,
                                           tty=self.opts.tty)
        return await self.runtime.attach(self.cid, stdin=self.opts.stdin, tty=self.opts.tty)

    def _failure(self, exc: BaseException) -> dict:
        what = "error executing command in container" if self.kind == "exec" \
            else "error attaching to container"
        return internal_error(f"{what}: {exc}")

    async def run(self, io: CommandIO) -> None:
        try:
            stream = await self._start()
        except (StreamingUnsupported, ContainerNotRunning) as exc:
            return await _report(io, self._failure(exc))
        except Exception as exc:        # noqa: BLE001  (a runtime fault is the client's error)
            log.exception("%s in container %s failed to start", self.kind, self.cid)
            return await _report(io, self._failure(exc))
        loop = asyncio.get_running_loop()
        outputs = [loop.create_task(_copy_out(stream.read_stdout, io.stdout)),
                   loop.create_task(_copy_out(stream.read_stderr, io.stderr))]
        helpers = []
        if io.stdin is not None and self.opts.stdin:
            helpers.append(loop.create_task(_copy_in(io.stdin, stream)))
        if io.resize is not None and self.opts.tty:
            helpers.append(loop.create_task(_resize(io.resize, stream)))

        async def finished() -> int:
            code = await stream.wait()
            await asyncio.gather(*outputs)
            return code
        done = loop.create_task(finished())
        gone = loop.create_task(io.gone.wait())
        try:
            await asyncio.wait({done, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not done.done():
                # the client went away: exec kills its command, attach detaches
                await stream.close()
                return
            code = done.result()
        except Exception as exc:        # noqa: BLE001
            log.exception("%s in container %s failed", self.kind, self.cid)
            await stream.close()
            return await _report(io, self._failure(exc))
        finally:
            for t in helpers + outputs + [done, gone]:
                t.cancel()
            await asyncio.gather(*helpers, *outputs, done, gone, return_exceptions=True)
        if self.kind == "exec" and code != 0:
            return await _report(io, exit_failure(self.command, code))
        await _report(io, success())


async def _report(io: CommandIO, status: dict) -> None:
    try:
        await io.write_status(status)
    except Exception:                   # noqa: BLE001  (the client is gone: nobody to tell)
        pass


def _reason(exc: OSError) -> str:
    """Go's text for the common connect failures (syscall.Errno strings)."""
    if exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    return exc.strerror or str(exc) or type(exc).__name__


class PortForwarder:
    """Port-forward sessions into one pod (``runtime.port_forward``)."""

    def __init__(self, runtime, pod: dict):
        self.runtime, self.pod = runtime, pod
        self.uid = (pod.get("metadata") or {}).get("uid", "")

    def _error(self, port: int, text: str) -> str:
        # the CRI streaming server names the sandbox and no uid (portforward/httpstream.go)
        return f"error forwarding port {port} to pod {self.uid}, uid : {text}"

    async def forward(self, port: int, read: Reader, write: Writer) -> str | None:
        """Copy both ways until the pod's side of the connection ends (the client's EOF
        half-closes the pod's side).  Returns the error text, or None."""
        try:
            reader, writer = await self.runtime.port_forward(self.pod, port)
        except StreamingUnsupported as exc:
            return self._error(port, str(exc))
        except OSError as exc:
            return self._error(port, f'failed to connect to localhost:{port} inside '
                                     f'namespace "{self.uid}": {_reason(exc)}')

        async def upstream():
            try:
                while data := await read():
                    writer.write(data)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
            except Exception:            # noqa: BLE001  (either side went away)
                pass
        up = asyncio.get_running_loop().create_task(upstream())
        try:
            while data := await reader.read(COPY_SIZE):
                await write(data)
        except OSError as exc:
            if not isinstance(exc, (ConnectionResetError, BrokenPipeError)):
                log.debug("port %d of %s: %s", port, self.uid, exc)
        except Exception:               # noqa: BLE001  (the client's stream is gone)
            pass
        finally:
            up.cancel()
            await asyncio.gather(up, return_exceptions=True)
            writer.close()
        return None
