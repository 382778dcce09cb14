"""How the aggregator talks to a backend: the TLS context and the headers it sends.

Upstream: kube-aggregator pkg/apiserver/handler_proxy.go (``proxyHandler.ServeHTTP``: the
caller's identity travels as request headers, signed by the proxy client certificate of
``--proxy-client-cert-file``/``--proxy-client-key-file``) and client-go
transport/round_trippers.go (``SetAuthProxyHeaders``: X-Remote-User, X-Remote-Group,
X-Remote-Extra-<escaped key>, after deleting whatever the caller sent under those names).

What never reaches a backend: the caller's ``Authorization`` (a bearer token or basic
password of *this* server), ``Proxy-Authorization``, ``Impersonate-*`` (already acted on
here), any ``X-Remote-*`` the caller sent (a caller could otherwise name itself), cookies,
and hop-by-hop headers.
"""
from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from urllib.parse import quote

# RFC 7230 hop-by-hop headers, and the upgrade pair that only the proxy itself negotiates
HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade", b"proxy-authenticate"))
STRIPPED = frozenset((b"authorization", b"proxy-authorization", b"cookie", b"host",
                      b"content-length"))
STRIPPED_PREFIXES = (b"impersonate-", b"x-remote-")


@dataclass(frozen=True)
class ProxyIdentity:
    """The client certificate the aggregator presents to backends (may be absent)."""

    cert_file: str = ""
    key_file: str = ""


def tls_context(spec: dict, identity: ProxyIdentity) -> ssl.SSLContext:
    """A client context verifying the backend with ``spec.caBundle`` (or nothing at all
    when ``insecureSkipTLSVerify``), presenting the proxy client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if spec.get("insecureSkipTLSVerify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        bundle = spec.get("caBundle") or ""
        if bundle:
            ctx.load_verify_locations(cadata=base64.b64decode(bundle).decode("ascii", "replace"))
        else:
            # upstream falls back to the system roots; a backend's certificate for
            # NAME.NAMESPACE.svc will not chain to them, so this fails closed in practice
            ctx.load_default_certs()
    if identity.cert_file and identity.key_file:
        ctx.load_cert_chain(identity.cert_file, identity.key_file)
    return ctx


def _escape_extra_key(key: str) -> str:
    """``headerKeyEscape``: percent-encode what is not a legal header-name character."""
    return quote(key, safe="!#$&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "abcdefghijklmnopqrstuvwxyz")


def backend_headers(client_headers, user, host: str) -> list[tuple[bytes, bytes]]:
    """The caller's headers minus credentials and hop-by-hop ones, plus the identity."""
    connection_named = set()
    for k, v in client_headers:
        if k.lower() == b"connection":
            connection_named |= {t.strip().lower() for t in v.split(b",")}
    out = [(b"host", host.encode())]
    for k, v in client_headers:
        name = k.lower()
        if name in HOP_BY_HOP or name in STRIPPED or name in connection_named or \
                name.startswith(STRIPPED_PREFIXES) or name.startswith(b"sec-websocket-"):
            continue
        out.append((name, v))
    if user is not None:
        out.append((b"x-remote-user", user.name.encode()))
        for group in user.groups:
            out.append((b"x-remote-group", group.encode()))
        for key, values in (user.extra or {}).items():
            header = b"x-remote-extra-" + _escape_extra_key(key).encode()
            for value in values if isinstance(values, (list, tuple)) else [values]:
                out.append((header, str(value).encode()))
    return out


def response_headers(headers) -> list[tuple[bytes, bytes]]:
    """A backend's response headers as the caller gets them (hop-by-hop ones dropped)."""
    return [(k.lower(), v) for k, v in headers if k.lower() not in HOP_BY_HOP]
