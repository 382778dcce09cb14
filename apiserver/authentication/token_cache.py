"""A cache in front of the token union (upstream kubernetes/apiserver:pkg/authentication/
token/cache/cached_token_authenticator.go): successes are kept for a short TTL (10 s in
kube-apiserver), failures for their own TTL (0: not kept).

Entries are keyed by an HMAC of the audiences and the token under a key made per process,
never the token itself, so the cache holds nothing a memory dump could replay.  Service-
account tokens are re-checked against the live ServiceAccount at most once per TTL, as
upstream.

May import: apiserver.authentication, apiserver.runtime.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time

from apiserver.authentication.base import AuthenticationError, TokenAuthenticator
from apiserver.runtime.expiring import ExpiringLRU

MAX_ENTRIES = 4096


class TokenCache(TokenAuthenticator):
    name = "token-cache"

    def __init__(self, inner: TokenAuthenticator, success_ttl: float = 10.0,
                 failure_ttl: float = 0.0, clock=time.monotonic, max_entries: int = MAX_ENTRIES):
        self.inner = inner
        self.success_ttl = float(success_ttl)
        self.failure_ttl = float(failure_ttl)
        self.clock = clock
        self.max_entries = max_entries
        self._key = os.urandom(32)
        self._entries = ExpiringLRU(max_entries, clock)   # digest → (response, error)

    def _digest(self, token: str, audiences) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for audience in audiences:
            mac.update(audience.encode() + b"\0")
        mac.update(b"\1" + token.encode())
        return mac.digest()

    def _fresh(self, digest: bytes):
        """(response, error) of a live entry, else None."""
        return self._entries.get(digest)

    def has_fresh(self, token: str, audiences) -> bool:
        """Whether answering ``token`` needs no call to the authenticators behind."""
        return self._fresh(self._digest(token, audiences)) is not None

    def authenticate_token(self, token, audiences):
        digest = self._digest(token, audiences)
        entry = self._fresh(digest)
        if entry is not None:
            if entry[1] is not None:
                raise AuthenticationError(entry[1])
            return entry[0]
        try:
            response = self.inner.authenticate_token(token, audiences)
        except AuthenticationError as err:
            self._store(digest, self.failure_ttl, None, str(err))
            raise
        if response is not None:
            self._store(digest, self.success_ttl, response, None)
        return response

    def _store(self, digest, ttl, response, error) -> None:
        self._entries.add(digest, (response, error), ttl)
