"""``GET /containerLogs/{ns}/{pod}/{container}``: a container's log as a chunked
``text/plain`` stream (upstream pkg/kubelet/server/server.go ``getContainerLogs``, the
attempt chosen as pkg/kubelet/kubelet_pods.go ``validateContainerLogStatus``, the options
applied as pkg/kubelet/kuberuntime/logs/logs.go ``ReadLogs``).

Options are v1.PodLogOptions query parameters: ``follow``, ``previous``, ``timestamps``,
``sinceSeconds``, ``sinceTime`` (RFC 3339), ``tailLines`` (the legacy ``tail`` too, ``all``
meaning none), ``limitBytes``, ``stream`` (only ``All``: the PodLogsQuerySplitStreams gate
is off in 1.32).  On the runtime's ``LogLine``s, as ReadLogs does: the last ``tailLines``
complete lines are taken first (a trailing partial line comes with them), then lines older
than the since time are skipped, ``timestamps`` prefixes each line with its RFC3339Nano time
and a space, and the output stops after ``limitBytes`` bytes (cutting a line).  With
``follow`` the response stays open until the attempt ends or the client leaves; each write
is flushed at once (lines that are already waiting go out in one chunk).
"""
from __future__ import annotations

import asyncio
import calendar
import logging
import re
import time

from . import status as st
from .runtime import StreamingUnsupported
from .streaming import Refusal, find_record, find_worker, public_bool, query

log = logging.getLogger("workers.kubelet.streaming")

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"([Zz]|[+-]\d\d:\d\d)$")


def parse_time_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time (fraction kept to 9 digits)."""
    m = _RFC3339.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    try:
        secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    zone = m.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return secs * 10 ** 9 + int((m.group(7) or "")[:9].ljust(9, "0"))


def format_time_ns(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: trailing zeros of the fraction dropped."""
    secs, frac = divmod(ns, 10 ** 9)
    fraction = f"{frac:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + \
        (f".{fraction}" if fraction else "") + "Z"


class LogOptions:
    """The decoded and validated PodLogOptions."""

    def __init__(self, q: dict, now: float):
        def one(name):
            values = q.get(name)
            return values[0] if values else None

        def number(name):
            raw = one(name)
            if raw is None:
                return None
            try:
                return int(raw)
            except ValueError:
                # the parameter codec's failure (server.go getContainerLogs)
                raise Refusal(400, '{"message": "Unable to decode query."}') from None
        tail = one("tail")
        if tail:                                   # the legacy name wins, "all" is no limit
            q = {**q, "tailLines": [] if tail == "all" else [tail]}
        self.follow = public_bool(q.get("follow") or [])
        self.previous = public_bool(q.get("previous") or [])
        self.timestamps = public_bool(q.get("timestamps") or [])
        self.tail, self.limit_bytes = number("tailLines"), number("limitBytes")
        since_seconds, since_time = number("sinceSeconds"), one("sinceTime")
        self.since_ns = None
        if since_time is not None:
            self.since_ns = parse_time_ns(since_time)
            if self.since_ns is None:
                raise Refusal(400, '{"message": "Unable to decode query."}')
        invalid = (self.tail is not None and self.tail < 0) or \
            (self.limit_bytes is not None and self.limit_bytes < 1) or \
            (since_seconds is not None and since_seconds < 1) or \
            (since_seconds is not None and since_time is not None)
        if invalid:                                # validation.ValidatePodLogOptions
            raise Refusal(422, '{"message": "Invalid request."}')
        if since_seconds is not None:
            self.since_ns = int((now - since_seconds) * 10 ** 9)
        stream = one("stream")
        if stream is not None and stream != "All":
            raise Refusal(400, f'unable to return the given log stream: "{stream}". Please '
                               f'enable PodLogsQuerySplitStreams feature gate in kubelet')


def _last_id(rec: st.ContainerRecord) -> str:
    """The previous attempt's container id, from its lastState (``runtime://id``)."""
    return (rec.last_state.get("containerID") or "").split("://", 1)[-1] \
        if rec.last_state else ""


