"""Load-generator roles of bench/watch_bench.py; each runs in its own process.

    watch_load.py watchers --port P --path PATH --n N --mode http|ws|raw [--ca F --cert F --key F]
                          [--insecure-tls]
    watch_load.py fanout-server --port P [--tls CERT KEY] [--uvloop]
    watch_load.py notify-listen --dsn DSN --channel CH --n N

JSON lines: a role prints ``{"ready": …}`` / ``{"listening": …}`` when set up, then reads one
JSON command per stdin line and answers on stdout.  ``watchers`` opens N watches (64
handshakes at a time), one connection each: ``http`` = ``GET PATH`` over TLS (chunked, one
JSON event + ``\n`` per event), ``ws`` = the same URL over ``wss://`` (one text message per
event, no compression, as client-go), ``raw`` = to ``fanout-server``.  A watch counts as
subscribed when the 200 headers / the websocket handshake arrive (the server registers it
before answering).  Per event it keeps the resourceVersion, the ``bench/t0`` annotation and
the CLOCK_MONOTONIC receive time (system-wide on Linux).  ``{"cmd": "stop", "expected":
{rv: t_resp}, "drain": s}`` waits up to ``drain`` s for every open watcher to hold all
expected events, then answers ``{"result": …}``: counts, missing / duplicate / out-of-order /
unexpected resourceVersions, latency percentiles (receive - t0 and receive - t_resp).
``fanout-server`` is the raw asyncio fan-out baseline:
``asyncio.start_server``, an unbounded queue and a writer task per connection, each event
serialised once and put on every queue, flat out.  ``notify-listen`` LISTENs and reports
``(payload, receive time)`` for N notifications.  ``SlowWatcher`` (used in-process by
watch_bench.py) is a watch on a blocking socket that is not read until ``finish()``.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import queue
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import orjson

RV_KEY, T0_KEY = b'"resourceVersion":"', b'"bench/t0":"'
mono = time.monotonic


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def command():
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return json.loads(line) if line.strip() else {"cmd": "quit"}


def raise_nofile(want=20000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                    else want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pct(values, p):
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else math.nan


# ------------------------------------------------------------ helpers (also for watch_bench.py)
def rss_kib(pid):
    return next((int(x.split()[1]) for x in open(f"/proc/{pid}/status") if x[:6] == "VmRSS:"), 0)


def cpu_s(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A helper process speaking JSON lines (watch_load.py)."""

    def __init__(self, *argv, python):
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen([python, os.path.abspath(__file__), *map(str, argv)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, start_new_session=True)
        self.q, self.pid = queue.Queue(), self.p.pid
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            if line.startswith("{"):
                self.q.put(json.loads(line))
        self.q.put(None)

    def expect(self, key, timeout):
        deadline = mono() + timeout
        while True:
            try:
                msg = self.q.get(timeout=max(0.01, deadline - mono()))
            except queue.Empty:
                raise TimeoutError(f"no {key!r} from {self.p.args[2]} within {timeout}s") from None
            if msg is None:
                self.err.seek(0)
                raise RuntimeError(f"{self.p.args[2]} exited: {self.err.read()[-1500:]!r}")
            if key in msg:
                return msg

    def send(self, obj):
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()

    def stop(self):
        try:
            self.send({"cmd": "quit"})
            self.p.wait(10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(5)


def lat(values):
    values = sorted(values)
    return {"n": len(values), "p50": pct(values, .5) * 1e3, "p99": pct(values, .99) * 1e3,
            "max": pct(values, 1) * 1e3}




# ----------------------------------------------------------------------------- parsing
class Rec:
    """What one watcher saw."""
    __slots__ = ("rvs", "times", "t0s", "eof", "err", "other")

    def __init__(self):
        self.rvs, self.times, self.t0s, self.eof, self.err, self.other = [], [], [], False, None, 0

    def line(self, line: bytes, now: float):
        if not line:
            return
        if line.startswith(b'{"type":"BOOKMARK"'):
            self.other += 1
            return
        if line.startswith(b'{"type":"ERROR"'):
            self.err = line[:300].decode("utf-8", "replace")
            return
        i = line.find(RV_KEY)
        if i < 0:
            self.err = "event without resourceVersion: " + line[:200].decode("utf-8", "replace")
            return
        i += len(RV_KEY)
        self.rvs.append(int(line[i:line.index(b'"', i)]))
        k = line.find(T0_KEY)
        if k >= 0:
            k += len(T0_KEY)
            self.t0s.append(float(line[k:line.index(b'"', k)]))
        else:
            self.t0s.append(math.nan)
        self.times.append(now)


class Stream:
    """Incremental parser of one watch response: status line and headers (unless raw),
    chunked framing (http), newline-separated events -> Rec.  Usable from a Protocol or
    from a blocking socket."""

    def __init__(self, rec: Rec, mode: str):
        self.rec, self.mode = rec, mode
        self.head = bytearray() if mode == "http" else None
        self.status = None if mode == "http" else 200
        self.cbuf, self.need, self.lbuf, self.ended = bytearray(), 0, b"", False

    def feed(self, data: bytes, now: float):
        if self.head is not None:
            self.head += data
            i = self.head.find(b"\r\n\r\n")
            if i < 0:
                return
            first = bytes(self.head[:self.head.find(b"\r\n")])
            data, self.head = bytes(self.head[i + 4:]), None
            self.status = int(first.split()[1])
            if self.status != 200:
                self.rec.err = f"{first.decode('latin-1')} {data[:300].decode('latin-1')}"
                return
        if self.status != 200 or not data:
            return
        if self.mode == "http":
            data = self._dechunk(data)
        lines = (self.lbuf + data).split(b"\n")
        self.lbuf = lines.pop()
        for line in lines:
            self.rec.line(line, now)

    def _dechunk(self, data: bytes) -> bytes:
        self.cbuf += data
        out = []
        while not self.ended:
            if self.need == 0:
                i = self.cbuf.find(b"\r\n")
                if i < 0:
                    break
                size = int(bytes(self.cbuf[:i]).split(b";")[0], 16)
                del self.cbuf[:i + 2]
                if size == 0:
                    self.ended = True
                    break
                self.need = size + 2            # payload + CRLF
            if len(self.cbuf) >= self.need:
                out.append(bytes(self.cbuf[:self.need - 2]))
                del self.cbuf[:self.need]
                self.need = 0
            else:
                k = min(len(self.cbuf), self.need - 2)
                if k > 0:
                    out.append(bytes(self.cbuf[:k]))
                    del self.cbuf[:k]
                    self.need -= k
                break
        return b"".join(out)


class WatchProtocol(asyncio.Protocol):
    def __init__(self, rec, mode, request, ready):
        self.stream, self.request, self.ready = Stream(rec, mode), request, ready
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        if self.request:
            transport.write(self.request)
        elif not self.ready.done():
            self.ready.set_result(True)

    def data_received(self, data):
        self.stream.feed(data, mono())
        if not self.ready.done() and self.stream.status is not None:
            if self.stream.status == 200:
                self.ready.set_result(True)
            else:
                self.ready.set_exception(RuntimeError(self.stream.rec.err))
                self.transport.close()

    def connection_lost(self, exc):
        self.stream.rec.eof = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before subscribed: {exc}"))


class SlowWatcher:
    """A watch on a blocking TLS socket with a tiny receive buffer that is not read until
    finish(): the server's send buffer fills and its sends block."""

    def __init__(self, srv, path):
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(30)
        raw.connect(("127.0.0.1", srv.port))
        self.s = srv.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                       f"User-Agent: bench/slow-watch\r\n\r\n".encode())
        self.stream = Stream(Rec(), "http")
        self.rec = self.stream.rec
        while self.stream.status is None:       # read only the headers
            data = self.s.recv(256)
            if not data:
                raise RuntimeError("slow watcher: closed before the headers")
            self.stream.feed(data, mono())
        if self.stream.status != 200:
            raise RuntimeError(f"slow watcher: {self.rec.err}")

    def finish(self, expected_rvs, idle=5.0, total=60.0):
        self.s.settimeout(0.5)
        t_start, last, eof = mono(), mono(), False
        while mono() - t_start < total and mono() - last < idle:
            try:
                data = self.s.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except OSError as e:
                self.rec.err, eof = repr(e), True
                break
            if not data:
                eof = True
                break
            last = mono()
            self.stream.feed(data, last)
        self.s.close()
        got = self.rec.rvs
        return {"eof": eof or self.stream.ended, "events": len(got), "written": len(expected_rvs),
                "prefix_ok": got == expected_rvs[:len(got)], "resume_read_s": mono() - t_start}


# ----------------------------------------------------------------------------- watchers
async def ws_watch(rec, uri, ctx, ready):
    from websockets.asyncio.client import connect
    try:
        async with connect(uri, ssl=ctx, compression=None, max_size=None, open_timeout=120,
                           ping_interval=None, user_agent_header="bench/watch") as ws:
            ready.set_result(True)
            async for msg in ws:
                rec.line(msg.encode() if isinstance(msg, str) else msg, mono())
    except Exception as e:   # noqa: BLE001 - recorded per watcher
        if not ready.done():
            ready.set_exception(e)
        else:
            rec.err = rec.err or f"{type(e).__name__}: {e}"
    rec.eof = True


def analyse(recs, expected: dict, latency: bool) -> dict:
    exp = set(expected)
    lat_t0, lat_resp, errors = [], [], collections.Counter()
    s = dict(watchers=len(recs), expected_per_watcher=len(exp), events=0, complete=0,
             missing=0, duplicates=0, out_of_order=0, unexpected=0, ended=0,
             watchers_with_gaps=0, min_events=min((len(r.rvs) for r in recs), default=0),
             first_t=min((r.times[0] for r in recs if r.times), default=None),
             last_t=max((r.times[-1] for r in recs if r.times), default=None))
    for r in recs:
        got = set(r.rvs)
        missing = len(exp - got)
        s["events"] += len(r.rvs)
        s["missing"] += missing
        s["watchers_with_gaps"] += bool(missing)
        s["complete"] += not missing
        s["duplicates"] += len(r.rvs) - len(got)
        s["unexpected"] += len(got - exp)
        s["out_of_order"] += sum(1 for a, b in zip(r.rvs, r.rvs[1:]) if b <= a)
        s["ended"] += r.eof
        if r.err:
            errors[r.err[:160]] += 1
        if latency:
            for rv, t, t0 in zip(r.rvs, r.times, r.t0s):
                lat_t0.append(t - t0)
                if expected.get(rv) is not None:
                    lat_resp.append(t - expected[rv])
    s["errors"] = dict(errors.most_common(5))
    for name, v in (("lat_t0", lat_t0), ("lat_resp", lat_resp)):
        v.sort()
        s[name] = {"n": len(v), **{k: pct(v, p) * 1e3 for k, p in
                                   (("p50", .5), ("p90", .9), ("p99", .99), ("max", 1))}}
    return s


async def watchers(a):
    nofile = raise_nofile(a.n * 2 + 200)
    ctx = None
    if a.ca:
        ctx = ssl.create_default_context(cafile=a.ca)
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
    elif a.insecure_tls:                       # raw TLS baseline: self-signed, no client cert
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    loop = asyncio.get_running_loop()
    recs, transports, tasks = [Rec() for _ in range(a.n)], [], []
    request = (f"GET {a.path} HTTP/1.1\r\nHost: 127.0.0.1:{a.port}\r\nAccept: application/json"
               f"\r\nUser-Agent: bench/watch\r\n\r\n").encode()
    sem, failures, subscribed = asyncio.Semaphore(64), collections.Counter(), []

    async def open_one(i):
        async with sem:
            ready = loop.create_future()
            try:
                if a.mode == "ws":
                    tasks.append(asyncio.create_task(ws_watch(
                        recs[i], f"wss://127.0.0.1:{a.port}{a.path}", ctx, ready)))
                else:
                    t, _ = await loop.create_connection(
                        lambda: WatchProtocol(recs[i], a.mode, request if a.mode == "http"
                                              else None, ready), "127.0.0.1", a.port, ssl=ctx)
                    transports.append(t)
                await asyncio.wait_for(ready, a.connect_timeout)
                subscribed.append(recs[i])
                return True
            except Exception as e:   # noqa: BLE001
                failures[f"{type(e).__name__}: {e}"[:200]] += 1
                recs[i].eof = True
                return False
    t0 = mono()
    ok = sum(await asyncio.gather(*(open_one(i) for i in range(a.n))))
    emit({"ready": ok, "failed": a.n - ok, "errors": dict(failures.most_common(5)),
          "connect_s": mono() - t0, "nofile": nofile})
    while True:
        cmd = await command()
        if cmd["cmd"] == "stop":
            expected = {int(k): v for k, v in (cmd.get("expected") or {}).items()}
            deadline, want = mono() + cmd.get("drain", 10), len(expected)
            while mono() < deadline and any(not r.eof and len(r.rvs) < want for r in subscribed):
                await asyncio.sleep(0.05)
            emit({"result": analyse(subscribed, expected, cmd.get("latency", True))})
        elif cmd["cmd"] == "quit":
            break
    for t in transports:
        t.abort()
    for t in tasks:
        t.cancel()


# ----------------------------------------------------------------------------- raw fan-out
async def fanout_server(a):
    raise_nofile()
    conns = []

    async def handle(reader, writer):
        q = asyncio.Queue()
        conns.append(q)
        try:
            while (data := await q.get()) is not None:
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            conns.remove(q)
            writer.close()
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*a.tls)
    await asyncio.start_server(handle, "127.0.0.1", a.port, ssl=ctx, backlog=8192)
    emit({"listening": a.port})
    data = {f"key-{i:02d}.conf": f"setting_{i} = " + "x" * 80 for i in range(20)}
    while True:
        cmd = await command()
        if cmd["cmd"] == "count":
            emit({"conns": len(conns)})
        elif cmd["cmd"] == "fanout":
            start = mono()
            for i in range(1, cmd["events"] + 1):
                payload = orjson.dumps({"type": "MODIFIED", "object": {
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                        "name": f"c-{i % 20}", "namespace": "raw", "resourceVersion": str(i),
                        "annotations": {"bench/t0": f"{mono():.6f}"}}, "data": data}}) + b"\n"
                for q in conns:
                    q.put_nowait(payload)
                await asyncio.sleep(0)
            emit({"fanout_started": start, "bytes": len(payload)})
        elif cmd["cmd"] == "quit":
            break


