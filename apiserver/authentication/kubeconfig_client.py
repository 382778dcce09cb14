"""An HTTPS client for webhooks, built from a kubeconfig file (upstream kubernetes/apiserver:
pkg/util/webhook/webhook.go ``NewGenericWebhook`` and ``WithExponentialBackoff``, and
pkg/util/webhook/authentication.go ``LoadKubeconfig``).

The kubeconfig names one cluster and one user: those of ``current-context`` when it is set,
else the first of ``clusters`` and of ``users``.

* cluster: ``server`` (the exact URL every request is POSTed to, as upstream: any path, not
  only an API server's), ``certificate-authority`` or ``certificate-authority-data`` (else
  the system's trust roots), ``tls-server-name``;
* user: ``client-certificate``/``client-key`` or their ``-data`` forms, and/or ``token``
  (sent as ``Authorization: Bearer``).

Relative file names are relative to the kubeconfig's directory, as in client-go.  Stricter
than upstream on purpose: ``insecure-skip-tls-verify`` and plain ``http://`` servers are
refused unless the caller passes ``allow_insecure=True`` (a webhook receives bearer tokens and
says who is allowed to do what), and ``exec``/``auth-provider`` credentials are refused.
Every problem with the file is a :class:`KubeconfigError` (a ValueError) naming the file, so
a server with a bad file does not start.

:meth:`WebhookClient.post` sends one JSON document and returns the decoded answer, retrying
what upstream's ``DefaultShouldRetry`` retries (a reset connection; HTTP 429, 500, 504, or
any answer with ``Retry-After``) with exponential backoff.  Each attempt has a timeout (30 s
by default, as upstream's ``defaultRequestTimeout``).  Error messages name the server and
what went wrong, never the request body or the client's token.

May import: the standard library and PyYAML.
"""
from __future__ import annotations

import base64
import binascii
import http.client
import json
import os
import random
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 4 << 20
RETRY_STATUSES = (429, 500, 504)


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message names the file."""


class WebhookError(Exception):
    """A webhook call failed (transport or HTTP status); ``status`` is the HTTP status or
    None, ``retry`` whether upstream would try again."""

    def __init__(self, message: str, status: int | None = None, retry: bool = False):
        super().__init__(message)
        self.status = status
        self.retry = retry


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff (upstream ``wait.Backoff``): at most ``steps`` attempts, sleeping
    ``duration`` (times ``factor`` after each sleep, plus up to ``jitter`` of it) between."""

    duration: float = 0.5
    factor: float = 1.5
    jitter: float = 0.2
    steps: int = 3

    def delays(self):
        """The sleeps between attempts: ``steps - 1`` of them."""
        delay = self.duration
        for _ in range(max(self.steps, 1) - 1):
            yield delay * (1 + random.uniform(0, self.jitter)) if self.jitter else delay
            delay *= self.factor


def _pick(doc: dict, section: str, name: str | None, what: str) -> dict:
    """The ``what`` mapping of entry ``name`` of ``doc[section]`` (the first when no name)."""
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise ValueError(f"{section} must be a list")
    for entry in entries:
        if isinstance(entry, dict) and (name is None or entry.get("name") == name):
            value = entry.get(what) or {}
            if not isinstance(value, dict):
                raise ValueError(f"{section} entry {entry.get('name')!r} has no {what} mapping")
            return value
    if name is None:
        raise ValueError(f"no {what} in {section}")
    raise ValueError(f"{what} {name!r} not found")


def _material(section: dict, key: str, base: Path) -> tuple[str | None, bytes | None]:
    """(file name, inline bytes) of ``key`` / ``key-data``; at most one may be given."""
    path, data = section.get(key), section.get(f"{key}-data")
    if path and data:
        raise ValueError(f"{key}-data and {key} are both specified")
    if data:
        try:
            return None, base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ValueError(f"{key}-data is not valid base64") from None
    return (str(base / str(path)) if path else None), None