def attempt(rec: st.ContainerRecord, pod: str, previous: bool) -> str:
    """Which attempt's log to read, or upstream's refusal (its order of cases)."""
    name = rec.name
    if previous:
        cid = _last_id(rec)
        if not cid:
            raise Refusal(400, f'previous terminated container "{name}" in pod "{pod}" '
                               f'not found')
        return cid
    if rec.state == st.RUNNING and rec.container_id:
        return rec.container_id
    if rec.state == st.TERMINATED:
        cid = rec.container_id or _last_id(rec)
        if not cid:
            raise Refusal(400, f'container "{name}" in pod "{pod}" is terminated')
        return cid
    if rec.last_state:
        cid = _last_id(rec)
        if not cid:
            raise Refusal(400, f'container "{name}" in pod "{pod}" is terminated')
        return cid
    reason = rec.reason or ""
    detail = {"ErrImagePull": "image can't be pulled",
              "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
    if not detail:
        raise Refusal(400, f'container "{name}" in pod "{pod}" is waiting to start - no '
                           f'logs yet')
    raise Refusal(400, f'container "{name}" in pod "{pod}" is waiting to start: {detail}')


def tail_start(lines: list, n: int) -> int:
    """Index of the first of the last ``n`` complete lines (a trailing partial line is
    not counted, as findTailLineStartIndex)."""
    count = 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].data.endswith(b"\n"):
            if count == n:
                return i + 1
            count += 1
    return 0


class _Writer:
    """Applies since/timestamps/limitBytes; ``feed`` returns False once the limit is hit."""

    def __init__(self, opts: LogOptions):
        self.opts = opts
        self.remain = opts.limit_bytes if opts.limit_bytes is not None else -1
        self.buf = bytearray()

    def feed(self, line) -> bool:
        ns = parse_time_ns(line.time) if (self.opts.since_ns is not None
                                          or self.opts.timestamps) else None
        if self.opts.since_ns is not None and ns is not None and ns < self.opts.since_ns:
            return True
        data = line.data
        if self.opts.timestamps:
            stamp = format_time_ns(ns) if ns is not None else line.time
            data = stamp.encode() + b" " + data
        if self.remain >= 0:
            data = data[:self.remain]
            self.remain -= len(data)
        self.buf += data
        return self.remain != 0


async def _lines(runtime, cid: str, opts: LogOptions, out: asyncio.Queue) -> None:
    """Produce the lines to show into ``out`` (None at the end)."""
    try:
        if opts.tail is None:
            async for line in runtime.logs(cid, follow=opts.follow):
                await out.put(line)
            return
        history = [line async for line in runtime.logs(cid, follow=False)]
        for line in history[tail_start(history, opts.tail):]:
            await out.put(line)
        if opts.follow:
            skip = len(history)
            async for line in runtime.logs(cid, follow=True):
                if skip:
                    skip -= 1
                    continue
                await out.put(line)
    finally:
        await out.put(None)


async def serve(host, scope, receive, send, target) -> None:
    opts = LogOptions(query(scope), time.time())
    worker = find_worker(host, target.namespace, target.pod)
    if worker is None:
        raise Refusal(404, f'pod "{target.pod}" does not exist\n')
    rec = find_record(worker, target.container)
    if rec is None:
        raise Refusal(404, f'container "{target.container}" not found in pod '
                           f'"{target.pod}"\n')
    cid = attempt(rec, target.pod, opts.previous)
    try:
        # a runtime without logs refuses here, before the response starts
        host.runtime.logs(cid, follow=False)
    except StreamingUnsupported as exc:
        raise Refusal(400, str(exc)) from None
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"x-content-type-options", b"nosniff")]})
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue(maxsize=1024)
    producer = loop.create_task(_lines(host.runtime, cid, opts, lines))
    stream = loop.create_task(_stream(lines, _Writer(opts), send))
    gone = loop.create_task(_disconnected(receive))
    try:
        await asyncio.wait({stream, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        left = gone.done()
        for t in (producer, stream, gone):
            t.cancel()
        results = await asyncio.gather(producer, stream, gone, return_exceptions=True)
        for r in results[:2]:
            if isinstance(r, Exception) and not isinstance(r, OSError):
                log.warning("logs of container %s: %s: %s", cid, type(r).__name__, r)
    if not left:
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass


async def _stream(lines: asyncio.Queue, writer: _Writer, send) -> None:
    more = True
    while more:
        line = await lines.get()
        batch = [line]
        while not lines.empty() and len(batch) < 1024:
            batch.append(lines.get_nowait())
        for line in batch:
            if line is None or not writer.feed(line):
                more = False
                break
        if writer.buf:
            body, writer.buf = bytes(writer.buf), bytearray()
            await send({"type": "http.response.body", "body": body, "more_body": True})


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
