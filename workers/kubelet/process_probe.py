"""Probes of the process runtime, actually run (upstream pkg/probe/{exec,http,tcp} and
pkg/kubelet/prober/prober.go ``runProbe``).

* ``exec``: the command runs in the container's environment and working directory (as
  ``kubectl exec`` would); exit 0 succeeds, anything else fails with the command's output;
  past ``timeoutSeconds`` it is killed and fails with upstream's "command … timed out".
* ``httpGet``: an HTTP/1.1 GET (``https``: TLS without verification, as upstream) to
  ``host`` (default 127.0.0.1: pod processes share the host's network, a pod IP out of the
  podCIDR reaches nothing), the port by number or by the container's port name; 200–399
  succeeds, with upstream's failure texts.
* ``tcpSocket``: a TCP connect.
* ``grpc`` is not implemented: such a probe "errors" (raises), and upstream's worker then
  keeps the previous result.

``pre_stop`` and ``container_post_start`` run ``lifecycle`` handlers (``run_handler``: exec,
httpGet, sleep) the same ways.
"""
from __future__ import annotations

import asyncio
import ssl

from .probes import settings
from .runtime import ProbeResult

LOCAL = "127.0.0.1"


def resolve_port(port, container: dict) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p.get("containerPort"))
    raise ValueError(f"unable to find port {port!r} in the container's ports")


def _host(handler: dict) -> str:
    return handler.get("host") or LOCAL


async def http_probe(handler: dict, container: dict, timeout: float) -> ProbeResult:
    port = resolve_port(handler.get("port"), container)
    host, path = _host(handler), handler.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    scheme = (handler.get("scheme") or "HTTP").upper()
    context = None
    if scheme == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    headers = {"Host": f"{host}:{port}", "User-Agent": "kube-probe/1.32", "Accept": "*/*",
               "Connection": "close"}
    for h in handler.get("httpHeaders") or ():
        if h.get("name"):
            headers[h["name"]] = str(h.get("value") or "")
    url = f"{scheme.lower()}://{host}:{port}{path}"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), timeout)
    except asyncio.TimeoutError:
        return ProbeResult(False, f'Get "{url}": context deadline exceeded')
    except OSError as exc:
        return ProbeResult(False, f'Get "{url}": dial tcp {host}:{port}: connect: '
                                  f"{_reason(exc)}")
    try:
        request = f"GET {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(request.encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        parts = status_line.decode("latin-1").split(" ", 2)
        code = int(parts[1])
    except asyncio.TimeoutError:
        return ProbeResult(False, f'Get "{url}": context deadline exceeded (Client.Timeout '
                                  "exceeded while awaiting headers)")
    except (OSError, ValueError, IndexError) as exc:
        return ProbeResult(False, f'Get "{url}": {exc}')
    finally:
        writer.close()
    if 200 <= code < 400:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP probe failed with statuscode: {code}")


def _reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return (exc.strerror or str(exc)).lower()


async def tcp_probe(handler: dict, container: dict, timeout: float) -> ProbeResult:
    port = resolve_port(handler.get("port"), container)
    host = _host(handler)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return ProbeResult(False, f"dial tcp {host}:{port}: i/o timeout")
    except OSError as exc:
        return ProbeResult(False, f"dial tcp {host}:{port}: connect: {_reason(exc)}")
    writer.close()
    return ProbeResult(True)


async def exec_probe(runtime, cid: str, handler: dict, timeout: float) -> ProbeResult:
    command = [str(c) for c in handler.get("command") or ()]
    if not command:
        raise ValueError("exec probe without a command")
    stream = await runtime.exec(cid, command, stdin=False, tty=False)
    chunks: list[bytes] = []

    async def drain(read):
        while data := await read():
            chunks.append(data)
    try:
        code = await asyncio.wait_for(asyncio.gather(
            drain(stream.read_stdout), drain(stream.read_stderr), stream.wait()), timeout)
    except asyncio.TimeoutError:
        await stream.close()
        return ProbeResult(False, f"command {command!r} timed out")
    output = b"".join(chunks).decode("utf-8", "replace")
    return ProbeResult(code[2] == 0, output)


async def run(runtime, cid: str, probe: dict, container: dict) -> ProbeResult:
    """One probe of ``probe`` (a v1.Probe) against container ``cid``."""
    timeout = settings(probe).timeout
    if isinstance(probe.get("exec"), dict):
        return await exec_probe(runtime, cid, probe["exec"], timeout)
    if isinstance(probe.get("httpGet"), dict):
        return await http_probe(probe["httpGet"], container, timeout)
    if isinstance(probe.get("tcpSocket"), dict):
        return await tcp_probe(probe["tcpSocket"], container, timeout)
    raise ValueError("the process runtime runs exec, httpGet and tcpSocket probes only")


async def _exec_code(runtime, cid: str, command: list[str]) -> int:
    """Run ``command`` in the container, its output discarded; its exit code."""
    stream = await runtime.exec(cid, command, stdin=False, tty=False)

    async def drain(read):
        while await read():
            pass
    try:
        return (await asyncio.gather(drain(stream.read_stdout), drain(stream.read_stderr),
                                     stream.wait()))[2]
    finally:
        await stream.close()


async def pre_stop(runtime, cid: str, hook: dict, container: dict) -> None:
    """A ``lifecycle.preStop`` handler (upstream pkg/kubelet/lifecycle/handlers.go): exec
    (in the container, as ``kubectl exec``), httpGet or sleep; the caller bounds it by the
    grace period."""
    await run_handler(runtime, cid, hook, container)


async def run_handler(runtime, cid: str, hook: dict, container: dict) -> str | None:
    """Run a lifecycle handler (upstream handlers.go ``Run``): None when it succeeded, else
    why it failed.  As upstream, an exec handler fails on a non-zero exit and an httpGet one
    only when no answer comes (any status will do); the reason leaves the command's output
    out (it may hold secrets: upstream keeps it out of events for the same reason)."""
    name = container.get("name", "")
    if isinstance(hook.get("exec"), dict):
        command = [str(a) for a in hook["exec"].get("command") or ()]
        code = await _exec_code(runtime, cid, command)
        if code:
            return (f"Exec lifecycle hook ({command}) for Container {name!r} failed - error: "
                    f"command {' '.join(command)!r} exited with {code}")
        return None
    if isinstance(hook.get("httpGet"), dict):
        result = await http_probe(hook["httpGet"], container, 30.0)
        if not result.success and not result.output.startswith("HTTP probe failed"):
            return (f"HTTP lifecycle hook ({hook['httpGet'].get('path') or '/'}) for "
                    f"Container {name!r} failed - error: {result.output}")
        return None
    if isinstance(hook.get("sleep"), dict):
        await asyncio.sleep(max(float(hook["sleep"].get("seconds") or 0), 0.0))
        return None
    return f"invalid handler for Container {name!r}"


async def container_post_start(runtime, c) -> str | None:
    """The runtime's ``post_start`` for container record ``c``: its spec's postStart handler
    run while the process lives; a handler that cannot run at all fails too."""
    hook = (c.spec.get("lifecycle") or {}).get("postStart")
    if not isinstance(hook, dict) or not c.running:
        return None
    try:
        return await run_handler(runtime, c.cid, hook, c.spec)
    except Exception as exc:                  # noqa: BLE001
        return f"postStart hook of {c.name!r} could not run: {exc}"
