"""The wire side of connect-style subresources: dial a backend, send the request, read the
answer; splice an upgraded connection; stream a body.

Upstream: kubernetes/apimachinery pkg/util/proxy/upgradeaware.go (``tryUpgrade``: dial the
backend with the transport's TLS and client certificate, write the request, read the
response head; a ``101`` goes to the client as is and the bytes are then copied both ways
until one side ends; any other answer ends both connections, so no later byte from the
client ever reaches the backend: CVE-2018-1002105) and kubernetes/kubernetes
pkg/kubelet/client/kubelet_client.go (the kubelet transport: ``--kubelet-client-
certificate``/``--kubelet-client-key``, the serving certificate checked against
``--kubelet-certificate-authority``, not checked at all when none is given, 5 s to dial).

Redirects are never followed (CVE-2020-8559): a 3xx is an error for an upgrade and is
passed back, never acted on, for a plain request.  The client's credentials and identity
headers never reach a backend (``forwarded_headers``); a backend learns who asks only from
this server's own client certificate.

May import: apiserver.runtime.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

from apiserver.runtime import errors

DIAL_TIMEOUT = 5.0
HEAD_TIMEOUT = 60.0         # for the backend's response head (a stream's starts at once)
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024

# never forwarded: this server's credentials, hop-by-hop headers (the upgrade pair is put
# back for upgrades), and what only this server may say about the caller
_STRIPPED = frozenset((b"authorization", b"proxy-authorization", b"cookie", b"host",
                       b"content-length", b"transfer-encoding", b"connection", b"keep-alive",
                       b"proxy-connection", b"te", b"trailer", b"upgrade",
                       b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto"))
_STRIPPED_PREFIXES = (b"impersonate-", b"x-remote-")
_WS_BEARER = b"base64url.bearer.authorization.k8s.io."


class BackendError(errors.APIError):
    """A plain Go error turned into a Status upstream: 500 with no reason ("Error from
    server: …" in kubectl)."""

    code, reason = 500, ""


def response_error(code: int, body: bytes, resource: str, name: str) -> errors.APIError:
    """A backend's non-2xx answer as upstream's GenericHttpResponseChecker makes it
    (kubernetes/apiserver pkg/registry/generic/rest/response_checker.go)."""
    text = body[:50000].decode("utf-8", "replace")
    if code == 500:
        return errors.InternalError(f"Internal error occurred: {text}")
    if code == 400:
        return errors.BadRequest(text)
    reasons = {404: ("NotFound", "the server could not find the requested resource"),
               403: ("Forbidden", "the server does not allow access to the requested resource"),
               401: ("Unauthorized", "the server has asked for the client to provide "
                                     "credentials"),
               503: ("ServiceUnavailable", "the server is currently unable to handle the "
                                           "request")}
    reason, message = reasons.get(code, ("", f"the server responded with the status code "
                                             f"{code} but did not return more information"))
    err = errors.APIError(f"{message} ( {resource} {name})" if resource and name else message,
                          details={"kind": resource, "name": name} if resource else {},
                          causes=[errors.Cause("UnexpectedServerResponse", text)] if text else [])
    err.code, err.reason = code, reason
    return err


@dataclass(frozen=True)
class KubeletClientConfig:
    """``--kubelet-client-certificate``, ``--kubelet-client-key``,
    ``--kubelet-certificate-authority``; ``refused_ports``: ports never dialled on an
    address of this machine (this server's own listener)."""

    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    timeout: float = DIAL_TIMEOUT
    refused_ports: tuple = ()        # on any address of this machine


class Dialer:
    """TLS contexts built once; ``dial`` opens a connection to a Location."""

    def __init__(self, kubelet: KubeletClientConfig):
        self.kubelet = kubelet
        self._verified = self._context(verify=bool(kubelet.ca_file))
        self._insecure = self._context(verify=False)
        plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        plain.check_hostname, plain.verify_mode = False, ssl.CERT_NONE
        self._direct_tls = plain            # pods/services over https: upstream skips verify

    def _context(self, verify: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if verify:
            ctx.load_verify_locations(self.kubelet.ca_file)
        else:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        if self.kubelet.cert_file and self.kubelet.key_file:
            ctx.load_cert_chain(self.kubelet.cert_file, self.kubelet.key_file)
        return ctx

    async def dial(self, location):
        """(reader, writer) to ``location``; a refused or failed dial is a Status error.
        TLS is complete before a byte of the request is written."""
        if location.port in self.kubelet.refused_ports and _is_local(location.host):
            # this server itself: its certificate chains to the CA too, and the kubelet
            # client certificate would make the request a cluster admin's
            raise errors.BadRequest("address not allowed")
        ctx, server_name = None, None
        if location.backend == "kubelet":
            ctx = self._insecure if location.insecure else self._verified
            if ctx.check_hostname:
                # the certificate must name the node, not merely chain to the CA
                server_name = location.server_name or location.host
            else:
                server_name = location.host
        elif location.scheme == "https":
            ctx, server_name = self._direct_tls, location.host
        try:
            return await asyncio.wait_for(asyncio.open_connection(
                location.host, location.port, ssl=ctx, server_hostname=server_name,
                limit=MAX_HEAD * 2), self.kubelet.timeout)
        except asyncio.TimeoutError:
            raise _dial_error(location, "i/o timeout") from None
        except ssl.SSLCertVerificationError as exc:
            raise _dial_error(location, f"tls: failed to verify certificate: "
                                        f"{exc.verify_message}") from None
        except (OSError, ssl.SSLError) as exc:
            raise _dial_error(location, getattr(exc, "strerror", None) or str(exc)) from None


def _is_local(host: str) -> bool:
    """Is ``host`` (an IP) an address of this machine?  One this process can bind is."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def _dial_error(location, why: str) -> errors.APIError:
    target = f"{location.host}:{location.port}"
    if location.backend == "direct":
        return errors.ServiceUnavailable(f"error trying to reach service: dial tcp {target}: "
                                         f"{why}")
    return BackendError(f"error dialing backend: dial tcp {target}: {why}")


def forwarded_headers(headers, host: str, client: str, upgrade: bool) -> list:
    """The client's headers a backend may see, plus Host and X-Forwarded-For."""
    out = []
    for name, value in headers:
        low = name.lower()
        if low in _STRIPPED or low.startswith(_STRIPPED_PREFIXES):
            continue
        if low == b"sec-websocket-protocol":
            # a bearer token carried as a subprotocol (authentication strips it already)
            kept = [p.strip() for p in value.split(b",")
                    if p.strip() and not p.strip().startswith(_WS_BEARER)]
            if not kept:
                continue
            value = b", ".join(kept)
        out.append((low, value))
    if upgrade:
        for name, value in headers:
            if name.lower() == b"upgrade":
                out.append((b"upgrade", value))
        out.append((b"connection", b"Upgrade"))
    else:
        out.append((b"connection", b"close"))
    out.insert(0, (b"host", host.encode("latin-1")))
    if client:
        out.append((b"x-forwarded-for", client.encode("latin-1")))
    return out


def request_head(method: str, target: str, headers) -> bytes:
    if any(c in target for c in " \r\n") or any(b"\r" in v or b"\n" in v for _, v in headers):
        raise errors.BadRequest("invalid characters in the proxied request")
    lines = [f"{method} {target} HTTP/1.1".encode("latin-1")]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@dataclass
class ResponseHead:
    status: int
    headers: list          # [(lower-case name, value)]
    raw: bytes             # the head exactly as the backend sent it

    def get(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


async def read_head(reader, timeout: float = HEAD_TIMEOUT) -> ResponseHead:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.TimeoutError:
        raise BackendError("error reading backend response: i/o timeout") from None
    except asyncio.LimitOverrunError:
        raise BackendError("error reading backend response: header too large") from None
    except (asyncio.IncompleteReadError, OSError, ssl.SSLError) as exc:
        raise BackendError(f"error reading backend response: {exc or 'EOF'}") from None
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise BackendError("error reading backend response: malformed HTTP response") from None
    headers = []
    for line in lines[1:]:
        if b":" in line:
            name, _, value = line.partition(b":")
            headers.append((name.strip().lower(), value.strip()))
    return ResponseHead(status, headers, raw)


async def body_chunks(reader, head: ResponseHead):
    """The response body, decoded from chunked or Content-Length framing (else to EOF)."""
    try:
        if (head.get(b"transfer-encoding") or b"").lower() == b"chunked":
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                remaining = size
                while remaining:
                    data = await reader.read(min(remaining, CHUNK))
                    if not data:
                        return
                    remaining -= len(data)
                    yield data
                await reader.readexactly(2)
        length = head.get(b"content-length")
        remaining = int(length) if length is not None else None
        while remaining is None or remaining > 0:
            data = await reader.read(CHUNK if remaining is None else min(remaining, CHUNK))
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError,
            ssl.SSLError):
        return


async def read_body(reader, head: ResponseHead, limit: int = 1 << 20) -> bytes:
    out = bytearray()
    async for data in body_chunks(reader, head):
        out += data
        if len(out) >= limit:
            break
    return bytes(out)


async def splice(raw, reader, writer) -> None:
    """Copy bytes both ways between the client's taken-over connection (``raw``) and the
    backend until either side ends; then close both."""

    async def client_to_backend():
        while True:
            data = await raw.read()
            if not data:
                break
            writer.write(data)
            await writer.drain()

    async def backend_to_client():
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            raw.write(data)
            await raw.drain()

    up = asyncio.ensure_future(client_to_backend())
    down = asyncio.ensure_future(backend_to_client())
    try:
        # either side ending ends the session (streaming clients end their streams inside
        # the protocol, never by half-closing TCP; a TLS backend cannot be half-closed)
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        close(writer)
        raw.close()


def close(writer) -> None:
    try:
        writer.close()
    except (OSError, RuntimeError):
        pass