def notify_listen(a):
    import psycopg
    with psycopg.connect(a.dsn, autocommit=True) as conn:
        conn.execute(f"LISTEN {a.channel}")
        emit({"ready": 1})
        got = [(int(n.payload), mono()) for n in conn.notifies(timeout=a.timeout,
                                                                stop_after=a.n)]
    emit({"result": got})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="role", required=True)
    w = sub.add_parser("watchers")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--path", default="/")
    w.add_argument("--n", type=int, default=100)
    w.add_argument("--mode", choices=("http", "ws", "raw"), default="http")
    for opt in ("--ca", "--cert", "--key"):
        w.add_argument(opt)
    w.add_argument("--insecure-tls", action="store_true")
    w.add_argument("--connect-timeout", type=float, default=120)
    f = sub.add_parser("fanout-server")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    f.add_argument("--uvloop", action="store_true")
    n = sub.add_parser("notify-listen")
    n.add_argument("--dsn", required=True)
    n.add_argument("--channel", default="bench_watch")
    n.add_argument("--n", type=int, default=500)
    n.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    if a.role == "notify-listen":
        return notify_listen(a)
    fn = watchers if a.role == "watchers" else fanout_server
    if a.role == "watchers" or a.uvloop:
        import uvloop
        return uvloop.run(fn(a))
    return asyncio.run(fn(a))


if __name__ == "__main__":
    main()
