"""An OpenID Connect issuer's discovery document and signing keys (what go-oidc's
``NewProvider`` and ``RemoteKeySet`` do for kubernetes/apiserver:plugin/pkg/authenticator/
token/oidc/oidc.go).

* Discovery: ``GET <issuer>/.well-known/openid-configuration`` (or the configured
  ``discoveryURL``) over HTTPS, verified with the configured CA bundle only, else the
  system's roots; its ``issuer`` must be the configured URL; then its ``jwks_uri``.
* Initialisation runs on a background thread started with the provider, retried every
  10 s until it succeeds (upstream's ``PollImmediateUntil``), so a server never waits
  for its identity providers; until then the provider is not initialised and its tokens
  are refused.
* The keys are cached.  When no cached key verifies a token (a new key id after a
  rotation, or a key the issuer dropped), they are fetched again — by one caller at a
  time and at most once per ``refetch_seconds``, so forged key ids cannot make the server
  hammer the issuer.

Errors are logged with the reason only (never a token).

May import: apiserver.authentication, PyJWT.
"""
from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request

import jwt

log = logging.getLogger("apiserver.authentication")

WELL_KNOWN = "/.well-known/openid-configuration"
TIMEOUT = 30.0                 # upstream's http.Client timeout
RETRY_SECONDS = 10.0           # upstream's discovery poll interval
REFETCH_SECONDS = 10.0
MAX_BODY = 4 << 20
KEY_TYPES = ("RSA", "EC")      # the allowed algorithms are RS*, PS* and ES*


class FetchError(Exception):
    """The issuer could not be asked (unreachable, TLS, a status, bad JSON)."""


class Key:
    """One verification key from the JWKS."""

    def __init__(self, kid: str, alg: str, public_key):
        self.kid = kid
        self.alg = alg                 # "" when the JWK does not name one
        self.public_key = public_key

    def fits(self, kid: str, alg: str) -> bool:
        """go-oidc's choice: keys with the token's key id, or every key when it names none;
        a JWK that names an algorithm is used for that algorithm only."""
        return (not kid or self.kid == kid) and (not self.alg or self.alg == alg)


def ssl_context(ca_pem: str = "") -> ssl.SSLContext:
    """TLS for talking to the issuer: the given CA bundle alone, else the system's roots.
    ValueError when the bundle holds no certificate."""
    try:
        return ssl.create_default_context(cadata=ca_pem) if ca_pem.strip() \
            else ssl.create_default_context()
    except (ssl.SSLError, ValueError):
        raise ValueError("data does not contain any valid RSA or ECDSA certificates") from None


def parse_jwks(document) -> list[Key]:
    """The usable keys of a JWKS document (others — symmetric, encryption-only,
    malformed — are skipped)."""
    keys = []
    for entry in (document.get("keys") if isinstance(document, dict) else None) or ():
        if not isinstance(entry, dict) or entry.get("kty") not in KEY_TYPES \
                or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        keys.append(Key(str(entry.get("kid") or ""), str(entry.get("alg") or ""), key.key))
    return keys


class Provider:
    """Discovery and keys of one issuer."""

    def __init__(self, issuer: str, *, discovery_url: str = "", ca_pem: str = "",
                 timeout: float = TIMEOUT, retry_seconds: float = RETRY_SECONDS,
                 refetch_seconds: float = REFETCH_SECONDS, clock=time.monotonic):
        self.issuer = issuer
        self.discovery_url = discovery_url or issuer.rstrip("/") + WELL_KNOWN
        self.context = ssl_context(ca_pem)
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.refetch_seconds = refetch_seconds
        self.clock = clock
        self.jwks_uri = ""
        self.keys: tuple = ()               # replaced whole, so readers need no lock
        self.last_error = "not yet initialized"
        self._fetched_at = None
        self._initialized = threading.Event()
        self._stop = threading.Event()
        self._refetch = threading.Lock()
        self._thread = None

    @property
    def initialized(self) -> bool:
        return self._initialized.is_set()

    def start(self) -> "Provider":
        """Initialise in the background (idempotent); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"oidc-discovery {self.issuer}")
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop retrying discovery (the keys already fetched stay usable)."""
        self._stop.set()

    def wait_initialized(self, timeout: float) -> bool:
        return self._initialized.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.initialize():
                return
            self._stop.wait(self.retry_seconds)

    def initialize(self) -> bool:
        """One discovery attempt (then a first key fetch); whether it succeeded."""
        try:
            document = self._get(self.discovery_url)
            if not isinstance(document, dict):
                raise FetchError("oidc: failed to decode provider discovery object: not a "
                                 "JSON object")
            if document.get("issuer") != self.issuer:
                raise FetchError(f"oidc: issuer did not match the issuer returned by "
                                 f"provider, expected {json.dumps(self.issuer)} got "
                                 f"{json.dumps(document.get('issuer'))}")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise FetchError("oidc: discovery document has no jwks_uri")
        except FetchError as exc:
            self.last_error = str(exc)
            log.error("oidc authenticator: initializing plugin: %s", exc)
            return False
        self.jwks_uri = jwks_uri
        try:
            self.refresh(force=True)
        except FetchError as exc:           # tokens will try again, rate-limited
            log.warning("oidc authenticator: %s: fetching keys: %s", self.issuer, exc)
        self._initialized.set()             # after the first keys: no needless refetch
        return True

    def refresh(self, force: bool = False) -> bool:
        """Fetch the keys again unless that was done less than ``refetch_seconds`` ago (or
        another caller is doing it); whether a fetch happened.  FetchError if it failed."""
        with self._refetch:
            now = self.clock()
            if not force and self._fetched_at is not None \
                    and now - self._fetched_at < self.refetch_seconds:
                return False
            self._fetched_at = now
            document = self._get(self.jwks_uri, what="oidc: get keys failed")
            self.keys = tuple(parse_jwks(document))
            return True

    def _get(self, url: str, what: str = "") -> object:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout,
                                        context=self.context) as resp:
                body = resp.read(MAX_BODY)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{what + ': ' if what else ''}{exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FetchError(f"Get {json.dumps(url)}: {reason}") from None
        try:
            return json.loads(body)
        except ValueError as exc:
            thing = "keys" if what else "provider discovery object"
            raise FetchError(f"oidc: failed to decode {thing}: {exc}") from None
