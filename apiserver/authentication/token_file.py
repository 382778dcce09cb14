"""Static bearer tokens of ``--token-auth-file`` (upstream kubernetes/apiserver:plugin/pkg/
authenticator/token/tokenfile/tokenfile.go).

The file (``token,user,uid[,"g1,g2"]``, read by :mod:`.csvfile`) is read once at start, as
upstream: a bad file stops the server, and a changed file needs a restart.  A record with an
empty token is skipped with a warning; when a token appears twice the later record wins,
with a warning.  Warnings name the line, never the token.

Tokens are not kept: the table is keyed by their SHA-256, so a lookup compares digests and
its timing tells nothing about the token (upstream scans every entry with
``subtle.ConstantTimeCompare`` for the same reason).  An unknown token is "not mine"; the
bearer authenticator makes it a 401.  The tokens know no audiences: ``mechanisms`` wraps
this authenticator as audience-agnostic.

May import: apiserver.authentication.
"""
from __future__ import annotations

import hashlib
import logging

from apiserver.authentication.base import TokenAuthenticator, TokenResponse
from apiserver.authentication.csvfile import Record, read_records

log = logging.getLogger("apiserver.authentication")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenFileAuthenticator(TokenAuthenticator):
    name = "token-file"

    def __init__(self, records):
        """``records``: :class:`~.csvfile.Record` s (token in ``secret``), in file order."""
        self._users = {_digest(r.secret): r for r in records}

    @classmethod
    def from_file(cls, path: str) -> "TokenFileAuthenticator":
        """The tokens of ``path``; ValueError (file and line) when it cannot be used."""
        kept, seen = [], set()
        for record in read_records(path, "token file", "token"):
            if not record.secret:
                log.warning("empty token has been found in token file %r, line %d",
                            path, record.line)
                continue
            digest = _digest(record.secret)
            if digest in seen:
                log.warning("duplicate token has been found in token file %r, line %d",
                            path, record.line)
            seen.add(digest)
            kept.append(record)
        return cls(kept)

    def __len__(self) -> int:
        return len(self._users)

    def authenticate_token(self, token, audiences):
        """The file's user of ``token``, or None for a token the file does not hold."""
        record: Record | None = self._users.get(_digest(token))
        if record is None:
            return None
        return TokenResponse(record.user())


def from_options(deps) -> TokenFileAuthenticator | None:
    """On with ``--token-auth-file``; the file is read now (ValueError: no start)."""
    path = deps.options.token_auth_file
    if not path:
        return None
    authenticator = TokenFileAuthenticator.from_file(path)
    log.info("token file %r: %d tokens", path, len(authenticator))
    return authenticator
