"""Authentication and authorization delegated to the API server, as extension servers do.

Upstream: k8s.io/apiserver pkg/authentication/authenticatorfactory/delegating.go (x509
client certificates, the front proxy's request headers, bearer tokens by TokenReview) and
pkg/authorization/authorizerfactory/delegating.go (SubjectAccessReview, answers cached 10 s
allowed and 10 s denied), with the defaults of pkg/server/options/authentication.go and
authorization.go: paths ``/healthz``, ``/readyz`` and ``/livez`` and the group
``system:masters`` are always allowed.  Anonymous requests are refused (the kubelet's
hardened default, and failing closed for both users of this module).

``User`` is who asks; ``Attributes`` what they ask for (a resource request or a path).  A
token is kept in memory only as its SHA-256 and is never logged.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

from apiserver.client import ApiError

log = logging.getLogger(__name__)

CACHE_TTL = 10.0                    # TokenReview and SubjectAccessReview answers (defaults)
ALWAYS_ALLOW_PATHS = ("/healthz", "/readyz", "/livez")
ALWAYS_ALLOW_GROUPS = ("system:masters",)


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple = ()
    uid: str = ""
    extra: tuple = ()              # ((key, (values…)), …), hashable for the caches

    def extra_dict(self) -> dict:
        return {k: list(v) for k, v in self.extra}


@dataclass(frozen=True)
class Attributes:
    """A resource request (``resource`` set) or a non-resource one (``path``)."""

    verb: str
    path: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


@dataclass
class RequestHeaderConfig:
    """The front proxy's settings (the extension-apiserver-authentication ConfigMap's
    requestheader-* keys, or flags)."""

    ca_file: str = ""
    allowed_names: tuple = ()
    username_headers: tuple = ("X-Remote-User",)
    group_headers: tuple = ("X-Remote-Group",)
    extra_prefixes: tuple = ("X-Remote-Extra-",)


def _load_ca(path: str) -> list:
    if not path:
        return []
    from cryptography import x509     # only servers with a front proxy need it (memory)
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def _issued_by(der: bytes, cas: list) -> bool:
    from cryptography import x509
    cert = x509.load_der_x509_certificate(der)
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except Exception:          # another issuer, or a signature that does not verify
            continue
    return False


def _names(subject: list[dict], attribute: str) -> list[str]:
    """Values of ``attribute`` (``commonName``, ``organizationName``) in an ``ssl``-decoded
    subject."""
    return [rdn[attribute] for rdn in subject if attribute in rdn]


class DelegatedAuthenticator:
    """``await authenticate(headers, peer)`` → ``User`` or None (401)."""

    def __init__(self, client, client_ca_file: str = "",
                 requestheader: RequestHeaderConfig | None = None, clock=time.monotonic,
                 token_ttl: float = CACHE_TTL):
        self.client = client
        self.token_ttl = token_ttl
        self.client_ca_file = client_ca_file
        self.requestheader = requestheader or RequestHeaderConfig()
        self.front_proxy_cas = _load_ca(self.requestheader.ca_file)
        # the client CA's certificates are needed only to tell its certificates from the
        # front proxy's (two pools); alone, the TLS handshake has verified them already
        self.client_cas = _load_ca(client_ca_file) if self.front_proxy_cas else []
        self.clock = clock
        self._tokens: dict[str, tuple[float, User | None]] = {}

    async def authenticate(self, headers: dict[str, list[str]], peer: dict | None):
        """``headers``: lower-cased names → values; ``peer``: the TLS layer's verified
        client certificate (``client_cert_der``, ``client_subject``) or None.  Order as
        upstream's union: request header (front proxy), x509, bearer token.  With one CA
        pool the handshake's verification tells the issuer; with both, the signature does."""
        if peer and peer.get("client_cert_der"):
            der, subject = peer["client_cert_der"], peer.get("client_subject") or []
            from_proxy = bool(self.front_proxy_cas) and _issued_by(der, self.front_proxy_cas)
            if from_proxy:
                user = self._from_request_headers(subject, headers)
                if user is not None:
                    return user
            elif self.client_ca_file and (not self.front_proxy_cas or
                                          _issued_by(der, self.client_cas)):
                cn = _names(subject, "commonName")
                if cn and cn[0]:
                    return User(cn[0], tuple(_names(subject, "organizationName")))
        auth = (headers.get("authorization") or [""])[0]
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return await self._token(token.strip())
        return None

    def _from_request_headers(self, subject, headers) -> User | None:
        cfg = self.requestheader
        cn = (_names(subject, "commonName") or [""])[0]
        if cfg.allowed_names and cn not in cfg.allowed_names:
            return None
        name = next((v for h in cfg.username_headers for v in headers.get(h.lower(), []) if v),
                    "")
        if not name:
            return None
        groups = tuple(v for h in cfg.group_headers for v in headers.get(h.lower(), []))
        extra: dict[str, list[str]] = {}
        for key, values in headers.items():
            for prefix in cfg.extra_prefixes:
                if key.startswith(prefix.lower()):
                    extra.setdefault(unquote(key[len(prefix):]), []).extend(values)
        return User(name, groups, "", tuple(sorted((k, tuple(v)) for k, v in extra.items())))

    async def _token(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        hit = self._tokens.get(key)
        now = self.clock()
        if hit and hit[0] > now:
            return hit[1]
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "spec": {"token": token}}
        try:
            out = await self.client.create("/apis/authentication.k8s.io/v1/tokenreviews",
                                           review)
        except (ApiError, OSError, TimeoutError) as exc:
            log.warning("TokenReview failed: %s", type(exc).__name__)
            return None                     # not cached: the next request asks again
        status = out.get("status") or {}
        user = None
        if status.get("authenticated"):
            u = status.get("user") or {}
            user = User(u.get("username") or "", tuple(u.get("groups") or ()), u.get("uid") or "",
                        tuple(sorted((k, tuple(v)) for k, v in (u.get("extra") or {}).items())))
        if len(self._tokens) > 4096:
            self._tokens.clear()
        self._tokens[key] = (now + self.token_ttl, user)
        return user


