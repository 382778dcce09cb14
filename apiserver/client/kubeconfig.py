"""Kubeconfig loading: the current context's cluster and user, as a ``ClientConfig``.

Contract:

* ``load_kubeconfig(path=None, context=None)`` reads a kubeconfig YAML file (``path``, else the
  first entry of ``$KUBECONFIG``, else ``~/.kube/config``) and resolves ``context`` (default:
  ``current-context``) to its cluster and user.  ``ClientConfig.from_dict`` does the same for
  an already-parsed document.  Missing contexts, clusters or users raise ``ConfigError``.
* Cluster: ``server`` (required), ``certificate-authority-data`` (base64 PEM) or
  ``certificate-authority`` (a file), ``insecure-skip-tls-verify``, ``tls-server-name``.
* User: ``client-certificate-data``/``client-key-data`` or ``client-certificate``/
  ``client-key`` (files), ``token`` or ``tokenFile``.  ``exec``/``auth-provider`` plugins
  are not supported (``ConfigError``).
* Relative file paths are relative to the kubeconfig's directory, as in client-go.
* ``ClientConfig.ssl_context()`` builds one ``ssl.SSLContext`` (cached) with the CA and the
  client certificate.  ``ssl.SSLContext.load_cert_chain`` only reads files, so inline
  certificate/key data is written to private (0600) temporary files that are deleted again as
  soon as the chain is loaded; ``close()`` removes any that remain.
* ``ClientConfig.auth_headers()`` gives the ``Authorization`` header for a bearer token; a
  ``tokenFile`` is re-read at most once a minute (tokens rotate), never on every request.

Imports only the standard library and PyYAML (no Django: tests/test_layering.py).
"""
from __future__ import annotations

import base64
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

TOKEN_FILE_REFRESH = 60.0


class ConfigError(ValueError):
    """The kubeconfig cannot be used (missing entries, unsupported auth, unreadable files)."""


@dataclass
class ClientConfig:
    """Everything a client needs to reach one API server as one user."""

    server: str
    ca_data: bytes | None = None           # PEM
    ca_file: str | None = None
    cert_data: bytes | None = None         # PEM
    key_data: bytes | None = None          # PEM
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    namespace: str = "default"
    user_agent: str = "apiserver.client/0.1"
    _ssl: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    _temp_files: list = field(default_factory=list, repr=False, compare=False)
    _token_cache: tuple = field(default=(None, 0.0), repr=False, compare=False)

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: dict, context: str | None = None,
                  base_dir: str | os.PathLike | None = None) -> "ClientConfig":
        """Resolve ``context`` (default ``current-context``) of a parsed kubeconfig."""
        if not isinstance(doc, dict):
            raise ConfigError("kubeconfig is not a mapping")
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        name = context or doc.get("current-context")
        if not name:
            raise ConfigError("no context given and current-context is not set")
        ctx = _named(doc, "contexts", name, "context")
        cluster = _named(doc, "clusters", ctx.get("cluster"), "cluster")
        user = _named(doc, "users", ctx.get("user"), "user") if ctx.get("user") else {}
        if not cluster.get("server"):
            raise ConfigError(f"cluster {ctx.get('cluster')!r} has no server")
        if user.get("exec") or user.get("auth-provider"):
            raise ConfigError("exec and auth-provider credentials are not supported")

        def path(key, section):
            value = section.get(key)
            return str(base / value) if value else None

        return cls(
            server=str(cluster["server"]).rstrip("/"),
            ca_data=_b64(cluster.get("certificate-authority-data"), "certificate-authority-data"),
            ca_file=path("certificate-authority", cluster),
            cert_data=_b64(user.get("client-certificate-data"), "client-certificate-data"),
            key_data=_b64(user.get("client-key-data"), "client-key-data"),
            cert_file=path("client-certificate", user),
            key_file=path("client-key", user),
            token=user.get("token") or None,
            token_file=path("tokenFile", user),
            insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
            tls_server_name=cluster.get("tls-server-name") or None,
            namespace=ctx.get("namespace") or "default",
        )

    # ---- TLS ------------------------------------------------------------------------------
    @property
    def is_https(self) -> bool:
        return urlsplit(self.server).scheme == "https"

    @property
    def server_hostname(self) -> str | None:
        """The name TLS verifies (``tls-server-name``, else the server URL's host)."""
        return self.tls_server_name or urlsplit(self.server).hostname

    def ssl_context(self) -> ssl.SSLContext | None:
        """The (cached) TLS context for this server, or None for an ``http://`` server."""
        if not self.is_https:
            return None
        if self._ssl is not None:
            return self._ssl
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode("ascii"))
        elif self.ca_file:
            ctx.load_verify_locations(cafile=self.ca_file)
        cert = self.cert_file or (self._private_file(self.cert_data) if self.cert_data else None)
        key = self.key_file or (self._private_file(self.key_data) if self.key_data else None)
        try:
            if cert:
                ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the client certificate: {exc}") from exc
        finally:
            self._remove_temp_files()       # loaded (or failed): key material leaves the disk
        self._ssl = ctx
        return ctx

    def _private_file(self, data: bytes) -> str:
        fd, name = tempfile.mkstemp(prefix="kubeconfig-", suffix=".pem")   # mode 0600
        self._temp_files.append(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return name

    def _remove_temp_files(self) -> None:
        while self._temp_files:
            try:
                os.unlink(self._temp_files.pop())
            except FileNotFoundError:
                pass

    # ---- authentication -------------------------------------------------------------------
    def bearer_token(self) -> str | None:
        if self.token:
            return self.token
        if not self.token_file:
            return None
        cached, read_at = self._token_cache
        now = time.monotonic()
        if cached is None or now - read_at > TOKEN_FILE_REFRESH:
            try:
                cached = Path(self.token_file).read_text().strip()
            except OSError as exc:
                if cached is None:
                    raise ConfigError(f"cannot read tokenFile: {exc}") from exc
            self._token_cache = (cached, now)
        return cached

    def auth_headers(self) -> dict[str, str]:
        token = self.bearer_token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def close(self) -> None:
        """Delete any temporary files still holding key material."""
        self._remove_temp_files()


def load_kubeconfig(path: str | os.PathLike | None = None,
                    context: str | None = None) -> ClientConfig:
    """Read a kubeconfig file and resolve ``context`` (see the module docstring)."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        first = next((p for p in env.split(os.pathsep) if p), None)
        path = first or Path.home() / ".kube" / "config"
    path = Path(path).expanduser()
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {exc}") from exc
    return ClientConfig.from_dict(doc, context, base_dir=path.resolve().parent)


def _named(doc: dict, section: str, name, inner: str) -> dict:
    for entry in doc.get(section) or ():
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(inner) or {}
    raise ConfigError(f"{section[:-1]} {name!r} not found in kubeconfig")


def _b64(value, key: str) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=False)
    except ValueError as exc:
        raise ConfigError(f"{key} is not valid base64") from exc
