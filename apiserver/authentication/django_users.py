"""Django users as BasicAuth users (``--django-user-auth``, this server's own flag, default on).

The check is that of Django's ``ModelBackend.authenticate`` (django/contrib/auth/
backends.py): the user is found by its natural key (the username), ``check_password`` runs
the configured hashers (and upgrades an outdated hash, as Django does), an unknown user
costs one hash too (no timing hint that the name exists), and an inactive user is refused
(``user_can_authenticate``).  Identity: name = the username, uid = the primary key, groups =
the names of the user's Django groups, re-read on every request.

A hash costs ~100 ms (PBKDF2), so a success is remembered for a short TTL under an HMAC
of the username and password (a per-process random key; the password itself is never
kept).  A remembered success is re-checked against the user's current row at every use —
same password hash, same username, still active — so a password change, a deactivation or
a deletion takes effect at once, and group changes are seen immediately.  Failures are
not remembered: every wrong password costs a full hash.

Runs on a request thread (the BasicAuth authenticator asks for I/O): it reads the database.
Off when ``django.contrib.auth`` is not an installed app.

May import: apiserver.authentication, django.apps, django.contrib.auth.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from apiserver.authentication.user import UserInfo

MAX_ENTRIES = 1024


@dataclass(frozen=True)
class _Remembered:
    expires: float
    pk: object
    password_hash: str


def _can_authenticate(user) -> bool:
    # custom user models without the field count as active, as ModelBackend
    return getattr(user, "is_active", True) is not False


def _group_names(user) -> tuple:
    groups = getattr(user, "groups", None)
    if groups is None:
        return ()
    return tuple(groups.order_by("name").values_list("name", flat=True))


class DjangoUsers:
    """Password authentication against Django's user model, with a success cache."""

    name = "django-users"

    def __init__(self, ttl: float = 10.0, clock=time.monotonic, max_entries: int = MAX_ENTRIES):
        self.ttl = float(ttl)
        self.clock = clock
        self.max_entries = max_entries
        self._key = os.urandom(32)
        self._remembered: OrderedDict = OrderedDict()   # HMAC → _Remembered
        self._lock = threading.Lock()

    def _digest(self, username: str, password: str) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        name = username.encode("utf-8", "surrogatepass")
        # length-prefixed: ("ab", "c") and ("a", "bc") never share a key
        mac.update(len(name).to_bytes(8, "big") + name)
        mac.update(password.encode("utf-8", "surrogatepass"))
        return mac.digest()

    def _recall(self, digest: bytes) -> _Remembered | None:
        with self._lock:
            entry = self._remembered.get(digest)
            if entry is not None and entry.expires <= self.clock():
                del self._remembered[digest]
                entry = None
            return entry

    def _remember(self, digest: bytes, user) -> None:
        if self.ttl <= 0:
            return
        now = self.clock()
        with self._lock:
            self._remembered[digest] = _Remembered(now + self.ttl, user.pk, user.password)
            self._remembered.move_to_end(digest)
            while len(self._remembered) > self.max_entries:
                self._remembered.popitem(last=False)

    def _forget(self, digest: bytes) -> None:
        with self._lock:
            self._remembered.pop(digest, None)

    @staticmethod
    def _identity(user) -> UserInfo:
        return UserInfo(name=user.get_username(), uid=str(user.pk), groups=_group_names(user))

    def _still_valid(self, entry: _Remembered, username: str):
        """The user of a remembered success if its row is unchanged, else None."""
        from django.contrib.auth import get_user_model

        model = get_user_model()
        user = model._default_manager.filter(pk=entry.pk).first()
        if user is None or user.get_username() != username or not _can_authenticate(user):
            return None
        if not hmac.compare_digest(user.password or "", entry.password_hash or ""):
            return None
        return user

    def _check(self, username: str, password: str):
        """Django's full check: the user, or None for an unknown user, a wrong password or
        an inactive user."""
        from django.contrib.auth import get_user_model

        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            model().set_password(password)   # as long as a real check (ModelBackend)
            return None
        if not user.check_password(password) or not _can_authenticate(user):
            return None
        return user

    def authenticate_password(self, username: str, password: str) -> UserInfo | None:
        """The Django user ``username`` if ``password`` is theirs and they are active, else
        None.  Reads the database."""
        digest = self._digest(username, password)
        entry = self._recall(digest)
        if entry is not None:
            user = self._still_valid(entry, username)
            if user is not None:
                return self._identity(user)
            self._forget(digest)
        user = self._check(username, password)
        if user is None:
            return None
        self._remember(digest, user)
        return self._identity(user)


def installed() -> bool:
    """Whether ``django.contrib.auth`` is an installed app (its models can be used)."""
    from django.apps import apps

    return apps.is_installed("django.contrib.auth")


def from_options(options) -> DjangoUsers | None:
    """On with ``--django-user-auth`` (default true) when Django's auth app is installed;
    successes are remembered for ``--token-success-cache-ttl`` (default 10 s)."""
    if not options.django_user_auth or not installed():
        return None
    return DjangoUsers(ttl=options.token_success_cache_ttl)