class ReviewError(Exception):
    """A SubjectAccessReview that could not be made: upstream callers answer 500 (the
    kubelet's ``Authorization error (…)``, the generic filter's InternalError), not 403."""


@dataclass
class DelegatedAuthorizer:
    """``await allowed(user, attrs)`` → (bool, reason) by SubjectAccessReview; raises
    ``ReviewError`` when the API server gives no answer (not cached: the next request
    asks again)."""

    client: object
    always_allow_paths: tuple = ALWAYS_ALLOW_PATHS
    always_allow_groups: tuple = ALWAYS_ALLOW_GROUPS
    clock: object = time.monotonic
    allow_ttl: float = CACHE_TTL
    deny_ttl: float = CACHE_TTL
    _cache: dict = field(default_factory=dict)

    async def allowed(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        if not attrs.is_resource and attrs.path in self.always_allow_paths:
            return True, ""
        if any(g in self.always_allow_groups for g in user.groups):
            return True, ""
        key = (user, attrs)
        now = self.clock()
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1], hit[2]
        spec = {"user": user.name, "groups": list(user.groups)}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = user.extra_dict()
        if attrs.is_resource:
            spec["resourceAttributes"] = {k: v for k, v in (
                ("namespace", attrs.namespace), ("verb", attrs.verb), ("group", attrs.group),
                ("version", attrs.version), ("resource", attrs.resource),
                ("subresource", attrs.subresource), ("name", attrs.name)) if v}
        else:
            spec["nonResourceAttributes"] = {"path": attrs.path, "verb": attrs.verb}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": spec}
        try:
            out = await self.client.create(
                "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        except (ApiError, OSError, TimeoutError) as exc:
            log.warning("SubjectAccessReview failed: %s", type(exc).__name__)
            raise ReviewError(f"SubjectAccessReview failed: {type(exc).__name__}") from exc
        status = out.get("status") or {}
        answer = (bool(status.get("allowed")) and not status.get("denied"),
                  status.get("reason") or "")
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = (now + (self.allow_ttl if answer[0] else self.deny_ttl), *answer)
        return answer


def header_map(scope) -> dict[str, list[str]]:
    """An ASGI scope's headers as lower-cased name → values."""
    out: dict[str, list[str]] = {}
    for k, v in scope.get("headers") or []:
        out.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
    return out


def peer(scope) -> dict | None:
    """The TLS layer's verified client certificate of the request (``https.py``)."""
    return (scope.get("extensions") or {}).get("tls") or None