def _load_chain(ctx: ssl.SSLContext, cert: tuple, key: tuple) -> None:
    """Load the client certificate and key; inline PEM goes through private temporary files
    (the ssl module reads chains only from files), removed as soon as they are loaded."""
    temps = []

    def file_of(pair):
        name, data = pair
        if name or data is None:
            return name
        fd, name = tempfile.mkstemp(prefix="webhook-", suffix=".pem")   # mode 0600
        temps.append(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return name

    try:
        ctx.load_cert_chain(file_of(cert), file_of(key))
    finally:
        for name in temps:
            os.unlink(name)


def _redacted(url: str) -> str:
    """``url`` without any user:password part (for messages and logs)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()


class WebhookClient:
    """POSTs JSON to one webhook; safe to share between threads (one connection a call)."""

    def __init__(self, server: str, ssl_context: ssl.SSLContext | None = None,
                 token: str | None = None, server_hostname: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, backoff: Backoff = Backoff(),
                 sleep=time.sleep):
        parts = urlsplit(server)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"server {_redacted(server)!r} is not an http(s) URL")
        self.server = server
        self.display = _redacted(server)
        self._parts = parts
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._ssl = ssl_context
        self._token = token
        self._server_hostname = server_hostname
        self.timeout = timeout
        self.backoff = backoff
        self._sleep = sleep

    @classmethod
    def from_file(cls, path: str, *, allow_insecure: bool = False, **kw) -> "WebhookClient":
        """The client the kubeconfig ``path`` describes (``kw``: timeout, backoff)."""
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
            return cls.from_dict(doc, base_dir=Path(path).resolve().parent,
                                 allow_insecure=allow_insecure, **kw)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise KubeconfigError(f"webhook kubeconfig {path!r}: cannot read it: {exc}") from None
        except (ValueError, ssl.SSLError) as exc:
            raise KubeconfigError(f"webhook kubeconfig {path!r}: {exc}") from None

    @classmethod
    def from_dict(cls, doc, base_dir: Path, *, allow_insecure: bool = False,
                  **kw) -> "WebhookClient":
        """The client of a parsed kubeconfig; ValueError when it cannot be used."""
        if not isinstance(doc, dict):
            raise ValueError("not a kubeconfig mapping")
        current = doc.get("current-context")
        if current:
            context = _pick(doc, "contexts", current, "context")
            cluster = _pick(doc, "clusters", context.get("cluster") or "", "cluster")
            user_name = context.get("user")
            user = _pick(doc, "users", user_name, "user") if user_name else {}
        else:
            cluster = _pick(doc, "clusters", None, "cluster")
            user = _pick(doc, "users", None, "user") if doc.get("users") else {}
        server = str(cluster.get("server") or "")
        if not server:
            raise ValueError("the cluster has no server")
        if user.get("exec") or user.get("auth-provider"):
            raise ValueError("exec and auth-provider credentials are not supported")
        scheme = urlsplit(server).scheme
        insecure = bool(cluster.get("insecure-skip-tls-verify"))
        if (insecure or scheme == "http") and not allow_insecure:
            raise ValueError("insecure-skip-tls-verify and http:// servers are refused "
                             "for webhooks: give the webhook's CA")
        ctx = None
        if scheme == "https":
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            ca_file, ca_data = _material(cluster, "certificate-authority", base_dir)
            if insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif ca_file or ca_data:
                try:
                    ctx.load_verify_locations(cafile=ca_file,
                                              cadata=ca_data.decode("ascii") if ca_data else None)
                except (OSError, UnicodeDecodeError, ssl.SSLError) as exc:
                    raise ValueError(f"cannot load the certificate authority: {exc}") from None
            cert = _material(user, "client-certificate", base_dir)
            key = _material(user, "client-key", base_dir)
            if any(cert) != any(key):
                raise ValueError("client-certificate and client-key must be given together")
            if any(cert):
                try:
                    _load_chain(ctx, cert, key)
                except (OSError, ssl.SSLError) as exc:
                    raise ValueError(f"cannot load the client certificate: {exc}") from None
        token = user.get("token") or None
        if token is not None and not isinstance(token, str):
            raise ValueError("user token must be a string")
        return cls(server, ctx, token=token,
                   server_hostname=cluster.get("tls-server-name") or None, **kw)

    # ---- calls ---------------------------------------------------------------------------
    def post(self, body: dict) -> dict:
        """POST ``body`` as JSON; the decoded JSON answer of a 2xx.  Retries as upstream's
        ``DefaultShouldRetry`` with :attr:`backoff`; raise :class:`WebhookError` otherwise."""
        data = json.dumps(body).encode()
        delays = self.backoff.delays()
        while True:
            try:
                return self._attempt(data)
            except WebhookError as err:
                delay = next(delays, None) if err.retry else None
                if delay is None:
                    raise
            self._sleep(delay)

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._parts.hostname, self._parts.port
        if self._parts.scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self.timeout)
        return _HTTPSConnection(host, port, timeout=self.timeout, tls=self._ssl,
                                server_hostname=self._server_hostname or host)

    def _attempt(self, data: bytes) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "apiserver-webhook/1.0", "Content-Length": str(len(data))}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
        except ConnectionResetError as exc:       # includes a dropped keep-alive peer
            raise WebhookError(f"{self.display}: connection reset ({exc})", retry=True) from None
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise WebhookError(f"{self.display}: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
        if not 200 <= resp.status < 300:
            retry = resp.status in RETRY_STATUSES or resp.getheader("Retry-After") is not None
            raise WebhookError(f"{self.display}: HTTP {resp.status} {resp.reason}",
                               status=resp.status, retry=retry)
        if len(raw) > MAX_RESPONSE_BYTES:
            raise WebhookError(f"{self.display}: answer larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            answer = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise WebhookError(f"{self.display}: answer is not JSON") from None
        if not isinstance(answer, dict):
            raise WebhookError(f"{self.display}: answer is not a JSON object")
        return answer


class _HTTPSConnection(http.client.HTTPConnection):
    """HTTPS that verifies the certificate for ``server_hostname`` (``tls-server-name``)
    while connecting to the URL's host."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, host, port, *, timeout, tls: ssl.SSLContext, server_hostname: str):
        super().__init__(host, port, timeout=timeout)
        self._tls = tls
        self._server_hostname = server_hostname

    def connect(self):
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)
