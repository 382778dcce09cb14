"""BasicAuth: ``Authorization: Basic base64(user:password)`` checked against the users of
``--basic-auth-file`` (CSV ``password,user,uid[,"g1,g2"]``) and, with ``--django-user-auth``,
Django's users (:mod:`.django_users`).  Upstream, removed in 1.19: kubernetes/apiserver:
plugin/pkg/authenticator/request/basicauth/basicauth.go over plugin/pkg/authenticator/
password/passwordfile/passwordfile.go.

* The header is parsed as Go's ``Request.BasicAuth``: the scheme ``Basic`` in any case,
  standard base64 with padding, user and password split at the first ``:``.
* The file's users first (a later record of the same name wins, with a warning), then
  Django's.  A password that matches neither is "invalid username/password combination"
  (401), as upstream.
* Stricter than upstream on purpose: a ``Basic`` header that is not valid base64, has no
  ``:`` or is sent twice is a 401 where upstream sees no credential (anonymous).
* File passwords are kept as HMACs under a per-process key and compared in constant time;
  an unknown user costs the same compare.

The Authorization header is removed after authentication whoever succeeded, so handlers
and proxies never see the password (also when no bearer authenticator is configured to
remove it).

May import: apiserver.authentication.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os

from apiserver.authentication import django_users
from apiserver.authentication.base import AuthenticationError, Authenticator
from apiserver.authentication.csvfile import read_records
from apiserver.authentication.request import header_values, remove_headers
from apiserver.authentication.user import UserInfo

log = logging.getLogger("apiserver.authentication")

INVALID = "invalid username/password combination"
MALFORMED = "invalid basic auth header"


def _basic_values(scope) -> list[str]:
    """The credentials part of every ``Authorization: Basic`` header ("" when absent)."""
    found = []
    for value in header_values(scope, "authorization"):
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "basic":
            found.append(rest.strip())
    return found


def has_basic(scope) -> bool:
    return bool(_basic_values(scope))


def basic_credentials(scope) -> tuple[str, str] | None:
    """(user, password) of the request's Basic header; None without one; raise
    :class:`AuthenticationError` for a malformed header or more than one."""
    values = _basic_values(scope)
    if not values:
        return None
    if len(values) > 1:
        raise AuthenticationError(MALFORMED)
    try:
        decoded = base64.b64decode(values[0], validate=True).decode("utf-8")
    except (binascii.Error, ValueError):   # bad base64, or not UTF-8
        raise AuthenticationError(MALFORMED) from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise AuthenticationError(MALFORMED)
    return username, password


class PasswordFile:
    """The users of a ``--basic-auth-file``."""

    name = "password-file"

    def __init__(self, records):
        """``records``: :class:`~.csvfile.Record` s (password in ``secret``), file order."""
        self._key = os.urandom(32)
        self._users = {r.name: (self._mac(r.secret), r) for r in records}
        # the MAC an unknown user is compared with, so it costs what a known one does
        self._nobody = self._mac(os.urandom(16).hex())

    @classmethod
    def from_file(cls, path: str) -> "PasswordFile":
        """The users of ``path``; ValueError (file and line) when it cannot be used."""
        records, seen = read_records(path, "password file", "password"), set()
        for record in records:
            if record.name in seen:
                log.warning("duplicate username %r has been found in password file %r, "
                            "line %d", record.name, path, record.line)
            seen.add(record.name)
        return cls(records)

    def _mac(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()

    def __len__(self) -> int:
        return len(self._users)

    def authenticate_password(self, username: str, password: str) -> UserInfo | None:
        """The file's user ``username`` when ``password`` is theirs, else None."""
        expected, record = self._users.get(username, (self._nobody, None))
        matches = hmac.compare_digest(self._mac(password), expected)
        return record.user() if matches and record is not None else None


class BasicAuthenticator(Authenticator):
    name = "basic"

    def __init__(self, sources):
        """``sources``: password authenticators (``authenticate_password``), in order."""
        self.sources = tuple(sources)
        self._io = any(isinstance(s, django_users.DjangoUsers) for s in self.sources)

    def authenticate(self, scope) -> UserInfo | None:
        credentials = basic_credentials(scope)
        if credentials is None:
            return None
        username, password = credentials
        for source in self.sources:
            user = source.authenticate_password(username, password)
            if user is not None:
                return user
        raise AuthenticationError(INVALID)

    def needs_io(self, scope) -> bool:
        """Django users are read from the database (and hashed): a request thread then."""
        return self._io and has_basic(scope)

    def strip(self, scope) -> None:
        if has_basic(scope):
            remove_headers(scope, names=("authorization",))


def from_options(deps) -> BasicAuthenticator | None:
    """On with ``--basic-auth-file`` (read now: ValueError, no start) or Django users."""
    options = deps.options
    sources = []
    if options.basic_auth_file:
        passwords = PasswordFile.from_file(options.basic_auth_file)
        log.info("password file %r: %d users", options.basic_auth_file, len(passwords))
        sources.append(passwords)
    django = django_users.from_options(options)
    if django is not None:
        sources.append(django)
    return BasicAuthenticator(sources) if sources else None
